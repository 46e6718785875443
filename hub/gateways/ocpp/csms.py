"""What the gateway answers, as a central system (CSMS) that only needs telemetry.

The ``ocpp`` package's ``ChargePoint`` classes validate every CALL against the specification's
JSON schemas and route it to the ``@on`` handlers below; an action with no handler gets the
CALLERROR the specification names (``NotImplemented`` / ``NotSupported``). The gateway's
reliability rule (publish, then answer) is in :mod:`hub.gateways.ocpp.relay`, which both
classes inherit first.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ocpp.messages
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201

from hub.gateways.ocpp.relay import Relay

__all__ = ["Csms16", "Csms201", "CsmsPolicy", "TransactionIds"]

_EPOCH_2020 = 1_577_836_800

# The package validates each frame in a thread pool by default; a telemetry frame validates in
# well under a millisecond, far less than two thread hops under the GIL cost the reply.
ocpp.messages.ASYNC_VALIDATION = False


class TransactionIds:
    """OCPP 1.6 transaction ids, assigned by the CSMS: an int32 that grows and never repeats
    across restarts as long as fewer than one transaction per second starts on average
    (it starts from the seconds since 2020, which fit an int32 until 2088)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, int(time.time()) - _EPOCH_2020)
            return self._last


@dataclass
class CsmsPolicy:
    """The gateway's answers: heartbeat interval, which idTags it accepts, id counter."""

    heartbeat_interval_s: int = 300
    authorize_all: bool = True
    id_tags: frozenset[str] = frozenset()
    transaction_ids: TransactionIds = field(default_factory=TransactionIds)

    def accepts(self, id_tag: str | None) -> str:
        if self.authorize_all or (id_tag is not None and id_tag in self.id_tags):
            return "Accepted"
        return "Invalid"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Csms16(Relay, ChargePoint16):
    """OCPP 1.6 central system side of one charge point connection."""

    policy: CsmsPolicy

    @on(Action16.boot_notification)
    def on_boot_notification(self, **_: Any) -> result16.BootNotification:
        return result16.BootNotification(_now(), self.policy.heartbeat_interval_s, "Accepted")

    @on(Action16.heartbeat)
    def on_heartbeat(self) -> result16.Heartbeat:
        return result16.Heartbeat(_now())

    @on(Action16.status_notification)
    def on_status_notification(self, **_: Any) -> result16.StatusNotification:
        return result16.StatusNotification()

    @on(Action16.authorize)
    def on_authorize(self, id_tag: str) -> result16.Authorize:
        return result16.Authorize({"status": self.policy.accepts(id_tag)})

    @on(Action16.start_transaction)
    def on_start_transaction(self, id_tag: str, **_: Any) -> result16.StartTransaction:
        return result16.StartTransaction(
            self.policy.transaction_ids.next(), {"status": self.policy.accepts(id_tag)}
        )

    @on(Action16.meter_values)
    def on_meter_values(self, **_: Any) -> result16.MeterValues:
        return result16.MeterValues()

    @on(Action16.stop_transaction)
    def on_stop_transaction(self, id_tag: str | None = None, **_: Any) -> result16.StopTransaction:
        if id_tag is None:
            return result16.StopTransaction()
        return result16.StopTransaction({"status": self.policy.accepts(id_tag)})

    @on(Action16.data_transfer)
    def on_data_transfer(self, **_: Any) -> result16.DataTransfer:
        return result16.DataTransfer("Accepted")


class Csms201(Relay, ChargePoint201):
    """OCPP 2.0.1 central system side of one charging station connection."""

    policy: CsmsPolicy

    @on(Action201.boot_notification)
    def on_boot_notification(self, **_: Any) -> result201.BootNotification:
        return result201.BootNotification(_now(), self.policy.heartbeat_interval_s, "Accepted")

    @on(Action201.heartbeat)
    def on_heartbeat(self, **_: Any) -> result201.Heartbeat:
        return result201.Heartbeat(_now())

    @on(Action201.status_notification)
    def on_status_notification(self, **_: Any) -> result201.StatusNotification:
        return result201.StatusNotification()

    @on(Action201.authorize)
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> result201.Authorize:
        return result201.Authorize({"status": self.policy.accepts(id_token.get("id_token"))})

    @on(Action201.meter_values)
    def on_meter_values(self, **_: Any) -> result201.MeterValues:
        return result201.MeterValues()

    @on(Action201.transaction_event)
    def on_transaction_event(
        self, id_token: dict[str, Any] | None = None, **_: Any
    ) -> result201.TransactionEvent:
        if id_token is None:
            return result201.TransactionEvent()
        return result201.TransactionEvent(
            id_token_info={"status": self.policy.accepts(id_token.get("id_token"))}
        )

    @on(Action201.data_transfer)
    def on_data_transfer(self, **_: Any) -> result201.DataTransfer:
        return result201.DataTransfer("Accepted")
