"""Mapping failures: each start-up error names the file, the mapping and the key; each run-time
failure is a rejection naming the mapping and the expression that failed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hub.contracts import AdapterEnv, Parsed
from hub.devices import DeviceRegistry
from hub.errors import ConfigError, Rejected
from hub.mapping import load_mappings
from hub.points import Point
from hub.timestamps import FixedClock, TimePolicy
from hub.topics import TopicFilter, TopicRouter

NOW_NS = 1_733_000_000 * 1_000_000_000
GOOD = """
mappings:
  - name: plug
    topic: "plugs/{device}"
    measurement: building_energy
    device: "{device}"
    fields:
      power_w: {path: power, unit: W}
"""


def env() -> AdapterEnv:
    devices = DeviceRegistry({"p-1": {"building": "b-1"}})
    return AdapterEnv(time=TimePolicy(clock=FixedClock(NOW_NS)), devices=devices)


def write(tmp_path: Path, text: str, name: str = "mappings.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_mappings(path, env())
    message = str(error.value)
    assert message.startswith(f"CITYHUB_INGEST__MAPPINGS_FILE: {path}: ")
    return message


def test_bad_expression_stops_start_up_naming_mapping_and_key(tmp_path) -> None:
    message = load_error(tmp_path, GOOD.replace("path: power", "path: 'power[?'"))
    assert "mapping 'plug': fields.power_w.path: bad JMESPath expression 'power[?'" in message


def test_unknown_unit_stops_start_up(tmp_path) -> None:
    message = load_error(tmp_path, GOOD.replace("unit: W}", "unit: kW/h}"))
    assert "mapping 'plug': fields.power_w.unit: unit 'kW/h' is not one the hub converts" in (
        message
    )


def test_unit_of_the_wrong_kind_for_a_canonical_field(tmp_path) -> None:
    message = load_error(tmp_path, GOOD.replace("unit: W}", "unit: kWh}"))
    assert "fields.power_w.unit: 'kWh' converts to Wh, power_w is in W" in message


def test_unknown_canonical_field_of_a_known_measurement(tmp_path) -> None:
    message = load_error(tmp_path, GOOD.replace("power_w:", "power_kw:"))
    assert "mapping 'plug': fields.power_kw: building_energy has no field 'power_kw'" in message


def test_a_new_measurement_takes_any_field_name(tmp_path) -> None:
    text = GOOD.replace("building_energy", "plug_state").replace("power_w:", "load_w:")
    (adapter,) = load_mappings(write(tmp_path, text), env())
    assert adapter.parse("plugs/p-1", b'{"power": 5}') == [
        Point("plug_state", {"building": "b-1", "device": "p-1"}, {"load_w": 5.0}, NOW_NS)
    ]


def test_misspelt_key_and_undefined_level_are_named(tmp_path) -> None:
    message = load_error(tmp_path, GOOD.replace("unit: W}", "unt: W}"))
    assert "mapping 'plug': fields.power_w.unt: Extra inputs are not permitted" in message
    message = load_error(tmp_path, GOOD.replace('device: "{device}"', 'device: "{meter}"'))
    assert "mapping 'plug': device: {meter} is not a named topic level" in message


def test_equal_specificity_overlap_is_refused(tmp_path) -> None:
    text = GOOD + GOOD.replace("name: plug", "name: other").replace("mappings:\n", "")
    adapters = load_mappings(write(tmp_path, text), env())
    with pytest.raises(ConfigError, match=r"'plug' \(plugs/\+\) and 'other' \(plugs/\+\) claim"):
        TopicRouter(((a.topics, a) for a in adapters), name=lambda a: a.name)
    # a more specific filter is not a tie: it wins its topics
    router = TopicRouter(
        [((TopicFilter("+/status/+"),), "family"), ((TopicFilter("+/status/em:0"),), "em")]
    )
    assert router.route("x/status/em:0") == "em"
    assert router.route("x/status/switch:0") == "family"


def test_duplicate_names_and_include(tmp_path) -> None:
    write(tmp_path, GOOD, "base.yaml")
    main = write(tmp_path, "include: [base.yaml]\n" + GOOD.replace("plugs/", "sockets/"))
    with pytest.raises(ConfigError, match=r"mapping 'plug': name: already used by .*base.yaml"):
        load_mappings(main, env())
    main.write_text("include: [base.yaml]\n")
    assert [a.name for a in load_mappings(main, env())] == ["plug"]
    with pytest.raises(ConfigError, match="name: already used by a built-in adapter"):
        load_mappings(main, env(), taken_names={"plug"})


def test_missing_value_at_run_time_names_mapping_and_expression(tmp_path) -> None:
    (adapter,) = load_mappings(write(tmp_path, GOOD), env())
    with pytest.raises(Rejected) as error:
        adapter.parse("plugs/p-1", b'{"voltage": 230}')
    assert error.value.reason == "missing_field"
    assert error.value.detail == "mapping 'plug': fields.power_w 'power' found nothing"


def test_mistyped_value_and_bad_payloads_at_run_time(tmp_path) -> None:
    (adapter,) = load_mappings(write(tmp_path, GOOD), env())
    with pytest.raises(Rejected) as error:
        adapter.parse("plugs/p-1", b'{"power": "12 W"}')
    assert error.value.reason == "wrong_type"
    assert "mapping 'plug': fields.power_w 'power' gave str '12 W', not a number" in str(
        error.value
    )
    for payload, reason in [
        (b'{"power": NaN}', "invalid_json"),
        (b"[" * 100_000, "invalid_json"),
        (b'{"power": true}', "wrong_type"),
    ]:
        with pytest.raises(Rejected, match=reason):
            adapter.parse("plugs/p-1", payload)
    with pytest.raises(Rejected, match="unknown_device"):
        adapter.parse("plugs/p-2", b'{"power": 1}')


def test_each_time_formats_and_tags(tmp_path) -> None:
    text = """
    mappings:
      - name: gateway
        topic: "gw/{site}/up"
        measurement: indoor_climate
        device: {item: id}
        registry: "off"
        time: {path: ts, format: epoch_ms}
        each: sensors
        tags: {site: "{site}", slot: "{index}", floor: {item: floor}, kind: climate}
        fields:
          temperature_c: {path: t.value, unit: Fahrenheit}
          humidity_pct: {path: rh, unit: ratio, optional: true}
    """
    (adapter,) = load_mappings(write(tmp_path, text), env())
    payload = (
        b'{"ts": 1732999999500, "sensors": [{"id": "s-1", "floor": 2, "t": {"value": 212},'
        b' "rh": 0.5}, {"id": "s-2", "floor": 3, "t": {"value": 32}}]}'
    )
    time_ns = 1_732_999_999_500_000_000
    base = {"site": "depot", "kind": "climate"}
    assert adapter.parse("gw/depot/up", payload) == [
        Point(
            "indoor_climate",
            {"device": "s-1", **base, "slot": "1", "floor": "2"},
            {"temperature_c": pytest.approx(100.0), "humidity_pct": 50.0},
            time_ns,
        ),
        Point(
            "indoor_climate",
            {"device": "s-2", **base, "slot": "2", "floor": "3"},
            {"temperature_c": pytest.approx(0.0)},
            time_ns,
        ),
    ]
    with pytest.raises(Rejected, match=r"mapping 'gateway': each 'sensors' did not yield a list"):
        adapter.parse("gw/depot/up", b'{"ts": 1732999999500, "sensors": {}}')
    with pytest.raises(Rejected, match="future_timestamp"):
        adapter.parse("gw/depot/up", payload.replace(b"1732999999500", b"1832999999500"))


@pytest.mark.parametrize(
    ("fmt", "value", "expected_ns"),
    [
        ("epoch_s", "1732999999", 1_732_999_999_000_000_000),
        ("epoch_s", "1732999999.25", 1_732_999_999_250_000_000),
        ("epoch_ns", "1732999999000000001", 1_732_999_999_000_000_001),
        ("rfc3339", '"2024-11-30T21:53:19.5+01:00"', 1_732_999_999_500_000_000),
        ("local", '"2024-11-30T22:53:19"', 1_732_999_999_000_000_000),  # Europe/Helsinki
        ("auto", '"1732999999"', 1_732_999_999_000_000_000),
    ],
)
def test_time_formats(tmp_path, fmt: str, value: str, expected_ns: int) -> None:
    from zoneinfo import ZoneInfo

    text = GOOD.replace("    fields:", f"    time: {{path: ts, format: {fmt}}}\n    fields:")
    environment = AdapterEnv(
        time=TimePolicy(zone=ZoneInfo("Europe/Helsinki"), clock=FixedClock(NOW_NS)),
        devices=DeviceRegistry({"p-1": {}}),
    )
    (adapter,) = load_mappings(write(tmp_path, text), environment)
    (point,) = adapter.parse("plugs/p-1", f'{{"power": 1, "ts": {value}}}'.encode())
    assert point.time_ns == expected_ns


def test_rfc3339_needs_an_offset(tmp_path) -> None:
    text = GOOD.replace("    fields:", "    time: {path: ts, format: rfc3339}\n    fields:")
    (adapter,) = load_mappings(write(tmp_path, text), env())
    with pytest.raises(Rejected, match=r"mapping 'plug': time 'ts' .*needs an offset"):
        adapter.parse("plugs/p-1", b'{"power": 1, "ts": "2024-11-30T21:53:19"}')


def test_numbers_beyond_float_range_are_not_finite(tmp_path) -> None:
    (adapter,) = load_mappings(write(tmp_path, GOOD), env())
    for payload in (b'{"power": 1e400}', b'{"power": 1' + b"0" * 400 + b"}"):
        with pytest.raises(Rejected) as error:
            adapter.parse("plugs/p-1", payload)
        assert error.value.reason == "not_finite"
        assert error.value.detail == "mapping 'plug': fields.power_w 'power' is not finite"


def test_each_element_is_refused_on_its_own(tmp_path) -> None:
    text = """
    mappings:
      - name: strip
        topic: "strips/{device}"
        measurement: building_energy
        device: "{device}"
        each: outlets
        tags: {channel: "{index}"}
        fields:
          power_w: {path: w, unit: W}
    """
    (adapter,) = load_mappings(write(tmp_path, text), env())
    parsed = adapter.parse("strips/p-1", b'{"outlets": [{"w": 5}, {"w": "x"}, {"w": 7}]}')
    assert [(p.tags["channel"], p.fields) for p in parsed] == [
        ("1", {"power_w": 5.0}),
        ("3", {"power_w": 7.0}),
    ]
    assert isinstance(parsed, Parsed)
    [reject] = parsed.rejects
    assert (reject.reason, reject.detail) == (
        "wrong_type",
        "mapping 'strip': element 2: fields.power_w 'w' gave str 'x', not a number",
    )
    with pytest.raises(Rejected, match=r"mapping 'strip': element 1: fields\.power_w 'w' found"):
        adapter.parse("strips/p-1", b'{"outlets": [{}]}')
