"""EV chargers speaking OCPP-J 1.6 or 2.0.1, one frame per message on ``ocpp/cp/<id>``.

The charge point id is the topic's last level and must be in the device registry (its static
tags, ``site`` and ``district``, go on every point with ``device``). Only CALL frames are read
(see :mod:`adapters.ocpp.frame`); each supported action has a payload model and a translator
per version (:mod:`adapters.ocpp.v16`, :mod:`adapters.ocpp.v201`).

Which version a message is, in this order:

1. the ``versions`` option, charge point id → ``"1.6"`` | ``"2.0.1"``, when it names the
   charge point (an action that version lacks is then ``unsupported_action``);
2. an action that exists in one version only: ``StartTransaction`` and ``StopTransaction`` are
   1.6, ``TransactionEvent`` is 2.0.1;
3. for an action both versions have, the key only 2.0.1 sends (:data:`VERSION_MARKERS`):
   ``MeterValues`` with ``evseId`` (1.6: ``connectorId``), ``StatusNotification`` with
   ``connectorStatus`` (1.6: ``status``), ``BootNotification`` with ``chargingStation``;
   otherwise 1.6. ``Heartbeat`` is the same in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapters.ocpp import v16, v201
from adapters.ocpp.frame import parse_call
from adapters.ocpp.translation import Action, PointSet, Station
from hub.contracts import AdapterEnv
from hub.devices import check_id
from hub.errors import ConfigError, Rejected
from hub.points import Point
from hub.topics import TopicFilter
from hub.validation import validate_python

__all__ = ["ACTIONS", "VERSION_MARKERS", "OcppAdapter"]

ACTIONS: dict[str, dict[str, Action]] = {v16.VERSION: v16.ACTIONS, v201.VERSION: v201.ACTIONS}
VERSION_MARKERS: dict[str, str] = {
    "MeterValues": "evseId",
    "StatusNotification": "connectorStatus",
    "BootNotification": "chargingStation",
}
_OPTIONS = {"topic", "versions"}


class OcppAdapter:
    """:class:`hub.contracts.Adapter` for OCPP-J frames. Options: ``topic`` (a filter whose
    last level is the charge point id, default ``ocpp/cp/+``) and ``versions`` (charge point id
    → ``"1.6"`` or ``"2.0.1"``, for stations whose version should not be guessed)."""

    name = "ocpp"

    def __init__(self, options: Mapping[str, object], env: AdapterEnv) -> None:
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ConfigError(f"adapter ocpp option {sorted(unknown)[0]}", "unknown option")
        topic = options.get("topic", "ocpp/cp/+")
        if not isinstance(topic, str) or not topic.endswith("/+"):
            raise ConfigError("adapter ocpp option topic", "must be a filter ending in '/+'")
        self.topics: Sequence[TopicFilter] = (TopicFilter(topic),)
        self._versions = _versions_option(options.get("versions", {}))
        self._env = env

    def parse(self, topic: str, payload: bytes) -> list[Point]:
        device = check_id(topic.rpartition("/")[2], "charge point id")
        station = Station(
            device, {**self._env.devices.lookup(device), "device": device}, self._env.time
        )
        call = parse_call(payload)
        if call.action in WITHOUT_TELEMETRY:
            return []
        action = self._action(device, call.action, call.payload)
        message = validate_python(action.model, call.payload)
        out = PointSet()
        action.translate(message, station, out)
        return out.points()

    def _action(self, device: str, name: str, payload: Mapping[str, object]) -> Action:
        version = self._versions.get(device)
        if version is None:
            defined_in = [v for v, actions in ACTIONS.items() if name in actions]
            if len(defined_in) == 1:
                version = defined_in[0]
            else:
                marker = VERSION_MARKERS.get(name)
                version = v201.VERSION if marker is not None and marker in payload else v16.VERSION
        action = ACTIONS[version].get(name)
        if action is None:
            raise Rejected(
                "unsupported_action", f"OCPP {version} action {name[:40]!r} is not read by the hub"
            )
        return action


# Requests a charge point sends in the normal course of business that carry no telemetry
# (OCPP 1.6 and 2.0.1): skipped, not dead letters, or every badge swipe (Authorize) and every
# vendor message (DataTransfer) would bury the real rejections. Any other name is rejected.
WITHOUT_TELEMETRY = frozenset(
    {
        "Authorize", "DataTransfer", "DiagnosticsStatusNotification",
        "FirmwareStatusNotification", "LogStatusNotification", "SecurityEventNotification",
        "SignCertificate", "Get15118EVCertificate", "GetCertificateStatus", "NotifyEvent",
        "NotifyReport", "NotifyMonitoringReport", "NotifyCustomerInformation",
        "NotifyDisplayMessages", "NotifyChargingLimit", "ClearedChargingLimit",
        "NotifyEVChargingNeeds", "NotifyEVChargingSchedule", "PublishFirmwareStatusNotification",
        "ReportChargingProfiles", "ReservationStatusUpdate",
    }
)  # fmt: skip


def _versions_option(value: object) -> dict[str, str]:
    setting = "adapter ocpp option versions"
    if not isinstance(value, Mapping):
        raise ConfigError(setting, "must map charge point ids to '1.6' or '2.0.1'")
    versions: dict[str, str] = {}
    for device, version in value.items():
        if not isinstance(device, str) or not _is_id(device):
            raise ConfigError(setting, f"{device!r} is not a valid charge point id")
        if not isinstance(version, str) or version not in ACTIONS:
            raise ConfigError(
                setting, f"{device}: version {version!r} is not one of {list(ACTIONS)}"
            )
        versions[device] = version
    return versions


def _is_id(value: str) -> bool:
    try:
        check_id(value, "charge point id")
    except Rejected:
        return False
    return True
