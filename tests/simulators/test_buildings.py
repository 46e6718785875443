"""Load curves, HVAC weather effects and energy registers of the simulated buildings."""

from __future__ import annotations

from itertools import pairwise
from statistics import mean

from simulators.buildings.kinds import KINDS
from simulators.buildings.loadcurve import load_curve
from simulators.buildings.meter import Meter
from simulators.scenario import City
from simulators.simtime import DAY_S, HOUR_S
from simulators.weather import outdoor_temperature_c
from tests.simulators.conftest import MONDAY_NS, NS

MONDAY_S = MONDAY_NS // NS  # 2026-03-02


def _density(kind: str, day: int, hour: int, base_s: int = MONDAY_S) -> float:
    return load_curve(KINDS[kind], 0).power_w_per_m2(base_s + day * DAY_S + hour * HOUR_S)


def test_office_peaks_on_weekday_daytime_and_idles_at_weekends() -> None:
    weekday_noon = mean(_density("office", day, 11) for day in range(5))
    weekday_night = mean(_density("office", day, 3) for day in range(5))
    weekend_noon = mean(_density("office", day, 11) for day in (5, 6))
    assert weekday_noon > 2.5 * weekday_night
    assert weekday_noon > 2 * weekend_noon
    assert max(range(24), key=lambda hour: _density("office", 1, hour)) in range(8, 17)


def test_school_is_empty_at_weekends_and_hospital_never_sleeps() -> None:
    assert _density("school", 2, 10) > 3 * _density("school", 5, 10)
    assert _density("hospital", 2, 3) > 0.6 * _density("hospital", 2, 11)


def test_residential_peaks_in_the_evening() -> None:
    evening = mean(_density("residential", day, 19) for day in range(5))
    late_morning = mean(_density("residential", day, 10) for day in range(5))
    assert evening > 1.8 * late_morning


def test_heating_raises_winter_load() -> None:
    january = MONDAY_S - 7 * 7 * DAY_S  # 2026-01-12
    may = MONDAY_S + 10 * 7 * DAY_S  # 2026-05-11
    assert mean(outdoor_temperature_c(january + h * HOUR_S) for h in range(24 * 7)) < 5
    assert mean(outdoor_temperature_c(may + h * HOUR_S) for h in range(24 * 7)) > 10
    for kind in KINDS:
        assert _density(kind, 1, 3, january) > _density(kind, 1, 3, may), kind


def test_register_grows_by_the_integral_of_power(city: City) -> None:
    meter = city.meters[0]
    start = MONDAY_S + 6 * HOUR_S
    for t in range(start, start + 2 * DAY_S, 3 * HOUR_S):
        if meter.register_events(t, t + HOUR_S):
            continue
        used_wh = meter.register_wh(t + HOUR_S) - meter.register_wh(t)
        assert used_wh > 0
        # the hour's mean power times one hour, within the noise
        assert abs(used_wh - meter.mean_power_w(t)) < 1e-6 * used_wh + 1e-6


def _meter_with_event(city: City) -> tuple[Meter, int]:
    for meter in city.meters:
        events = meter.register_events(MONDAY_S - 400 * DAY_S, MONDAY_S)
        if events:
            return meter, events[0].time_s
    raise AssertionError("no meter of the city restarted its register in 400 days")


def test_registers_are_monotonic_except_at_resets(city: City) -> None:
    meter, event_s = _meter_with_event(city)
    start, end = (event_s - 2 * HOUR_S) * NS, (event_s + 2 * HOUR_S) * NS
    readings = [
        (e.time_ns, e.fields["energy_import_wh"])
        for m in city.messages(start, end)
        if m.device == meter.meter_id
        for e in m.truth
    ]
    readings.sort()
    drops = [(t1, w0, w1) for (t0, w0), (t1, w1) in pairwise(readings) if w1 < w0]
    assert len(drops) == 1, drops
    assert drops[0][0] // NS >= event_s
    resets = [e for m in city.meters for e in m.register_events(start // NS, end // NS)]
    assert resets, "the drop is one of the reported register events"


def test_every_building_kind_and_meter_format_exist() -> None:
    city = City.build(seed=3, buildings=40)
    assert {b.kind for b in city.buildings} == set(KINDS)
    assert {m.wire for m in city.meters} == {"senml", "tasmota", "shelly"}
