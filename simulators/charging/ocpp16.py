"""OCPP 1.6 frames of charger events: sampled values are strings, units as the firmware
likes them (kW power next to Wh energy), defaults left out by some stations."""

from __future__ import annotations

import json

from simulators.charging.model import ChargePoint
from simulators.charging.sampling import ConnectorSample, sample
from simulators.charging.sessions import register_wh
from simulators.charging.timeline import ChargerEvent
from simulators.seeding import hex_id
from simulators.simtime import NS_PER_S
from simulators.truth import Expected, FieldValue

__all__ = ["VERSION", "encode_16"]

VERSION = "1.6"
STATUS = {
    "plugged": "Preparing",
    "charging": "Charging",
    "suspended": "SuspendedEV",
    "finishing": "Finishing",
    "available": "Available",
    "faulted": "Faulted",
}
Frame = tuple[bytes, list[Expected]]


def frame(cp: ChargePoint, event: ChargerEvent, action: str, payload: dict[str, object]) -> bytes:
    """``[2, id, action, payload]`` with a message id unique per station, time and action."""
    connector = event.connector.connector_id if event.connector else 0
    message_id = hex_id(cp.seed, cp.cp_id, event.time_s, event.kind, connector, action, length=32)
    return json.dumps([2, message_id, action, payload], separators=(",", ":")).encode()


def encode_16(cp: ChargePoint, event: ChargerEvent) -> list[Frame]:
    """The OCPP 1.6 frames (with their truth) ``cp`` sends for ``event``."""
    time_ns = event.time_s * NS_PER_S
    if event.kind == "heartbeat":
        truth = Expected("charger_heartbeat", cp.cp_id, time_ns, {"alive": True}, clock_time=True)
        return [(frame(cp, event, "Heartbeat", {}), [truth])]
    if event.kind == "boot":
        return [_boot(cp, event)]
    if event.kind == "sample":
        return [_meter_values(cp, event)]
    return _state(cp, event)


def _boot(cp: ChargePoint, event: ChargerEvent) -> Frame:
    payload = {
        "chargePointVendor": cp.hardware.vendor,
        "chargePointModel": cp.hardware.model,
        "chargePointSerialNumber": cp.serial,
        "firmwareVersion": cp.firmware,
    }
    fields: dict[str, FieldValue] = {
        "alive": True,
        "boot_vendor": cp.hardware.vendor,
        "boot_model": cp.hardware.model,
        "firmware": cp.firmware,
    }
    truth = Expected(
        "charger_heartbeat", cp.cp_id, event.time_s * NS_PER_S, fields, clock_time=True
    )
    return frame(cp, event, "BootNotification", payload), [truth]


def _state(cp: ChargePoint, event: ChargerEvent) -> list[Frame]:
    assert event.connector is not None and event.state is not None
    connector_id = event.connector.connector_id
    time_ns = event.time_s * NS_PER_S
    tags = {"connector": str(connector_id)}
    frames = []
    session = event.session
    if event.state == "charging" and session:
        meter_start = round(register_wh(cp, event.connector, session.charge_start_s))
        payload = {
            "connectorId": connector_id,
            "idTag": session.id_tag,
            "meterStart": meter_start,
            "timestamp": cp.timestamp(event.time_s),
        }
        fields: dict[str, FieldValue] = {
            "session_id": f"{cp.cp_id}-{connector_id}-{event.time_s}",
            "event": "started",
            "meter_wh": float(meter_start),
            "id_tag": session.id_tag,
        }
        truth = Expected("charger_session", cp.cp_id, time_ns, fields, tags)
        frames.append((frame(cp, event, "StartTransaction", payload), [truth]))
    if event.state == "finishing" and session:
        meter_stop = round(register_wh(cp, event.connector, event.time_s))
        payload = {
            "transactionId": session.transaction_number,
            "idTag": session.id_tag,
            "meterStop": meter_stop,
            "timestamp": cp.timestamp(event.time_s),
            "reason": "EVDisconnected",
        }
        fields = {
            "session_id": str(session.transaction_number),
            "event": "ended",
            "meter_wh": float(meter_stop),
            "stop_reason": "EVDisconnected",
            "id_tag": session.id_tag,
        }
        truth = Expected("charger_session", cp.cp_id, time_ns, fields)
        frames.append((frame(cp, event, "StopTransaction", payload), [truth]))
    status = STATUS[event.state]
    error_code = event.outage.error_code if event.outage else "NoError"
    payload = {
        "connectorId": connector_id,
        "errorCode": error_code,
        "status": status,
        "timestamp": cp.timestamp(event.time_s),
    }
    fields = {"status": status, "error_code": error_code, "ocpp_version": VERSION}
    if event.outage:
        payload["info"] = fields["info"] = f"fault {error_code[:30]}"
    truth = Expected("charger_status", cp.cp_id, time_ns, fields, tags)
    frames.append((frame(cp, event, "StatusNotification", payload), [truth]))
    return frames


def _meter_values(cp: ChargePoint, event: ChargerEvent) -> Frame:
    assert event.connector is not None
    reading = sample(cp, event.connector, event.session, event.time_s)
    values, fields = _sampled_values(cp, reading, in_session=event.session is not None)
    payload: dict[str, object] = {"connectorId": event.connector.connector_id}
    if event.session:
        payload["transactionId"] = event.session.transaction_number
        fields["transaction_id"] = str(event.session.transaction_number)
    payload["meterValue"] = [{"timestamp": cp.timestamp(event.time_s), "sampledValue": values}]
    tags = {"connector": str(event.connector.connector_id)}
    truth = Expected("charger_meter", cp.cp_id, event.time_s * NS_PER_S, fields, tags)
    return frame(cp, event, "MeterValues", payload), [truth]


def _sampled_values(
    cp: ChargePoint, reading: ConnectorSample, in_session: bool
) -> tuple[list[dict[str, str]], dict[str, FieldValue]]:
    context = "Sample.Periodic" if in_session else "Sample.Clock"
    values: list[dict[str, str]] = []
    fields: dict[str, FieldValue] = {}
    if cp.energy_unit == "kWh":
        text = f"{reading.register_wh / 1000:.3f}"
        fields["energy_import_wh"] = float(text) * 1000.0
        register = {"value": text, "measurand": "Energy.Active.Import.Register", "unit": "kWh"}
    else:
        text = str(round(reading.register_wh))
        fields["energy_import_wh"] = float(text)
        register = {"value": text, "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
        if cp.omit_defaults:  # measurand and unit default to the Wh import register
            register = {"value": text}
    values.append({**register, "context": context})
    if not in_session:
        return values, fields
    if cp.power_unit == "kW":
        text = f"{reading.power_w / 1000:.2f}"
        fields["power_w"] = float(text) * 1000.0
    else:
        text = f"{reading.power_w:.1f}"
        fields["power_w"] = float(text)
    values.append(_value(text, "Power.Active.Import", cp.power_unit, context))
    current, voltage = f"{reading.current_a:.1f}", f"{reading.voltage_v:.1f}"
    if reading.phases == 0:
        values.append(_value(current, "Current.Import", "A", context))
        values.append(_value(voltage, "Voltage", "V", context))
        fields |= {"current_a": float(current), "voltage_v": float(voltage)}
        if reading.soc_pct is not None:
            soc = f"{reading.soc_pct:.0f}"
            values.append({**_value(soc, "SoC", "Percent", context), "location": "EV"})
            fields["soc_pct"] = float(soc)
        return values, fields
    for phase in ("L1", "L2", "L3")[: reading.phases]:
        values.append({**_value(current, "Current.Import", "A", context), "phase": phase})
        fields[f"current_a_{phase.lower()}"] = float(current)
    values.append({**_value(voltage, "Voltage", "V", context), "phase": "L1-N"})
    fields["voltage_v_l1_n"] = float(voltage)
    return values, fields


def _value(text: str, measurand: str, unit: str, context: str) -> dict[str, str]:
    return {"value": text, "context": context, "measurand": measurand, "unit": unit}
