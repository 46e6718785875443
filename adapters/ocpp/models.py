"""OCPP-J request payloads the adapter reads: the wire models of OCPP 1.6 and 2.0.1.

Field names, enumerations and limits follow the JSON schemas of both versions (as shipped in
the ``ocpp`` package). Enumerations are ``Literal`` types, so a value outside them is
``bad_value``. Only what the adapter reads is modelled; other keys are ignored.

OCPP 1.6 sends a sampled value as a *string*: :class:`SampledValue16` checks it is a decimal
number (``wrong_type`` otherwise, ``not_finite`` for ``NaN``/``Infinity``) unless its
``format`` is ``SignedData``, whose value is an opaque signed blob.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from hub.validation import WireModel

__all__ = [
    "BootNotification16",
    "BootNotification201",
    "Heartbeat",
    "MeterValue16",
    "MeterValue201",
    "MeterValues16",
    "MeterValues201",
    "OcppModel",
    "SampledValue16",
    "SampledValue201",
    "StartTransaction16",
    "StatusNotification16",
    "StatusNotification201",
    "StopTransaction16",
    "TransactionEvent201",
]

Phase = Literal["L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"]
Location = Literal["Body", "Cable", "EV", "Inlet", "Outlet"]
ReadingContext = Literal[
    "Interruption.Begin",
    "Interruption.End",
    "Other",
    "Sample.Clock",
    "Sample.Periodic",
    "Transaction.Begin",
    "Transaction.End",
    "Trigger",
]
Measurand16 = Literal[
    "Current.Export",
    "Current.Import",
    "Current.Offered",
    "Energy.Active.Export.Register",
    "Energy.Active.Import.Register",
    "Energy.Reactive.Export.Register",
    "Energy.Reactive.Import.Register",
    "Energy.Active.Export.Interval",
    "Energy.Active.Import.Interval",
    "Energy.Reactive.Export.Interval",
    "Energy.Reactive.Import.Interval",
    "Frequency",
    "Power.Active.Export",
    "Power.Active.Import",
    "Power.Factor",
    "Power.Offered",
    "Power.Reactive.Export",
    "Power.Reactive.Import",
    "RPM",
    "SoC",
    "Temperature",
    "Voltage",
]
Measurand201 = Literal[
    "Current.Export",
    "Current.Import",
    "Current.Offered",
    "Energy.Active.Export.Register",
    "Energy.Active.Import.Register",
    "Energy.Reactive.Export.Register",
    "Energy.Reactive.Import.Register",
    "Energy.Active.Export.Interval",
    "Energy.Active.Import.Interval",
    "Energy.Active.Net",
    "Energy.Reactive.Export.Interval",
    "Energy.Reactive.Import.Interval",
    "Energy.Reactive.Net",
    "Energy.Apparent.Net",
    "Energy.Apparent.Import",
    "Energy.Apparent.Export",
    "Frequency",
    "Power.Active.Export",
    "Power.Active.Import",
    "Power.Factor",
    "Power.Offered",
    "Power.Reactive.Export",
    "Power.Reactive.Import",
    "SoC",
    "Voltage",
]
# The 1.6 UnitOfMeasure enumeration, with the schema's misspelt "Celcius" and the errata's
# "Celsius" (chargers send either).
Unit16 = Literal[
    "Wh",
    "kWh",
    "varh",
    "kvarh",
    "W",
    "kW",
    "VA",
    "kVA",
    "var",
    "kvar",
    "A",
    "V",
    "K",
    "Celcius",
    "Celsius",
    "Fahrenheit",
    "Percent",
]
ChargePointStatus16 = Literal[
    "Available",
    "Preparing",
    "Charging",
    "SuspendedEVSE",
    "SuspendedEV",
    "Finishing",
    "Reserved",
    "Unavailable",
    "Faulted",
]
ChargePointErrorCode16 = Literal[
    "ConnectorLockFailure",
    "EVCommunicationError",
    "GroundFailure",
    "HighTemperature",
    "InternalError",
    "LocalListConflict",
    "NoError",
    "OtherError",
    "OverCurrentFailure",
    "PowerMeterFailure",
    "PowerSwitchFailure",
    "ReaderFailure",
    "ResetFailure",
    "UnderVoltage",
    "OverVoltage",
    "WeakSignal",
]
StopReason16 = Literal[
    "EmergencyStop",
    "EVDisconnected",
    "HardReset",
    "Local",
    "Other",
    "PowerLoss",
    "Reboot",
    "Remote",
    "SoftReset",
    "UnlockCommand",
    "DeAuthorized",
]
ConnectorStatus201 = Literal["Available", "Occupied", "Reserved", "Unavailable", "Faulted"]
ChargingState201 = Literal["Charging", "EVConnected", "SuspendedEV", "SuspendedEVSE", "Idle"]
StopReason201 = Literal[
    "DeAuthorized",
    "EmergencyStop",
    "EnergyLimitReached",
    "EVDisconnected",
    "GroundFault",
    "ImmediateReset",
    "Local",
    "LocalOutOfCredit",
    "MasterPass",
    "Other",
    "OvercurrentFault",
    "PowerLoss",
    "PowerQuality",
    "Reboot",
    "Remote",
    "SOCLimitReached",
    "StoppedByEV",
    "TimeLimitReached",
    "Timeout",
]
TriggerReason201 = Literal[
    "Authorized",
    "CablePluggedIn",
    "ChargingRateChanged",
    "ChargingStateChanged",
    "Deauthorized",
    "EnergyLimitReached",
    "EVCommunicationLost",
    "EVConnectTimeout",
    "MeterValueClock",
    "MeterValuePeriodic",
    "TimeLimitReached",
    "Trigger",
    "UnlockCommand",
    "StopAuthorized",
    "EVDeparted",
    "EVDetected",
    "RemoteStop",
    "RemoteStart",
    "AbnormalCondition",
    "SignedDataReceived",
    "ResetCommand",
]
BootReason201 = Literal[
    "ApplicationReset",
    "FirmwareUpdate",
    "LocalReset",
    "PowerUp",
    "RemoteReset",
    "ScheduledReset",
    "Triggered",
    "Unknown",
    "Watchdog",
]

Timestamp = Annotated[str, Field(min_length=1, max_length=64)]
ConnectorId = Annotated[int, Field(ge=0, le=10_000)]

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NOT_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


class OcppModel(WireModel):
    """OCPP payload keys are camelCase on the wire (``connectorId``), snake_case here.

    Lists are bounded (200 sampled values per meter value, 2000 meter values per message: a
    day of minute samples fits) so one message cannot make the adapter build without limit.
    """

    model_config = ConfigDict(alias_generator=to_camel)


# ---- OCPP 1.6 ----------------------------------------------------------------------------


class SampledValue16(OcppModel):
    value: Annotated[str, Field(max_length=2500)]  # decimal string; SignedData: a signed blob
    context: ReadingContext = "Sample.Periodic"
    format: Literal["Raw", "SignedData"] = "Raw"
    measurand: Measurand16 = "Energy.Active.Import.Register"
    phase: Phase | None = None
    location: Location = "Outlet"
    unit: Unit16 | None = None  # None: the measurand's own unit (Wh for the default measurand)

    @model_validator(mode="after")
    def _raw_value_is_a_number(self) -> SampledValue16:
        if self.format == "SignedData":
            return self
        text = self.value.strip()[:40]
        if not _DECIMAL.fullmatch(text):
            kind = "finite_number" if text.lower() in _NOT_FINITE else "float_parsing"
            raise PydanticCustomError(
                kind, "value '{value}' is not a decimal number", {"value": text}
            )
        if not math.isfinite(float(text)):
            raise PydanticCustomError(
                "finite_number", "value '{value}' is not finite", {"value": text}
            )
        return self


class MeterValue16(OcppModel):
    timestamp: Timestamp
    sampled_value: list[SampledValue16] = Field(min_length=1, max_length=200)


class MeterValues16(OcppModel):
    connector_id: ConnectorId
    transaction_id: int | None = None
    meter_value: list[MeterValue16] = Field(min_length=1, max_length=2000)


class StatusNotification16(OcppModel):
    connector_id: ConnectorId
    error_code: ChargePointErrorCode16
    status: ChargePointStatus16
    timestamp: Timestamp | None = None
    info: Annotated[str, Field(max_length=50)] | None = None
    vendor_id: Annotated[str, Field(max_length=255)] | None = None
    vendor_error_code: Annotated[str, Field(max_length=50)] | None = None


class StartTransaction16(OcppModel):
    connector_id: Annotated[int, Field(ge=1, le=10_000)]
    id_tag: Annotated[str, Field(max_length=20)]
    meter_start: int  # Wh
    timestamp: Timestamp
    reservation_id: int | None = None


class StopTransaction16(OcppModel):
    transaction_id: int
    meter_stop: int  # Wh
    timestamp: Timestamp
    id_tag: Annotated[str, Field(max_length=20)] | None = None
    reason: StopReason16 = "Local"  # the 1.6 default when omitted
    transaction_data: list[MeterValue16] | None = Field(default=None, max_length=2000)


class BootNotification16(OcppModel):
    charge_point_vendor: Annotated[str, Field(max_length=20)]
    charge_point_model: Annotated[str, Field(max_length=20)]
    firmware_version: Annotated[str, Field(max_length=50)] | None = None


class Heartbeat(OcppModel):
    """Heartbeat has an empty payload in both versions."""


# ---- OCPP 2.0.1 --------------------------------------------------------------------------


class UnitOfMeasure201(OcppModel):
    unit: Annotated[str, Field(min_length=1, max_length=20)] | None = None  # None: as in 1.6
    multiplier: Annotated[int, Field(ge=-9, le=9)] = 0  # power of ten


class SampledValue201(OcppModel):
    value: float
    context: ReadingContext = "Sample.Periodic"
    measurand: Measurand201 = "Energy.Active.Import.Register"
    phase: Phase | None = None
    location: Location = "Outlet"
    unit_of_measure: UnitOfMeasure201 = UnitOfMeasure201()


class MeterValue201(OcppModel):
    timestamp: Timestamp
    sampled_value: list[SampledValue201] = Field(min_length=1, max_length=200)


class MeterValues201(OcppModel):
    evse_id: ConnectorId  # 0 is the main meter
    meter_value: list[MeterValue201] = Field(min_length=1, max_length=2000)


class StatusNotification201(OcppModel):
    timestamp: Timestamp
    connector_status: ConnectorStatus201
    evse_id: ConnectorId
    connector_id: ConnectorId


class Transaction201(OcppModel):
    transaction_id: Annotated[str, Field(min_length=1, max_length=36)]
    charging_state: ChargingState201 | None = None
    stopped_reason: StopReason201 | None = None


class Evse201(OcppModel):
    id: ConnectorId
    connector_id: ConnectorId | None = None


class IdToken201(OcppModel):
    id_token: Annotated[str, Field(max_length=36)]
    type: str


class TransactionEvent201(OcppModel):
    event_type: Literal["Started", "Updated", "Ended"]
    timestamp: Timestamp
    trigger_reason: TriggerReason201
    seq_no: int
    transaction_info: Transaction201
    offline: bool = False
    evse: Evse201 | None = None
    id_token: IdToken201 | None = None
    meter_value: list[MeterValue201] | None = Field(default=None, max_length=2000)


class ChargingStation201(OcppModel):
    model: Annotated[str, Field(max_length=20)]
    vendor_name: Annotated[str, Field(max_length=50)]
    firmware_version: Annotated[str, Field(max_length=50)] | None = None


class BootNotification201(OcppModel):
    charging_station: ChargingStation201
    reason: BootReason201
