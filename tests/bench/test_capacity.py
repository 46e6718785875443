"""The scale-out model's arithmetic (bench/capacity.py): rates, cores and brokers."""

from __future__ import annotations

import pytest

from bench.capacity import CITY, Family, measured_from_drain, plan, render_capacity


def test_the_city_s_message_rate_is_devices_over_interval() -> None:
    typical = sum(f.rate() for f in CITY)
    assert typical == pytest.approx(100_000 / 60 + 5_000 / 30 + 3_000 / 10)
    assert sum(f.rate(dense=True) for f in CITY) == pytest.approx(
        100_000 / 15 + 5_000 / 10 + 3_000 / 1
    )


def test_a_plan_sizes_every_part_for_catch_up_at_the_utilization_bound() -> None:
    city = (Family("sensors", 1_000_000, 10.0, 10.0),)  # 100k msg/s, sized for 200k
    result = plan(city, dense=False, hub_us=100.0, broker_us=8.0, store_us=20.0)
    assert (result.msg_per_s, result.sized_for) == (100_000, 200_000)
    assert result.hub_cores == 29  # 200k × 100 µs = 20 cores, at 70 %: 28.6
    assert result.brokers == 3  # 1.6 / 0.7 = 2.3 broker threads
    assert result.store_cores == 6  # 4 / 0.7 = 5.7
    tiny = plan((Family("one", 1, 60.0, 60.0),), dense=False, hub_us=1, broker_us=1, store_us=1)
    assert (tiny.hub_cores, tiny.brokers, tiny.store_cores) == (1, 1, 1)


def test_the_model_reads_its_inputs_from_the_drain_rows() -> None:
    rows = [
        {"key": "c", "status": "ok", "messages": 100_000, "cpu_us_per_message": 90.0},
        {"key": "d", "status": "ok", "messages": 100_000, "cpu_us_per_message": 110.0,
         "broker_cpu_s": {"receive": 0.4, "deliver": 0.5}, "store_cpu_s": 2.0},
        {"key": "e", "status": "ok", "messages": 100_000, "cpu_us_per_message": 112.0},
    ]  # fmt: skip
    measured = measured_from_drain(rows)
    assert measured == pytest.approx(
        {"hub_us": 110.0, "broker_receive_us": 4.0, "broker_deliver_us": 5.0, "store_us": 20.0,
         "hub_duckdb_us": 90.0, "two_hubs_us": 112.0}
    )  # fmt: skip
    text = "\n".join(render_capacity(rows))
    assert "one broker thread at 111,111 msg/s" in text
    assert "Two hubs on a shared subscription spent 112 µs/msg together" in text
    assert "| typical | 60 s, 30 s, 10 s | 2,133 | 4,267 | 1 | 1 | 1 |" in text
    assert measured_from_drain([{"key": "d", "status": "failed"}]) is None
