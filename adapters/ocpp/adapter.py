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

A central system's reply (CALLRESULT, CALLERROR: the hub's OCPP gateway publishes its own
after each CALL) is skipped, except the CALLRESULT of a 1.6 StartTransaction this adapter
read, which gives that session its transactionId (:mod:`adapters.ocpp.starts`).

MeterValues read in part: a sampled value that cannot be read (a unit that does not fit its
measurand, a value that is not a number) is refused on its own, with the measurand in the
dead letter's detail, and the meter value's other samples are stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

from pydantic import AfterValidator, Field

from adapters.ocpp import v16, v201
from adapters.ocpp.frame import Reply, parse_frame
from adapters.ocpp.starts import PendingStarts
from adapters.ocpp.translation import Action, PointSet, Station
from hub.adapter_options import AdapterOptions, IdFilter, read_options
from hub.contracts import AdapterEnv, Parsed
from hub.devices import check_id
from hub.errors import Rejected
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


def _station_versions(value: dict[str, str]) -> dict[str, str]:
    for device, version in value.items():
        if not _is_id(device):
            raise ValueError(f"{device!r} is not a valid charge point id")
        if version not in ACTIONS:
            raise ValueError(f"{device}: version {version!r} is not one of {list(ACTIONS)}")
    return value


class OcppOptions(AdapterOptions):
    topic: IdFilter = "ocpp/cp/+"
    # charge point id → "1.6" or "2.0.1", for stations whose version should not be guessed
    versions: Annotated[dict[str, str], AfterValidator(_station_versions)] = Field(
        default_factory=dict
    )


class OcppAdapter:
    """:class:`hub.contracts.Adapter` for OCPP-J frames. Options: ``topic`` (a filter whose
    last level is the charge point id, default ``ocpp/cp/+``) and ``versions`` (charge point id
    → ``"1.6"`` or ``"2.0.1"``, for stations whose version should not be guessed)."""

    name = "ocpp"

    def __init__(self, options: Mapping[str, object], env: AdapterEnv) -> None:
        chosen = read_options(OcppOptions, self.name, options)
        self.topics: Sequence[TopicFilter] = (TopicFilter(chosen.topic),)
        self._versions = dict(chosen.versions)
        self._env = env
        self._starts = PendingStarts()

    def parse(self, topic: str, payload: bytes) -> list[Point]:
        device = check_id(topic.rpartition("/")[2], "charge point id")
        station = Station(
            device, {**self._env.devices.lookup(device), "device": device}, self._env.time
        )
        call = parse_frame(payload)
        if isinstance(call, Reply):
            return self._reply(device, call)
        if call.action in WITHOUT_TELEMETRY:
            return []
        action = self._action(device, call.action, call.payload)
        message = validate_python(action.model, call.payload)
        out = PointSet()
        action.translate(message, station, out)
        points = out.points()
        if out.rejects and not points:
            raise out.rejects[0]  # nothing of the message could be read
        if call.action == "StartTransaction" and action is v16.ACTIONS["StartTransaction"]:
            self._starts.remember((device, call.message_id), points[0])
        return Parsed(points, out.rejects) if out.rejects else points

    def _reply(self, device: str, reply: Reply) -> list[Point]:
        transaction_id = (reply.payload or {}).get("transactionId")
        if type(transaction_id) is not int:
            return []  # a reply that names no 1.6 transaction carries no telemetry
        point = self._starts.resolve((device, reply.message_id), str(transaction_id))
        return [] if point is None else [point]

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


def _is_id(value: str) -> bool:
    try:
        check_id(value, "charge point id")
    except Rejected:
        return False
    return True
