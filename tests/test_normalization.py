"""Units and times: the one place where wire values become canonical ones."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import Rejected
from hub.timestamps import FixedClock, TimePolicy, epoch_to_ns, iso_to_ns, to_ns
from hub.units import to_canonical

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
S = 1_000_000_000


@pytest.mark.parametrize(
    ("value", "unit", "multiplier", "expected"),
    [
        (2.5, "kW", 0, (2500.0, "W")),
        (18.25, "kWh", 0, (18250.0, "Wh")),
        (7, "Wh", 3, (7000.0, "Wh")),  # OCPP 2.0.1 unitOfMeasure.multiplier
        (123, "W", -1, (12.3, "W")),
        (36, "km/h", 0, (10.0, "m/s")),
        (300, "K", 0, (pytest.approx(26.85), "Cel")),
        (212, "Fahrenheit", 0, (pytest.approx(100.0), "Cel")),
        (21, "Celcius", 0, (21.0, "Cel")),  # OCPP 1.6's own spelling
        (0.95, "/", 0, (95.0, "%")),
        (3, "kvarh", 0, (3000.0, "varh")),
    ],
)
def test_units_convert_to_canonical(value, unit, multiplier, expected) -> None:
    assert to_canonical(value, unit, multiplier) == expected


def test_unknown_units_and_overflow_are_rejected() -> None:
    with pytest.raises(Rejected, match="unknown_unit"):
        to_canonical(1.0, "horsepower")
    with pytest.raises(Rejected, match="not_finite"):
        to_canonical(1e308, "kWh")


@pytest.mark.parametrize(
    ("value", "expected_ns"),
    [
        (1_700_000_000, 1_700_000_000 * S),  # seconds (GTFS-RT, Shelly)
        (1_700_000_000.25, 1_700_000_000_250_000_000),
        (1_700_000_000_123, 1_700_000_000_123_000_000),  # milliseconds (gateways)
        (1_700_000_000_123_456, 1_700_000_000_123_456_000),  # microseconds
        (1_700_000_000_123_456_789, 1_700_000_000_123_456_789),  # nanoseconds
        ("1700000000", 1_700_000_000 * S),  # protobuf JSON uint64
        ("2023-11-14T22:13:20Z", 1_700_000_000 * S),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000 * S),
        ("2023-11-14T22:13:20.123456789Z", 1_700_000_000_123_456_789),
    ],
)
def test_timestamps_by_magnitude_and_iso(value, expected_ns) -> None:
    assert to_ns(value, UTC) == expected_ns


def test_naive_local_times_use_the_configured_zone_across_dst() -> None:
    # Berlin is UTC+1 in winter, UTC+2 in summer.
    assert iso_to_ns("2024-01-15T12:00:00", BERLIN) == iso_to_ns("2024-01-15T11:00:00Z", UTC)
    assert iso_to_ns("2024-07-15T12:00:00", BERLIN) == iso_to_ns("2024-07-15T10:00:00Z", UTC)


@pytest.mark.parametrize("value", ["yesterday", "²²²", "2024-13-01T00:00:00Z", True])
def test_unreadable_times_are_rejected(value) -> None:
    with pytest.raises(Rejected) as caught:
        to_ns(value, UTC)
    assert caught.value.reason == "bad_timestamp"


def test_epoch_rejects_negative_and_nan() -> None:
    for value in (-1.0, float("nan")):
        with pytest.raises(Rejected, match="bad_timestamp"):
            epoch_to_ns(value)


def test_policy_rejects_far_future_and_unset_clocks() -> None:
    now = 1_700_000_000 * S
    policy = TimePolicy(max_future_s=300, clock=FixedClock(now))
    assert policy.to_ns(1_700_000_299) == 1_700_000_299 * S
    with pytest.raises(Rejected, match="future_timestamp"):
        policy.to_ns(1_700_000_301)
    with pytest.raises(Rejected, match="bad_timestamp"):
        policy.to_ns(86_400)  # 1970: a device whose clock was never set


def test_policy_refuses_points_older_than_the_raw_retention() -> None:
    now, day = 1_700_000_000, 86_400
    policy = TimePolicy(clock=FixedClock(now * S), max_age_days=90)
    assert policy.to_ns(now - 90 * day + 1) == (now - 90 * day + 1) * S
    with pytest.raises(Rejected, match="beyond_retention") as refused:
        policy.to_ns(now - 90 * day - 1)
    assert "CITYHUB_RETENTION__RAW_DAYS" in str(refused.value)
    # Raw points kept forever: any time since 2000 is accepted.
    assert TimePolicy(clock=FixedClock(now * S)).to_ns(now - 3000 * day)


# Instants around Berlin's DST changes (a gap in March, a fold in October) and ordinary ones,
# written every way devices write them: Z, an offset, naive local, 0 to 9 fraction digits.
_NEAR = st.integers(-7200, 7200).map(lambda s: timedelta(seconds=s))
_MOMENTS = (
    st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
    | _NEAR.map(lambda near: datetime(2024, 3, 31, 1, tzinfo=UTC) + near)
    | _NEAR.map(lambda near: datetime(2024, 10, 27, 1, tzinfo=UTC) + near)
)


@given(moment=_MOMENTS, nanos=st.integers(0, 999), digits=st.integers(0, 9), form=st.integers(0, 2))
def test_iso_times_are_the_instants_astimezone_reads(
    moment: datetime, nanos: int, digits: int, form: int
) -> None:
    local = moment.astimezone(BERLIN)
    text = (moment if form == 0 else local).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}{nanos:03d}"[:digits]
    text += f".{fraction}" if digits else ""
    text += ("Z", local.isoformat()[-6:], "")[form]
    # the reference: datetime's own reading (to the microsecond), a naive time in Berlin
    micros = text[:20] + fraction[:6] + text[20 + digits :] if digits else text
    read = datetime.fromisoformat(micros)
    utc = (read if read.tzinfo else read.replace(tzinfo=BERLIN)).astimezone(UTC)
    expected = int(utc.replace(microsecond=0).timestamp()) * S + utc.microsecond * 1000
    assert iso_to_ns(text, BERLIN) == expected + int(fraction[6:9].ljust(3, "0"))
