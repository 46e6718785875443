"""The OCPP adapter against recorded OCPP-J frames (fixtures/ocpp/): exact canonical points for
every action of both versions, and one test per rejection reason."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.ocpp import OcppAdapter
from hub.contracts import Adapter, AdapterEnv, Parsed
from hub.devices import DeviceRegistry
from hub.errors import ConfigError, Rejected
from hub.plugins import load_adapters
from hub.points import Point
from hub.timestamps import FixedClock, TimePolicy

FIXTURES = Path(__file__).parent / "fixtures" / "ocpp"
NOW_NS = 1_715_688_000 * 10**9  # 2024-05-14T12:00:00Z
CP = "CP-HARBOUR-01"
TOPIC = f"ocpp/cp/{CP}"
SITE = {"site": "harbour-garage", "district": "harbour", "device": CP}
TX_201 = "f3c2a9e0-5b1d-4c6e-9a77-1d2e3f4a5b6c"


def ns(iso_utc: str) -> int:
    """UTC nanoseconds of an ISO time with an explicit offset (expected values, spelt out)."""
    moment = datetime.fromisoformat(iso_utc)
    return int(moment.timestamp()) * 10**9 + moment.microsecond * 1000


@pytest.fixture
def env() -> AdapterEnv:
    registry = DeviceRegistry(
        {
            CP: {"site": "harbour-garage", "district": "harbour"},
            "EVSE-OLDTOWN-7": {"site": "oldtown-square", "district": "oldtown"},
        }
    )
    return AdapterEnv(
        TimePolicy(zone=ZoneInfo("Europe/Berlin"), clock=FixedClock(NOW_NS)), registry
    )


@pytest.fixture
def adapter(env: AdapterEnv) -> OcppAdapter:
    return OcppAdapter({}, env)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def frame(action: str, payload: object, message_id: str = "m-1") -> bytes:
    return json.dumps([2, message_id, action, payload]).encode()


def meter(connector: str | None, time: str, **fields: float | str) -> Point:
    """A meter reading; one of no known connector goes to charger_transaction_meter."""
    if connector is None:
        return Point("charger_transaction_meter", SITE, dict(fields), ns(time))
    return Point("charger_meter", {**SITE, "connector": connector}, dict(fields), ns(time))


def rejection(adapter: OcppAdapter, payload: bytes, topic: str = TOPIC) -> Rejected:
    with pytest.raises(Rejected) as caught:
        adapter.parse(topic, payload)
    return caught.value


# ---- wiring ------------------------------------------------------------------------------


def test_loads_through_the_entry_point_with_its_topic(env: AdapterEnv) -> None:
    (loaded,) = load_adapters(["ocpp"], {"ocpp": {"topic": "city/ocpp/+"}}, env)
    assert isinstance(loaded, OcppAdapter)
    assert isinstance(loaded, Adapter)
    assert loaded.name == "ocpp"
    assert [t.value for t in loaded.topics] == ["city/ocpp/+"]
    assert OcppAdapter({}, env).topics[0].matches("ocpp/cp/CP-HARBOUR-01")


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"topics": "ocpp/#"}, "adapter ocpp option topics"),
        ({"topic": "ocpp/cp/#"}, "adapter ocpp option topic"),
        ({"versions": ["1.6"]}, "adapter ocpp option versions"),
        ({"versions": {CP: "2.0"}}, "adapter ocpp option versions"),
        ({"versions": {CP: 1.6}}, "adapter ocpp option versions"),
        ({"versions": {"bad id": "1.6"}}, "adapter ocpp option versions"),
    ],
)
def test_bad_options_name_the_option(
    env: AdapterEnv, options: dict[str, object], setting: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        OcppAdapter(options, env)
    assert caught.value.setting == setting


# ---- OCPP 1.6 ----------------------------------------------------------------------------


def test_16_meter_values_mixing_units_phases_and_locations(adapter: OcppAdapter) -> None:
    points = adapter.parse(TOPIC, fixture("v16_meter_values_mixed_units.json"))
    assert points == [
        meter(
            "1",
            "2024-05-14T11:45:00+00:00",  # 13:45+02:00
            energy_import_wh=15234.5,  # Wh
            power_w=7250.0,  # 7.25 kW
            power_offered_w=11000.0,  # 11 kW
            current_offered_a=16.0,
            current_a_l1=10.52,
            current_a_l2=10.49,
            current_a_l3=10.61,
            current_a_n=0.08,
            voltage_v_l1_n=230.4,
            voltage_v_l2_n=229.8,
            voltage_v_l3_n=231.1,
            voltage_v_l1_l2=399.2,
            frequency_hz=50.02,  # no unit in 1.6: Hz
            power_factor=0.99,  # no unit: a ratio
            soc_pct=64.0,  # Percent, location EV
            temperature_c=31.5,  # 304.65 K, location Body
            transaction_id="4711",
        ),
        meter(
            "1",
            "2024-05-14T11:46:00+00:00",
            energy_import_wh=15375.0,  # 15.375 kWh
            power_w=7250.0,  # W
            reactive_energy_import_varh=1200.0,  # 1.2 kvarh
            reactive_power_import_var=400.0,  # 0.4 kvar
            energy_import_wh_inlet=15400.0,  # the grid-side meter, 15.400 kWh
            transaction_id="4711",
        ),
    ]
    assert all(type(v) is float for p in points for k, v in p.fields.items() if k[-2:] != "id")


def test_16_meter_values_defaults_and_naive_local_time(adapter: OcppAdapter) -> None:
    # {"value": "1234"} alone: Energy.Active.Import.Register in Wh; "13:30" is Berlin (CEST).
    assert adapter.parse(TOPIC, fixture("v16_meter_values_defaults.json")) == [
        meter("1", "2024-05-14T11:30:00+00:00", energy_import_wh=1234.0)
    ]


def test_16_signed_data_values_are_skipped_raw_ones_kept(adapter: OcppAdapter) -> None:
    assert adapter.parse(TOPIC, fixture("v16_meter_values_signed.json")) == [
        meter("2", "2024-05-14T11:30:00+00:00", energy_import_wh=8810.0, transaction_id="982")
    ]


def test_16_only_signed_data_gives_no_point(adapter: OcppAdapter) -> None:
    payload = {
        "connectorId": 1,
        "transactionId": 5,
        "meterValue": [
            {
                "timestamp": "2024-05-14T11:30:00Z",
                "sampledValue": [{"value": "OCMF|{...}", "format": "SignedData"}],
            }
        ],
    }
    assert adapter.parse(TOPIC, frame("MeterValues", payload)) == []


def test_16_status_notification(adapter: OcppAdapter) -> None:
    assert adapter.parse(TOPIC, fixture("v16_status_notification_charging.json")) == [
        Point(
            "charger_status",
            {**SITE, "connector": "2"},
            {"status": "Charging", "error_code": "NoError", "ocpp_version": "1.6"},
            ns("2024-05-14T11:40:00.123000+00:00"),
        )
    ]


def test_16_status_notification_without_timestamp_is_now(adapter: OcppAdapter) -> None:
    assert adapter.parse(TOPIC, fixture("v16_status_notification_faulted.json")) == [
        Point(
            "charger_status",
            {**SITE, "connector": "0"},
            {
                "status": "Faulted",
                "error_code": "GroundFailure",
                "info": "RCD tripped",
                "vendor_error_code": "E-042",
                "ocpp_version": "1.6",
            },
            NOW_NS,
        )
    ]


def test_16_start_transaction_names_the_session_by_connector_and_start(
    adapter: OcppAdapter,
) -> None:
    start = ns("2024-05-14T11:15:00+00:00")  # 13:15+02:00
    assert adapter.parse(TOPIC, fixture("v16_start_transaction.json")) == [
        Point(
            "charger_session",
            {**SITE, "connector": "1"},
            {
                "session_id": f"{CP}-1-{start // 10**9}",
                "event": "started",
                "meter_wh": 15000.0,
                "id_tag": "04A2B3C4D5E6F7",
            },
            start,
        )
    ]
    assert start // 10**9 == 1_715_685_300


def test_16_stop_transaction_with_transaction_data(adapter: OcppAdapter) -> None:
    assert adapter.parse(TOPIC, fixture("v16_stop_transaction.json")) == [
        Point(
            "charger_session",
            SITE,  # StopTransaction names no connector
            {
                "session_id": "4711",
                "event": "ended",
                "meter_wh": 22450.0,
                "stop_reason": "EVDisconnected",
                "id_tag": "04A2B3C4D5E6F7",
            },
            ns("2024-05-14T11:55:10+00:00"),
        ),
        meter(None, "2024-05-14T11:15:00+00:00", energy_import_wh=15000.0, transaction_id="4711"),
        meter(None, "2024-05-14T11:55:10+00:00", energy_import_wh=22450.0, transaction_id="4711"),
    ]


def test_16_stop_reason_defaults_to_local(adapter: OcppAdapter) -> None:
    payload = {"transactionId": 9, "meterStop": 100, "timestamp": "2024-05-14T11:00:00Z"}
    (point,) = adapter.parse(TOPIC, frame("StopTransaction", payload))
    assert point.fields == {
        "session_id": "9",
        "event": "ended",
        "meter_wh": 100.0,
        "stop_reason": "Local",
    }


def test_16_heartbeat_at_the_hub_clock(adapter: OcppAdapter) -> None:
    assert adapter.parse(TOPIC, fixture("v16_heartbeat.json")) == [
        Point("charger_heartbeat", SITE, {"alive": True}, NOW_NS)
    ]


def test_16_boot_notification(adapter: OcppAdapter) -> None:
    assert adapter.parse(TOPIC, fixture("v16_boot_notification.json")) == [
        Point(
            "charger_heartbeat",
            SITE,
            {
                "alive": True,
                "boot_vendor": "ABB",
                "boot_model": "TAC-W22-G5-R-0",
                "firmware": "1.6.3",
            },
            NOW_NS,
        )
    ]


def test_registry_tags_follow_the_charge_point(adapter: OcppAdapter) -> None:
    (point,) = adapter.parse("ocpp/cp/EVSE-OLDTOWN-7", fixture("v16_heartbeat.json"))
    assert point.tags == {
        "site": "oldtown-square",
        "district": "oldtown",
        "device": "EVSE-OLDTOWN-7",
    }


# ---- OCPP 2.0.1 --------------------------------------------------------------------------


def test_201_meter_values_units_multipliers_and_defaults(adapter: OcppAdapter) -> None:
    assert adapter.parse(TOPIC, fixture("v201_meter_values.json")) == [
        meter(
            "1",
            "2024-05-14T11:50:00+00:00",
            energy_import_wh=42500.0,  # 42.5 kWh
            energy_export_wh=1500.0,  # 1.5 Wh x 10^3
            power_w=7360.0,
            current_a_l1=16.5,
            voltage_v_l1_n=230.4,  # 2304 V x 10^-1
            power_factor=0.98,  # no unitOfMeasure
            frequency_hz=50.0,
            soc_pct=80.0,
            apparent_energy_import_vah=3000.0,  # 3 kVAh
        ),
        # {"value": 42623} alone: the default measurand in Wh; 13:51+02:00
        meter("1", "2024-05-14T11:51:00+00:00", energy_import_wh=42623.0),
    ]


def test_201_status_notification(adapter: OcppAdapter) -> None:
    assert adapter.parse(TOPIC, fixture("v201_status_notification.json")) == [
        Point(
            "charger_status",
            {**SITE, "connector": "1"},  # the EVSE
            {"status": "Occupied", "evse_connector": "2", "ocpp_version": "2.0.1"},
            ns("2024-05-14T11:52:00+00:00"),
        )
    ]


def test_201_transaction_started(adapter: OcppAdapter) -> None:
    started = ns("2024-05-14T11:20:00+00:00")
    assert adapter.parse(TOPIC, fixture("v201_transaction_event_started.json")) == [
        meter("1", "2024-05-14T11:20:00+00:00", energy_import_wh=38000.0, transaction_id=TX_201),
        Point(
            "charger_session",
            {**SITE, "connector": "1"},
            {
                "session_id": TX_201,
                "event": "started",
                "trigger_reason": "CablePluggedIn",
                "meter_wh": 38000.0,
                "charging_state": "EVConnected",
                "id_tag": "DEADBEEF01",
            },
            started,
        ),
    ]


def test_201_transaction_updated_takes_the_latest_register(adapter: OcppAdapter) -> None:
    assert adapter.parse(TOPIC, fixture("v201_transaction_event_updated.json")) == [
        meter(
            None,
            "2024-05-14T11:30:00+00:00",
            energy_import_wh=40100.0,
            power_w=11000.0,
            transaction_id=TX_201,
        ),
        meter(
            None,
            "2024-05-14T11:35:00+00:00",
            energy_import_wh=41000.0,
            power_w=10800.0,
            transaction_id=TX_201,
        ),
        Point(
            "charger_session",
            SITE,  # no evse in this event
            {
                "session_id": TX_201,
                "event": "updated",
                "trigger_reason": "MeterValuePeriodic",
                "meter_wh": 41000.0,
                "charging_state": "Charging",
            },
            ns("2024-05-14T11:35:00+00:00"),
        ),
    ]


def test_201_transaction_ended(adapter: OcppAdapter) -> None:
    assert adapter.parse(TOPIC, fixture("v201_transaction_event_ended.json")) == [
        meter(None, "2024-05-14T11:58:30+00:00", energy_import_wh=46750.0, transaction_id=TX_201),
        Point(
            "charger_session",
            SITE,
            {
                "session_id": TX_201,
                "event": "ended",
                "trigger_reason": "EVDeparted",
                "meter_wh": 46750.0,
                "charging_state": "Idle",
                "stop_reason": "EVDisconnected",
            },
            ns("2024-05-14T11:58:30+00:00"),
        ),
    ]


def test_201_ended_without_reason_is_local_and_without_meter_has_no_meter_wh(
    adapter: OcppAdapter,
) -> None:
    payload = {
        "eventType": "Ended",
        "timestamp": "2024-05-14T11:59:00Z",
        "triggerReason": "StopAuthorized",
        "seqNo": 4,
        "transactionInfo": {"transactionId": "TX-77"},
        "evse": {"id": 2},
    }
    assert adapter.parse(TOPIC, frame("TransactionEvent", payload)) == [
        Point(
            "charger_session",
            {**SITE, "connector": "2"},
            {
                "session_id": "TX-77",
                "event": "ended",
                "trigger_reason": "StopAuthorized",
                "stop_reason": "Local",
            },
            ns("2024-05-14T11:59:00+00:00"),
        )
    ]


def test_201_boot_notification(adapter: OcppAdapter) -> None:
    assert adapter.parse(TOPIC, fixture("v201_boot_notification.json")) == [
        Point(
            "charger_heartbeat",
            SITE,
            {
                "alive": True,
                "boot_vendor": "Wallbox",
                "boot_model": "Wallbox Pulsar Plus",
                "boot_reason": "PowerUp",
                "firmware": "6.2.11",
            },
            NOW_NS,
        )
    ]


def test_201_negative_multiplier_on_kwh(adapter: OcppAdapter) -> None:
    sample = {"value": 4250, "unitOfMeasure": {"unit": "kWh", "multiplier": -2}}
    payload = {
        "evseId": 0,
        "meterValue": [{"timestamp": "2024-05-14T11:00:00Z", "sampledValue": [sample]}],
    }
    assert adapter.parse(TOPIC, frame("MeterValues", payload)) == [
        meter("0", "2024-05-14T11:00:00+00:00", energy_import_wh=42500.0)  # 42.50 kWh
    ]


# ---- protocol version --------------------------------------------------------------------


def test_configured_version_wins_over_the_payload(env: AdapterEnv) -> None:
    adapter = OcppAdapter({"versions": {CP: "1.6"}}, env)
    assert rejection(adapter, fixture("v201_transaction_event_started.json")).reason == (
        "unsupported_action"
    )
    # a 2.0.1-shaped MeterValues from a station configured as 1.6 lacks connectorId
    assert rejection(adapter, fixture("v201_meter_values.json")).reason == "missing_field"
    assert adapter.parse(TOPIC, fixture("v16_heartbeat.json")) == [
        Point("charger_heartbeat", SITE, {"alive": True}, NOW_NS)
    ]


def test_configured_201_station_reads_201_status(env: AdapterEnv) -> None:
    adapter = OcppAdapter({"versions": {CP: "2.0.1"}}, env)
    (point,) = adapter.parse(TOPIC, fixture("v201_status_notification.json"))
    assert point.fields["ocpp_version"] == "2.0.1"
    assert rejection(adapter, fixture("v16_start_transaction.json")).reason == (
        "unsupported_action"
    )


# ---- rejections, one per reason ----------------------------------------------------------


def test_unknown_device(adapter: OcppAdapter) -> None:
    error = rejection(adapter, fixture("v16_heartbeat.json"), topic="ocpp/cp/CP-ROGUE-99")
    assert error.reason == "unknown_device"


def test_bad_charge_point_id(adapter: OcppAdapter) -> None:
    assert rejection(adapter, fixture("v16_heartbeat.json"), topic="ocpp/cp/a,b").reason == (
        "bad_id"
    )


def test_invalid_json(adapter: OcppAdapter) -> None:
    assert rejection(adapter, b'[2, "1", "Heartbeat", {').reason == "invalid_json"


@pytest.mark.parametrize(
    "payload",
    [
        b'{"action": "Heartbeat"}',
        b"[]",
        b'[2, "1", "Heartbeat"]',
        b'[2, "1", "Heartbeat", {}, {}]',
        b'["2", "1", "Heartbeat", {}]',
        b'[5, "1", "Heartbeat", {}]',
        b'[2, 1, "Heartbeat", {}]',
        b'[2, "", "Heartbeat", {}]',
        b'[2, "' + b"x" * 37 + b'", "Heartbeat", {}]',
        b'[2, "1", 7, {}]',
        b'[2, "1", "Heartbeat", []]',
    ],
)
def test_bad_frame(adapter: OcppAdapter, payload: bytes) -> None:
    assert rejection(adapter, payload).reason == "bad_frame"


@pytest.mark.parametrize("name", ["v16_call_result.json", "v16_call_error.json"])
def test_replies_to_no_start_it_read_are_skipped(adapter: OcppAdapter, name: str) -> None:
    assert adapter.parse(TOPIC, fixture(name)) == []


def test_16_start_learns_its_transaction_id_from_the_callresult(adapter: OcppAdapter) -> None:
    """The gateway publishes the CALL, then its CALLRESULT (same message id): the reply's
    transactionId is added to the start's own point (same series and time: the store merges)."""
    (started,) = adapter.parse(TOPIC, fixture("v16_start_transaction.json"))
    other = json.dumps([3, "another-id", {"transactionId": 1, "idTagInfo": {}}]).encode()
    assert adapter.parse(TOPIC, other) == []
    assert adapter.parse("ocpp/cp/EVSE-OLDTOWN-7", fixture("v16_call_result.json")) == []
    assert adapter.parse(TOPIC, fixture("v16_call_result.json")) == [
        Point("charger_session", started.tags, {"transaction_id": "4711"}, started.time_ns)
    ]
    assert adapter.parse(TOPIC, fixture("v16_call_result.json")) == []  # answered once


def test_a_bad_sampled_value_is_refused_alone(adapter: OcppAdapter) -> None:
    payload = {
        "connectorId": 1,
        "meterValue": [
            {
                "timestamp": "2024-05-14T11:00:00Z",
                "sampledValue": [
                    {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kWh"},
                    {"value": "1500", "measurand": "Energy.Active.Import.Register"},
                ],
            }
        ],
    }
    parsed = adapter.parse(TOPIC, frame("MeterValues", payload))
    assert isinstance(parsed, Parsed)
    assert [p.fields for p in parsed] == [{"energy_import_wh": 1500.0}]
    assert [(r.reason, r.detail.split(":")[0]) for r in parsed.rejects] == [
        ("unit_mismatch", "sampled value Power.Active.Import")
    ]


@pytest.mark.parametrize("action", ["Bogus", "RemoteStartTransaction"])
def test_unsupported_action(adapter: OcppAdapter, action: str) -> None:
    error = rejection(adapter, frame(action, {"idTag": "04A2B3C4D5E6F7"}))
    assert error.reason == "unsupported_action"
    assert action in error.detail


@pytest.mark.parametrize("action", ["Authorize", "DataTransfer", "SecurityEventNotification"])
def test_requests_without_telemetry_are_skipped(adapter: OcppAdapter, action: str) -> None:
    assert adapter.parse(TOPIC, frame(action, {"idTag": "04A2B3C4D5E6F7"})) == []


def _meter_16(sample: dict[str, object], timestamp: str = "2024-05-14T11:00:00Z") -> bytes:
    return frame(
        "MeterValues",
        {"connectorId": 1, "meterValue": [{"timestamp": timestamp, "sampledValue": [sample]}]},
    )


def _meter_201(sample: dict[str, object]) -> bytes:
    return frame(
        "MeterValues",
        {
            "evseId": 1,
            "meterValue": [{"timestamp": "2024-05-14T11:00:00Z", "sampledValue": [sample]}],
        },
    )


@pytest.mark.parametrize("value", ["abc", "", "1,5", "12 kWh", "0x1F"])
def test_16_value_that_is_not_a_number(adapter: OcppAdapter, value: str) -> None:
    assert rejection(adapter, _meter_16({"value": value})).reason == "wrong_type"


def test_16_value_that_is_a_number_not_a_string(adapter: OcppAdapter) -> None:
    assert rejection(adapter, _meter_16({"value": 1234})).reason == "wrong_type"


@pytest.mark.parametrize("value", ["NaN", "nan", "Infinity", "-inf", "1e999"])
def test_16_value_not_finite(adapter: OcppAdapter, value: str) -> None:
    assert rejection(adapter, _meter_16({"value": value})).reason == "not_finite"


def test_201_nan(adapter: OcppAdapter) -> None:
    payload = b'[2, "1", "MeterValues", {"evseId": 1, "meterValue": [{"timestamp": '
    payload += b'"2024-05-14T11:00:00Z", "sampledValue": [{"value": NaN}]}]}]'
    assert rejection(adapter, payload).reason == "not_finite"


def test_201_value_as_string(adapter: OcppAdapter) -> None:
    assert rejection(adapter, _meter_201({"value": "12.5"})).reason == "wrong_type"


def test_future_timestamp(adapter: OcppAdapter) -> None:
    # 2024-05-14T14:10:00+02:00 is 10 minutes after the fixed clock; the limit is 5
    error = rejection(adapter, _meter_16({"value": "1"}, "2024-05-14T14:10:00+02:00"))
    assert error.reason == "future_timestamp"


@pytest.mark.parametrize("timestamp", ["yesterday", "1970-01-01T00:00:00Z"])
def test_bad_timestamp(adapter: OcppAdapter, timestamp: str) -> None:
    assert rejection(adapter, _meter_16({"value": "1"}, timestamp)).reason == "bad_timestamp"


@pytest.mark.parametrize(
    "payload",
    [
        frame("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Broken"}),
        frame("StatusNotification", {"connectorId": 1, "errorCode": "Oops", "status": "Available"}),
        frame(
            "StatusNotification",
            {
                "timestamp": "2024-05-14T11:00:00Z",
                "connectorStatus": "Charging",
                "evseId": 1,
                "connectorId": 1,
            },
        ),
        _meter_16({"value": "1", "measurand": "Energy.Active.Import"}),
        _meter_16({"value": "1", "unit": "MWh"}),
        _meter_16({"value": "1", "phase": "L4"}),
        _meter_16({"value": "1", "measurand": "Energy.Active.Net"}),  # 2.0.1 only
        _meter_201({"value": 1, "measurand": "Temperature"}),  # 1.6 only
        frame(
            "StopTransaction",
            {
                "transactionId": 1,
                "meterStop": 5,
                "timestamp": "2024-05-14T11:00:00Z",
                "reason": "Bored",
            },
        ),
    ],
)
def test_bad_enumeration_value(adapter: OcppAdapter, payload: bytes) -> None:
    assert rejection(adapter, payload).reason == "bad_value"


def test_missing_field(adapter: OcppAdapter) -> None:
    payload = frame("StartTransaction", {"connectorId": 1, "idTag": "A1", "meterStart": 0})
    error = rejection(adapter, payload)
    assert error.reason == "missing_field"
    assert "timestamp" in error.detail


def test_out_of_range(adapter: OcppAdapter) -> None:
    sample = {"value": 1, "unitOfMeasure": {"unit": "Wh", "multiplier": 12}}
    assert rejection(adapter, _meter_201(sample)).reason == "out_of_range"


def test_unknown_unit(adapter: OcppAdapter) -> None:
    sample = {"value": 1, "unitOfMeasure": {"unit": "furlong"}}
    assert rejection(adapter, _meter_201(sample)).reason == "unknown_unit"


def test_unit_mismatch(adapter: OcppAdapter) -> None:
    sample = {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kWh"}
    assert rejection(adapter, _meter_16(sample)).reason == "unit_mismatch"


def test_conflicting_values_at_one_instant(adapter: OcppAdapter) -> None:
    payload = {
        "connectorId": 1,
        "meterValue": [
            {"timestamp": "2024-05-14T11:00:00Z", "sampledValue": [{"value": "100"}]},
            {
                "timestamp": "2024-05-14T13:00:00+02:00",
                "sampledValue": [{"value": "0.2", "unit": "kWh"}],
            },
        ],
    }
    assert rejection(adapter, frame("MeterValues", payload)).reason == "conflicting_values"


def test_the_same_reading_twice_is_one_point(adapter: OcppAdapter) -> None:
    payload = {
        "connectorId": 1,
        "meterValue": [
            {"timestamp": "2024-05-14T11:00:00Z", "sampledValue": [{"value": "200"}]},
            {
                "timestamp": "2024-05-14T13:00:00+02:00",
                "sampledValue": [{"value": "0.2", "unit": "kWh"}],
            },
        ],
    }
    assert adapter.parse(TOPIC, frame("MeterValues", payload)) == [
        meter("1", "2024-05-14T11:00:00+00:00", energy_import_wh=200.0)
    ]
