"""SenML meters through a real Mosquitto, the hub process, DuckDB and the HTTP API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.broker import Mosquitto
from hub.insights.context import format_time
from tests.conftest import ADMIN_KEY, HubProcess, Publisher, wait_until, write_registry

HOUR_NS = 3600 * 10**9
# Two whole hours that ended at least an hour ago (the hub rejects future times).
H0 = (time.time_ns() // HOUR_NS - 3) * HOUR_NS
H1 = H0 + HOUR_NS
MINUTE_NS = 60 * 10**9


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Publisher]]:
    tmp = tmp_path_factory.mktemp("e2e")
    broker = Mosquitto(tmp / "broker").start()
    registry = write_registry(
        tmp / "registry.json",
        {
            "m-1": {"building": "b-1", "district": "harbour"},
            "m-2": {"building": "b-2", "district": "harbour"},
        },
    )
    hub = HubProcess(
        tmp,
        broker.port,
        CITYHUB_INGEST__REGISTRY_FILE=str(registry),
        CITYHUB_INGEST__ADAPTERS='["senml"]',
    ).start()
    publisher = Publisher(broker.port)
    yield hub, publisher
    publisher.close()
    hub.stop()
    broker.stop()


def senml(time_ns: int, power_w: float, energy_kwh: float) -> str:
    return json.dumps(
        [
            {"bn": "urn:dev:mac:0024befffe804ff1:", "bt": time_ns / 1e9, "bu": "W"},
            {"n": "power", "v": power_w},
            {"n": "energy", "u": "kWh", "s": energy_kwh},
        ]
    )


def aggregate(hub: HubProcess, **params: object) -> list[dict]:
    with hub.client() as client:
        response = client.get("/api/v1/aggregate", params=params)
    assert response.status_code == 200, response.text
    return response.json()["series"]


def test_aggregates_are_exact_including_a_counter_reset(stack) -> None:
    hub, publisher = stack
    # m-1, every 10 minutes over two hours. Hour 0: power 1000..6000 W, register 10.0..10.5 kWh.
    # Hour 1: power 600..100 W; the register goes 10.6, 10.7, then the meter is replaced and
    # counts again from 0.05 kWh: 0.05, 0.15, 0.25, 0.35.
    powers = [1000, 2000, 3000, 4000, 5000, 6000, 600, 500, 400, 300, 200, 100]
    registers_kwh = [10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.6, 10.7, 0.05, 0.15, 0.25, 0.35]
    messages = [
        ("senml/m-1", senml(H0 + i * 10 * MINUTE_NS, powers[i], registers_kwh[i]))
        for i in range(12)
    ]
    messages.append(("senml/m-2", senml(H0 + 5 * MINUTE_NS, 50.0, 1.0)))
    publisher.publish_all(messages)

    params = {
        "measurement": "building_energy",
        "every": "1h",
        "start": format_time(H0),
        "end": format_time(H0 + 2 * HOUR_NS),
        "group_by": "building",
        "where": "building:b-1",
    }
    wait_until(
        lambda: aggregate(hub, field="power_w", fn="count", **params)
        == [{"tags": {"building": "b-1"}, "points": [
            {"time": format_time(H0), "value": 6.0}, {"time": format_time(H1), "value": 6.0}]}],
        message="the 12 readings of m-1 were not all stored",
    )  # fmt: skip

    mean = aggregate(hub, field="power_w", fn="mean", **params)
    assert mean == [
        {
            "tags": {"building": "b-1"},
            "points": [
                {"time": format_time(H0), "value": 3500.0},
                {"time": format_time(H1), "value": 350.0},
            ],
        }
    ]
    increase = aggregate(hub, field="energy_import_wh", fn="increase", **params)
    # Hour 0: 10.0 -> 10.5 kWh = 500 Wh. Hour 1: 100 (10.5 -> 10.6) + 100, then the reset
    # counts the new meter's 50 Wh, then 3 x 100 Wh: 550 Wh.
    [series] = increase
    assert [p["time"] for p in series["points"]] == [format_time(H0), format_time(H1)]
    assert [p["value"] for p in series["points"]] == pytest.approx([500.0, 550.0])

    # Without the filter, grouping by building shows both buildings.
    del params["where"]
    grouped = aggregate(hub, field="power_w", fn="max", **params)
    assert {s["tags"]["building"]: s["points"][0]["value"] for s in grouped} == {
        "b-1": 6000.0,
        "b-2": 50.0,
    }


def test_bad_messages_become_dead_letters_and_ingest_continues(stack) -> None:
    hub, publisher = stack
    when = H0 + 30 * MINUTE_NS
    bad = [
        ("senml/m-2", b'[{"n": "power", "u": "W", "v": 1'),  # malformed JSON
        ("senml/m-2", json.dumps([{"bt": when / 1e9, "n": "power", "u": "W", "v": "12"}])),
        ("senml/m-2", f'[{{"bt": {when / 1e9}, "n": "power", "u": "W", "v": NaN}}]'),
        ("senml/m-404", senml(when, 1.0, 1.0)),  # not in the registry
    ]
    good_after = ("senml/m-2", senml(when, 77.0, 2.0))
    publisher.publish_all([*bad, good_after])

    def power_at_when() -> list[dict]:
        return aggregate(
            hub,
            measurement="building_energy",
            field="power_w",
            fn="last",
            start=format_time(when),
            end=format_time(when + MINUTE_NS),
            where="building:b-2",
        )

    assert wait_until(power_at_when)[0]["points"][0]["value"] == 77.0

    with hub.client(ADMIN_KEY) as client:
        letters = client.get("/api/v1/dead-letters", params={"limit": 10}).json()["dead_letters"]
        counts = client.get("/api/v1/dead-letters/counts").json()
    by_reason = {letter["reason"]: letter for letter in letters}
    assert set(by_reason) == {"invalid_json", "wrong_type", "not_finite", "unknown_device"}
    assert by_reason["invalid_json"]["payload"] == '[{"n": "power", "u": "W", "v": 1'
    assert by_reason["wrong_type"]["topic"] == "senml/m-2"
    assert by_reason["wrong_type"]["adapter"] == "senml"
    assert "0.v" in by_reason["wrong_type"]["detail"]
    assert "m-404" in by_reason["unknown_device"]["detail"]
    assert counts == {
        "counts": {"invalid_json": 1, "not_finite": 1, "unknown_device": 1, "wrong_type": 1},
        "total": 4,
    }
    with hub.client(ADMIN_KEY) as client:
        filtered = client.get("/api/v1/dead-letters", params={"reason": "not_finite"}).json()
    assert [d["reason"] for d in filtered["dead_letters"]] == ["not_finite"]

    # The metrics count them by reason too.
    with hub.client() as client:
        metrics = client.get("/metrics").text
    assert 'cityhub_dead_letters_total{reason="wrong_type"} 1.0' in metrics


def test_catalog_and_latest_show_the_meters(stack) -> None:
    hub, _ = stack
    with hub.client() as client:
        catalog = client.get("/api/v1/catalog").json()
        latest = client.get(
            "/api/v1/latest", params={"measurement": "building_energy", "where": "device:m-1"}
        ).json()
    [energy] = [m for m in catalog["measurements"] if m["name"] == "building_energy"]
    assert energy["fields"] == {"power_w": "float", "energy_import_wh": "float"}
    assert set(energy["tags"]) == {"building", "district", "device"}
    devices = {d["device"]: d for d in catalog["devices"]}
    assert devices["m-1"]["points"] == 12
    assert devices["m-1"]["last_seen"] == format_time(H0 + 110 * MINUTE_NS)
    [row] = latest["rows"]
    assert row["tags"] == {"building": "b-1", "district": "harbour", "device": "m-1"}
    assert row["fields"] == {"power_w": 100.0, "energy_import_wh": pytest.approx(350.0)}


def test_api_refuses_bad_requests_with_a_message(stack) -> None:
    hub, _ = stack
    with hub.client() as client:
        cases = {
            "/api/v1/aggregate?measurement=building_energy&field=power_w&fn=median": "median",
            "/api/v1/aggregate?measurement=building_energy&field=power_w&every=1x": "every",
            "/api/v1/aggregate?measurement=building_energy&field=power_w&start=yesterday": "start",
            "/api/v1/aggregate?measurement=building_energy&field=power_w&every=1s&start=-30d": (
                "limit"
            ),
            "/api/v1/aggregate?measurement=x;drop&field=power_w": "valid",
            "/api/v1/latest?measurement=building_energy&where=building": "tag:value",
        }
        for url, expected in cases.items():
            response = client.get(url)
            assert response.status_code == 400, url
            assert expected in response.json()["detail"], (url, response.json())
        assert client.get("/api/v1/dead-letters").status_code == 403
    with hub.client(key="wrong") as client:
        assert client.get("/api/v1/catalog").status_code == 401
    with hub.client(key="") as client:
        response = client.get("/api/v1/catalog", headers={"X-API-Key": ""})
        assert response.status_code == 401


def test_readiness_and_docs(stack, tmp_path: Path) -> None:
    hub, _ = stack
    with hub.client() as client:
        ready = client.get("/ready").json()
        assert ready["ready"] is True
        assert ready["checks"]["mqtt"]["ok"] and ready["checks"]["store"]["ok"]
        assert client.get("/docs").status_code == 200
        assert "/api/v1/aggregate" in client.get("/openapi.json").json()["paths"]


def test_raw_points_in_time_order_as_json_and_csv(stack) -> None:
    hub, _ = stack
    params = {
        "measurement": "building_energy",
        "fields": "power_w",
        "start": format_time(H0),
        "end": format_time(H0 + 2 * HOUR_NS),
        "where": "device:m-1",
    }
    with hub.client() as client:
        page = client.get("/api/v1/points", params={**params, "limit": 5}).json()
        everything = client.get("/api/v1/points", params=params).json()
        csv_text = client.get("/api/v1/points", params={**params, "format": "csv"}).text
        too_many = client.get("/api/v1/points", params={**params, "limit": 10**9})
    assert page["truncated"] is True
    assert [p["fields"]["power_w"] for p in page["points"]] == [1000, 2000, 3000, 4000, 5000]
    assert everything["truncated"] is False
    assert [p["time"] for p in everything["points"]] == [
        format_time(H0 + i * 10 * MINUTE_NS) for i in range(12)
    ]
    lines = csv_text.strip().splitlines()
    assert lines[0] == "time,building,device,district,power_w"
    assert lines[1] == f"{format_time(H0)},b-1,m-1,harbour,1000.0"
    assert len(lines) == 13
    assert too_many.status_code == 400 and "CITYHUB_API__MAX_POINTS" in too_many.text
