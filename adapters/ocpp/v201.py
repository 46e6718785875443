"""OCPP 2.0.1 requests → canonical points.

- ``MeterValues``: one ``charger_meter`` point per meter value (connector = ``evseId``, 0 is
  the main meter); values are numbers in ``unitOfMeasure {unit, multiplier}`` (a power of ten).
- ``StatusNotification``: ``charger_status`` with ``status`` = ``connectorStatus``; the
  ``connector`` tag is the EVSE (as in ``MeterValues``), the connector of that EVSE is the
  ``evse_connector`` field.
- ``TransactionEvent``: ``charger_session`` (``session_id`` = ``transactionId``, ``event`` =
  ``started`` / ``updated`` / ``ended``, ``meter_wh`` = the latest energy register among its
  meter values) and its ``meterValue`` as ``charger_meter`` points with ``transaction_id``. The
  ``evse`` is only sent in the first event that knows it: later events have no ``connector``
  tag. An ``Ended`` event without ``stoppedReason`` means ``Local`` (2.0.1 E06).
- ``Heartbeat`` / ``BootNotification``: ``charger_heartbeat`` at the hub's clock.
"""

from __future__ import annotations

from adapters.ocpp.measurands import canonical_sample
from adapters.ocpp.models import (
    BootNotification201,
    Heartbeat,
    MeterValue201,
    MeterValues201,
    StatusNotification201,
    TransactionEvent201,
)
from adapters.ocpp.translation import (
    CHARGER_HEARTBEAT,
    CHARGER_METER,
    CHARGER_SESSION,
    CHARGER_STATUS,
    CHARGER_TRANSACTION_METER,
    Action,
    PointSet,
    Station,
    merge_field,
)
from adapters.ocpp.v16 import heartbeat
from hub.errors import Rejected
from hub.points import FieldValue

__all__ = ["ACTIONS", "VERSION"]

VERSION = "2.0.1"
_REGISTER = "energy_import_wh"  # the field a session's meter_wh is read from


def add_meter_values(
    meter_values: list[MeterValue201],
    tags: dict[str, str],
    transaction_id: str | None,
    station: Station,
    out: PointSet,
    measurement: str = CHARGER_METER,
) -> float | None:
    """Add the meter values; return the energy register (Wh) of the latest one that has it."""
    register: tuple[int, float] | None = None
    for meter_value in meter_values:
        time_ns = station.time.to_ns(meter_value.timestamp)
        fields: dict[str, FieldValue] = {}  # the meter value's readings: one point
        for sample in meter_value.sampled_value:
            unit = sample.unit_of_measure
            try:
                name, value = canonical_sample(
                    sample.measurand,
                    sample.phase,
                    sample.location,
                    sample.value,
                    unit.unit,
                    unit.multiplier,
                )
            except Rejected as error:  # this sample only: the others are read
                out.refuse(f"sampled value {sample.measurand} {sample.phase or ''}".rstrip(), error)
                continue
            merge_field(fields, name, value, measurement, time_ns)
            if name == _REGISTER and (register is None or time_ns >= register[0]):
                register = (time_ns, value)
        if transaction_id is not None:
            fields["transaction_id"] = transaction_id
        if fields:
            out.add(measurement, tags, time_ns, fields)
    return None if register is None else register[1]


def meter_values(message: MeterValues201, station: Station, out: PointSet) -> None:
    add_meter_values(
        message.meter_value, station.connector_tags(message.evse_id), None, station, out
    )


def status_notification(message: StatusNotification201, station: Station, out: PointSet) -> None:
    fields: dict[str, FieldValue] = {
        "status": message.connector_status,
        "evse_connector": str(message.connector_id),
        "ocpp_version": VERSION,
    }
    tags = station.connector_tags(message.evse_id)
    out.add(CHARGER_STATUS, tags, station.time.to_ns(message.timestamp), fields)


def transaction_event(message: TransactionEvent201, station: Station, out: PointSet) -> None:
    info = message.transaction_info
    tags = station.connector_tags(None if message.evse is None else message.evse.id)
    # Only the first event of a transaction must name its EVSE: readings of the later ones
    # belong to a connector we cannot tell, so they go apart (see CHARGER_TRANSACTION_METER).
    measurement = CHARGER_METER if message.evse is not None else CHARGER_TRANSACTION_METER
    meter_wh = add_meter_values(
        message.meter_value or [], tags, info.transaction_id, station, out, measurement
    )
    fields: dict[str, FieldValue] = {
        "session_id": info.transaction_id,
        "event": message.event_type.lower(),
        "trigger_reason": message.trigger_reason,
    }
    if meter_wh is not None:
        fields["meter_wh"] = meter_wh
    if info.charging_state is not None:
        fields["charging_state"] = info.charging_state
    if info.stopped_reason is not None or message.event_type == "Ended":
        fields["stop_reason"] = info.stopped_reason or "Local"
    if message.id_token is not None:
        fields["id_tag"] = message.id_token.id_token
    out.add(CHARGER_SESSION, tags, station.time.to_ns(message.timestamp), fields)


def boot_notification(message: BootNotification201, station: Station, out: PointSet) -> None:
    charging_station = message.charging_station
    fields: dict[str, FieldValue] = {
        "alive": True,
        "boot_vendor": charging_station.vendor_name,
        "boot_model": charging_station.model,
        "boot_reason": message.reason,
    }
    if charging_station.firmware_version is not None:
        fields["firmware"] = charging_station.firmware_version
    out.add(CHARGER_HEARTBEAT, station.tags, station.now_ns(), fields)


ACTIONS: dict[str, Action] = {
    "MeterValues": Action(MeterValues201, meter_values),
    "StatusNotification": Action(StatusNotification201, status_notification),
    "TransactionEvent": Action(TransactionEvent201, transaction_event),
    "Heartbeat": Action(Heartbeat, heartbeat),
    "BootNotification": Action(BootNotification201, boot_notification),
}
