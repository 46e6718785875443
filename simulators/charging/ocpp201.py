"""OCPP 2.0.1 frames of charger events: numeric sampled values with ``unitOfMeasure``
(multipliers: kW as W × 10³), connector status, and the session as TransactionEvents."""

from __future__ import annotations

from simulators.charging.model import ChargePoint
from simulators.charging.ocpp16 import Frame, frame
from simulators.charging.sampling import ConnectorSample, sample
from simulators.charging.sessions import register_wh
from simulators.charging.timeline import ChargerEvent
from simulators.simtime import NS_PER_S
from simulators.truth import Expected, FieldValue

__all__ = ["VERSION", "encode_201"]

VERSION = "2.0.1"
CONNECTOR_STATUS = {"plugged": "Occupied", "available": "Available", "faulted": "Faulted"}
# state → (eventType, triggerReason, chargingState, stoppedReason)
TRANSACTION_EVENTS: dict[str, tuple[str, str, str, str | None]] = {
    "plugged": ("Started", "CablePluggedIn", "EVConnected", None),
    "charging": ("Updated", "Authorized", "Charging", None),
    "suspended": ("Updated", "ChargingStateChanged", "SuspendedEV", None),
    "finishing": ("Ended", "EVCommunicationLost", "Idle", "EVDisconnected"),
}


def encode_201(cp: ChargePoint, event: ChargerEvent) -> list[Frame]:
    """The OCPP 2.0.1 frames (with their truth) ``cp`` sends for ``event``."""
    time_ns = event.time_s * NS_PER_S
    if event.kind == "heartbeat":
        truth = Expected("charger_heartbeat", cp.cp_id, time_ns, {"alive": True}, clock_time=True)
        return [(frame(cp, event, "Heartbeat", {}), [truth])]
    if event.kind == "boot":
        return [_boot(cp, event)]
    if event.kind == "sample":
        return [_meter_values(cp, event)]
    frames = []
    if event.state in TRANSACTION_EVENTS and event.session:
        frames.append(_transaction_event(cp, event))
    if event.state in CONNECTOR_STATUS:
        frames.append(_status(cp, event))
    return frames


def _boot(cp: ChargePoint, event: ChargerEvent) -> Frame:
    payload = {
        "reason": "ScheduledReset",
        "chargingStation": {
            "model": cp.hardware.model,
            "vendorName": cp.hardware.vendor,
            "firmwareVersion": cp.firmware,
            "serialNumber": cp.serial,
        },
    }
    fields: dict[str, FieldValue] = {
        "alive": True,
        "boot_vendor": cp.hardware.vendor,
        "boot_model": cp.hardware.model,
        "boot_reason": "ScheduledReset",
        "firmware": cp.firmware,
    }
    truth = Expected(
        "charger_heartbeat", cp.cp_id, event.time_s * NS_PER_S, fields, clock_time=True
    )
    return frame(cp, event, "BootNotification", payload), [truth]


def _status(cp: ChargePoint, event: ChargerEvent) -> Frame:
    assert event.connector is not None and event.state is not None
    status = CONNECTOR_STATUS[event.state]
    evse_id = event.connector.connector_id
    payload = {
        "timestamp": cp.timestamp(event.time_s),
        "connectorStatus": status,
        "evseId": evse_id,
        "connectorId": 1,
    }
    fields: dict[str, FieldValue] = {
        "status": status,
        "evse_connector": "1",
        "ocpp_version": VERSION,
    }
    tags = {"connector": str(evse_id)}
    truth = Expected("charger_status", cp.cp_id, event.time_s * NS_PER_S, fields, tags)
    return frame(cp, event, "StatusNotification", payload), [truth]


def _transaction_event(cp: ChargePoint, event: ChargerEvent) -> Frame:
    assert event.connector is not None and event.state is not None and event.session
    session = event.session
    event_type, trigger, charging_state, stopped = TRANSACTION_EVENTS[event.state]
    time_ns = event.time_s * NS_PER_S
    info: dict[str, object] = {
        "transactionId": session.transaction_uuid,
        "chargingState": charging_state,
    }
    fields: dict[str, FieldValue] = {
        "session_id": session.transaction_uuid,
        "event": event_type.lower(),
        "trigger_reason": trigger,
        "charging_state": charging_state,
    }
    payload: dict[str, object] = {
        "eventType": event_type,
        "timestamp": cp.timestamp(event.time_s),
        "triggerReason": trigger,
        "seqNo": list(TRANSACTION_EVENTS).index(event.state),
        "transactionInfo": info,
    }
    tags: dict[str, str] = {}
    if event_type == "Started":  # the EVSE is sent once, in the first event that knows it
        payload["evse"] = {"id": event.connector.connector_id, "connectorId": 1}
        tags = {"connector": str(event.connector.connector_id)}
    if event_type == "Updated" and charging_state == "Charging":
        payload["idToken"] = {"idToken": session.id_tag, "type": "ISO14443"}
        fields["id_tag"] = session.id_tag
    if stopped:
        info["stoppedReason"] = stopped
        fields["stop_reason"] = stopped
    truth = []
    if event_type in ("Started", "Ended"):
        register = round(register_wh(cp, event.connector, event.time_s), 1)
        context = "Transaction.Begin" if event_type == "Started" else "Transaction.End"
        value = {
            "value": register,
            "context": context,
            "measurand": "Energy.Active.Import.Register",
            "unitOfMeasure": {"unit": "Wh"},
        }
        payload["meterValue"] = [{"timestamp": cp.timestamp(event.time_s), "sampledValue": [value]}]
        fields["meter_wh"] = register
        meter_fields: dict[str, FieldValue] = {
            "energy_import_wh": register,
            "transaction_id": session.transaction_uuid,
        }
        # Readings of an event that names no EVSE cannot be put on a connector's register.
        measurement = "charger_meter" if "connector" in tags else "charger_transaction_meter"
        truth.append(Expected(measurement, cp.cp_id, time_ns, meter_fields, tags))
    truth.insert(0, Expected("charger_session", cp.cp_id, time_ns, fields, tags))
    return frame(cp, event, "TransactionEvent", payload), truth


def _meter_values(cp: ChargePoint, event: ChargerEvent) -> Frame:
    assert event.connector is not None
    reading = sample(cp, event.connector, event.session, event.time_s)
    values, fields = _sampled_values(cp, reading, in_session=event.session is not None)
    payload = {
        "evseId": event.connector.connector_id,
        "meterValue": [{"timestamp": cp.timestamp(event.time_s), "sampledValue": values}],
    }
    tags = {"connector": str(event.connector.connector_id)}
    truth = Expected("charger_meter", cp.cp_id, event.time_s * NS_PER_S, fields, tags)
    return frame(cp, event, "MeterValues", payload), [truth]


def _number(
    value: float, measurand: str, unit: str, context: str, multiplier: int = 0
) -> dict[str, object]:
    measure: dict[str, object] = {"unit": unit}
    if multiplier:
        measure["multiplier"] = multiplier
    return {"value": value, "context": context, "measurand": measurand, "unitOfMeasure": measure}


def _sampled_values(
    cp: ChargePoint, reading: ConnectorSample, in_session: bool
) -> tuple[list[dict[str, object]], dict[str, FieldValue]]:
    context = "Sample.Periodic" if in_session else "Sample.Clock"
    register = "Energy.Active.Import.Register"
    fields: dict[str, FieldValue] = {}
    if cp.energy_unit == "kWh":
        kwh = round(reading.register_wh / 1000, 3)
        values = [_number(kwh, register, "kWh", context)]
        fields["energy_import_wh"] = kwh * 1000.0
    else:
        wh = round(reading.register_wh, 1)
        values = [_number(wh, register, "Wh", context)]
        fields["energy_import_wh"] = wh
    if not in_session:
        return values, fields
    if cp.power_unit == "kW":  # kW spelt the 2.0.1 way: W with multiplier 3
        kw = round(reading.power_w / 1000, 2)
        values.append(_number(kw, "Power.Active.Import", "W", context, multiplier=3))
        fields["power_w"] = kw * 10.0**3
    else:
        watts = round(reading.power_w, 1)
        values.append(_number(watts, "Power.Active.Import", "W", context))
        fields["power_w"] = watts
    current, voltage = round(reading.current_a, 1), round(reading.voltage_v, 1)
    if reading.phases == 0:
        values.append(_number(current, "Current.Import", "A", context))
        values.append(_number(voltage, "Voltage", "V", context))
        fields |= {"current_a": current, "voltage_v": voltage}
        if reading.soc_pct is not None:
            soc = round(reading.soc_pct, 1)
            values.append({**_number(soc, "SoC", "Percent", context), "location": "EV"})
            fields["soc_pct"] = soc
        return values, fields
    for phase in ("L1", "L2", "L3")[: reading.phases]:
        values.append({**_number(current, "Current.Import", "A", context), "phase": phase})
        fields[f"current_a_{phase.lower()}"] = current
    values.append({**_number(voltage, "Voltage", "V", context), "phase": "L1-N"})
    fields["voltage_v_l1_n"] = voltage
    return values, fields
