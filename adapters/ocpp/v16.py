"""OCPP 1.6 requests → canonical points.

- ``MeterValues``: one ``charger_meter`` point per meter value (connector = ``connectorId``);
  sampled values are decimal *strings* in mixed units, each converted through the measurand
  table. ``SignedData`` values are skipped: they are opaque signed blobs (German Eichrecht
  meters send them next to the plain ``Raw`` reading of the same quantity), not numbers, and
  rejecting them would drop every message of such chargers.
- ``StatusNotification``: ``charger_status`` (time: ``timestamp``, or now when omitted).
- ``StartTransaction``: ``charger_session`` ``started``. The transaction id is assigned by the
  central system in its reply, which the bridge does not forward, so the session is named by
  charge point, connector and start time: ``<cp>-<connector>-<start epoch s>``.
- ``StopTransaction``: ``charger_session`` ``ended`` with ``session_id`` = ``transactionId``
  (the frame names no connector, so the point has no ``connector`` tag), and its
  ``transactionData`` as ``charger_transaction_meter`` points (not ``charger_meter``: without
  a connector they would form a second register series that site totals count twice). A stop
  reason left out is ``Local`` (1.6).
- ``Heartbeat`` / ``BootNotification``: ``charger_heartbeat`` at the hub's clock (neither
  payload carries a time).
"""

from __future__ import annotations

from adapters.ocpp.measurands import canonical_sample
from adapters.ocpp.models import (
    BootNotification16,
    Heartbeat,
    MeterValue16,
    MeterValues16,
    StartTransaction16,
    StatusNotification16,
    StopTransaction16,
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
from hub.errors import Rejected
from hub.points import FieldValue
from hub.timestamps import NS_PER_S

__all__ = ["ACTIONS", "VERSION", "add_meter_values", "heartbeat"]

VERSION = "1.6"


def add_meter_values(
    meter_values: list[MeterValue16],
    tags: dict[str, str],
    transaction_id: str | None,
    station: Station,
    out: PointSet,
    measurement: str = CHARGER_METER,
) -> None:
    for meter_value in meter_values:
        time_ns = station.time.to_ns(meter_value.timestamp)
        fields: dict[str, FieldValue] = {}  # the meter value's readings: one point
        for sample in meter_value.sampled_value:
            if sample.format == "SignedData":
                continue  # an opaque signed blob, not a number (see the module docstring)
            try:
                name, value = canonical_sample(
                    sample.measurand,
                    sample.phase,
                    sample.location,
                    float(sample.value),
                    sample.unit,
                )
            except Rejected as error:  # this sample only: the others are read
                out.refuse(f"sampled value {sample.measurand} {sample.phase or ''}".rstrip(), error)
                continue
            merge_field(fields, name, value, measurement, time_ns)
        if fields:
            if transaction_id is not None:
                fields["transaction_id"] = transaction_id
            out.add(measurement, tags, time_ns, fields)


def meter_values(message: MeterValues16, station: Station, out: PointSet) -> None:
    transaction_id = None if message.transaction_id is None else str(message.transaction_id)
    tags = station.connector_tags(message.connector_id)
    add_meter_values(message.meter_value, tags, transaction_id, station, out)


def status_notification(message: StatusNotification16, station: Station, out: PointSet) -> None:
    time_ns = (
        station.now_ns() if message.timestamp is None else station.time.to_ns(message.timestamp)
    )
    fields: dict[str, FieldValue] = {
        "status": message.status,
        "error_code": message.error_code,
        "ocpp_version": VERSION,
    }
    if message.info is not None:
        fields["info"] = message.info
    if message.vendor_error_code is not None:
        fields["vendor_error_code"] = message.vendor_error_code
    out.add(CHARGER_STATUS, station.connector_tags(message.connector_id), time_ns, fields)


def start_transaction(message: StartTransaction16, station: Station, out: PointSet) -> None:
    time_ns = station.time.to_ns(message.timestamp)
    session_id = f"{station.device}-{message.connector_id}-{time_ns // NS_PER_S}"
    fields: dict[str, FieldValue] = {
        "session_id": session_id,
        "event": "started",
        "meter_wh": float(message.meter_start),
        "id_tag": message.id_tag,
    }
    out.add(CHARGER_SESSION, station.connector_tags(message.connector_id), time_ns, fields)


def stop_transaction(message: StopTransaction16, station: Station, out: PointSet) -> None:
    time_ns = station.time.to_ns(message.timestamp)
    transaction_id = str(message.transaction_id)
    fields: dict[str, FieldValue] = {
        "session_id": transaction_id,
        "event": "ended",
        "meter_wh": float(message.meter_stop),
        "stop_reason": message.reason,
    }
    if message.id_tag is not None:
        fields["id_tag"] = message.id_tag
    out.add(CHARGER_SESSION, station.tags, time_ns, fields)
    if message.transaction_data:
        add_meter_values(
            message.transaction_data,
            station.tags,
            transaction_id,
            station,
            out,
            CHARGER_TRANSACTION_METER,
        )


def heartbeat(message: Heartbeat, station: Station, out: PointSet) -> None:
    out.add(CHARGER_HEARTBEAT, station.tags, station.now_ns(), {"alive": True})


def boot_notification(message: BootNotification16, station: Station, out: PointSet) -> None:
    fields: dict[str, FieldValue] = {
        "alive": True,
        "boot_vendor": message.charge_point_vendor,
        "boot_model": message.charge_point_model,
    }
    if message.firmware_version is not None:
        fields["firmware"] = message.firmware_version
    out.add(CHARGER_HEARTBEAT, station.tags, station.now_ns(), fields)


ACTIONS: dict[str, Action] = {
    "MeterValues": Action(MeterValues16, meter_values),
    "StatusNotification": Action(StatusNotification16, status_notification),
    "StartTransaction": Action(StartTransaction16, start_transaction),
    "StopTransaction": Action(StopTransaction16, stop_transaction),
    "Heartbeat": Action(Heartbeat, heartbeat),
    "BootNotification": Action(BootNotification16, boot_notification),
}
