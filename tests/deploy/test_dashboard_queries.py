"""Every InfluxQL query of the Grafana dashboard runs on a real InfluxDB and returns data.

The data is written as the hub writes it: real-format payloads (SenML packs, OCPP 1.6 frames,
a GTFS-Realtime JSON feed) go through the installed adapters and the InfluxDB store
(``InfluxDBStore``, v1 ``/write`` on Debian's influxd 1.6; the compose stack's InfluxDB 2.7
answers the same InfluxQL on ``/query`` for the bucket through its virtual DBRP mapping).
The queries are sent the way the provisioned data source sends them: POSTed form, ``db`` =
the bucket, header ``Authorization: Token ...``, with Grafana's macros substituted:
``$timeFilter`` → ``time >= <from>ms and time <= <to>ms``, ``$__interval``/``$interval`` →
the panel's minimum interval or 5m, and each template variable → the regex Grafana builds
for "All" (``(v1|v2)``) from the values its own ``SHOW TAG VALUES`` query returns.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import yaml

from hub.contracts import AdapterEnv
from hub.devices import DeviceRegistry
from hub.plugins import load_adapters
from hub.points import Point
from hub.stores.influxdb import InfluxDBStore
from hub.timestamps import TimePolicy
from tests.deploy.stack import DASHBOARD, DATASOURCE
from tests.servers_influx import (
    RunningServer,
    ServerMissing,
    start_influxd,
    start_victoria_metrics,
    stop_server,
)

pytestmark = pytest.mark.influxdb

BUCKET = "cityhub"
TOKEN = "grafana-token-0123456789"
REGISTRY = {
    "m-0001": {"building": "b-001", "district": "harbour"},
    "m-0002": {"building": "b-002", "district": "old-town"},
    "CP-0001": {"site": "harbour-garage", "district": "harbour"},
    "CP-0002": {"site": "old-town-square", "district": "old-town"},
}
STATUSES = {
    ("CP-0001", 1): "Charging",
    ("CP-0001", 2): "Available",
    ("CP-0002", 1): "Faulted",
    ("CP-0002", 2): "Unavailable",
}
STEP_S = 900
STEPS = 12  # three hours of readings


def iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


def city_messages(now_s: int) -> list[tuple[str, bytes]]:
    """Three hours of the three families, in the formats the devices publish."""
    messages: list[tuple[str, str]] = []
    start = now_s - STEPS * STEP_S
    for step in range(STEPS):
        at = start + step * STEP_S
        for index, meter in enumerate(("m-0001", "m-0002")):
            pack = [
                {
                    "bn": f"urn:dev:{meter}:",
                    "bt": at,
                    "n": "power",
                    "u": "W",
                    "v": 1000.0 * (index + 1) + step,
                },
                {"n": "energy", "u": "Wh", "s": 50_000.0 + 250.0 * (index + 1) * step},
            ]
            messages.append((f"senml/{meter}", json.dumps(pack)))
        for charger in ("CP-0001", "CP-0002"):
            sampled = [
                {
                    "value": str(7400 if step % 2 == 0 else 0),
                    "measurand": "Power.Active.Import",
                    "unit": "W",
                },
                {
                    "value": str(10 + step * 1.5),
                    "measurand": "Energy.Active.Import.Register",
                    "unit": "kWh",
                },
            ]
            frame = [
                2,
                f"mv-{step}",
                "MeterValues",
                {"connectorId": 1, "meterValue": [{"timestamp": iso(at), "sampledValue": sampled}]},
            ]
            messages.append((f"ocpp/cp/{charger}", json.dumps(frame)))
        entities = [
            {
                "id": f"vp-{bus}",
                "vehicle": {
                    "trip": {"tripId": f"{route}-{step}", "routeId": route},
                    "vehicle": {"id": bus},
                    "position": {
                        "latitude": 52.5 + step / 1000,
                        "longitude": 13.4,
                        "bearing": 90.0,
                        "speed": 8.0 + step,
                    },
                    "timestamp": str(at),
                    "occupancyStatus": "FEW_SEATS_AVAILABLE",
                },
            }
            for bus, route in (("bus-2101", "M5"), ("bus-2102", "X9"))
        ]
        feed = {"header": {"gtfsRealtimeVersion": "2.0", "timestamp": str(at)}, "entity": entities}
        messages.append(("gtfsrt/regio/vehicle_positions", json.dumps(feed)))
    for (charger, connector), status in STATUSES.items():
        frame = [
            2,
            f"st-{connector}",
            "StatusNotification",
            {
                "connectorId": connector,
                "errorCode": "NoError",
                "status": status,
                "timestamp": iso(now_s - 600),
            },
        ]
        messages.append((f"ocpp/cp/{charger}", json.dumps(frame)))
    start_tx = [
        2,
        "tx-1",
        "StartTransaction",
        {
            "connectorId": 1,
            "idTag": "04A2B3C4",
            "meterStart": 10000,
            "timestamp": iso(now_s - 3000),
        },
    ]
    messages.append(("ocpp/cp/CP-0001", json.dumps(start_tx)))
    return [(topic, payload.encode()) for topic, payload in messages]


def parse_as_the_hub(messages: list[tuple[str, bytes]]) -> list[Point]:
    env = AdapterEnv(time=TimePolicy(zone=ZoneInfo("UTC")), devices=DeviceRegistry(REGISTRY))
    adapters = load_adapters(None, {}, env)
    points = []
    for topic, payload in messages:
        owners = [a for a in adapters if any(f.matches(topic) for f in a.topics)]
        assert len(owners) == 1, topic
        points += owners[0].parse(topic, payload)
    return points


@pytest.fixture(scope="module")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    try:
        server = start_influxd(tmp_path_factory.mktemp("influxd"), BUCKET)
    except ServerMissing as missing:
        pytest.skip(str(missing))
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def city(influxd: RunningServer) -> tuple[int, int]:
    """The city written as the hub writes it; the dashboard's time range (ms) around it."""
    now_s = int(time.time())
    points = parse_as_the_hub(city_messages(now_s))
    measurements = {point.measurement for point in points}
    assert {
        "building_energy",
        "charger_meter",
        "charger_status",
        "charger_session",
        "bus_position",
    } <= measurements
    store = InfluxDBStore(influxd.url, BUCKET, api="v1")
    try:
        assert store.write(points) == []
    finally:
        store.close()
    return (now_s - 6 * 3600) * 1000, (now_s + 60) * 1000


def grafana_query(server: RunningServer, statement: str) -> list[dict]:
    """POST the query as the provisioned data source does; the series, or an assertion."""
    source = yaml.safe_load(DATASOURCE.read_text())["datasources"][0]
    assert source["jsonData"]["httpMode"] == "POST"
    header = source["jsonData"]["httpHeaderName1"]
    value = source["secureJsonData"]["httpHeaderValue1"].replace("$INFLUXDB_TOKEN", TOKEN)
    database = source["jsonData"]["dbName"].replace("$INFLUXDB_BUCKET", BUCKET)
    form = urllib.parse.urlencode({"q": statement, "db": database, "epoch": "ms"}).encode()
    request = urllib.request.Request(
        f"{server.url}/query", data=form, method="POST", headers={header: value}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        document = json.loads(response.read())
    (result,) = document["results"]
    assert "error" not in result, f"{statement}\n→ {result['error']}"
    return result.get("series", [])


def has_values(series: list[dict]) -> bool:
    return any(
        any(value is not None for value in row[1:]) for block in series for row in block["values"]
    )


def dashboard_queries() -> list[tuple[str, str, dict]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (f"{panel['title']} [{target['refId']}]", target["query"], panel)
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def test_the_dashboard_has_a_query_for_each_part_of_the_city() -> None:
    text = " ".join(query for _, query, _ in dashboard_queries())
    for measurement in (
        "building_energy",
        "charger_meter",
        "charger_status",
        "charger_session",
        "bus_position",
    ):
        assert f'FROM "{measurement}"' in text, measurement
    assert len(dashboard_queries()) >= 10


def test_every_dashboard_query_returns_data(influxd: RunningServer, city: tuple[int, int]) -> None:
    start_ms, end_ms = city
    variables = json.loads(DASHBOARD.read_text())["templating"]["list"]
    regexes = {}
    for variable in variables:
        series = grafana_query(influxd, variable["query"])
        values = sorted({row[1] for block in series for row in block["values"]})
        assert values, f"variable {variable['name']} has no values"
        regexes[variable["name"]] = "(" + "|".join(re.escape(v) for v in values) + ")"
    checked = 0
    for name, query, panel in dashboard_queries():
        interval = panel.get("interval", "5m")
        statement = query.replace("$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms")
        statement = statement.replace("$__interval", interval).replace("$interval", interval)
        for variable, regex in regexes.items():
            statement = re.sub(rf"\${variable}\b", lambda _m, r=regex: r, statement)
        assert not re.search(r"\$\w", statement), f"{name}: unresolved macro in {statement}"
        series = grafana_query(influxd, statement)
        assert has_values(series), f"{name}: no data for\n{statement}"
        checked += 1
    assert checked == len(dashboard_queries())


def test_the_queries_see_the_values_written(influxd: RunningServer, city: tuple[int, int]) -> None:
    """Spot checks that the numbers mean what the panel titles say."""
    start_ms, end_ms = city
    queries = {name.split(" [")[0] + name[-3:]: query for name, query, _ in dashboard_queries()}

    def run(title: str, interval: str = "1h") -> list[dict]:
        statement = queries[title].replace(
            "$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms"
        )
        statement = statement.replace("$__interval", interval)
        statement = re.sub(r"\$(building|site|route)\b", ".*", statement)
        return grafana_query(influxd, statement)

    counts = {
        alias: run(f"Connectors by status[{ref}]")[0]["values"][0][1]
        for ref, alias in (
            ("A", "Available"),
            ("B", "In use"),
            ("C", "Faulted"),
            ("D", "Unavailable"),
        )
    }
    assert counts == {"Available": 1, "In use": 1, "Faulted": 1, "Unavailable": 1}
    speeds = run("Bus speed by route[A]", interval="10000d")  # one window: 2024-10 to 2052
    routes = {block["tags"]["route"] for block in speeds}
    assert routes == {"M5", "X9"}
    for block in speeds:  # 8 + step m/s for steps 0..11: mean 13.5 m/s = 48.6 km/h
        assert [round(v, 1) for _, v in block["values"] if v is not None] == [48.6]
    table = run("Connector status[A]")
    assert {block["tags"]["device"] for block in table} == {"CP-0001", "CP-0002"}


# -- the alert rules and the hub-health dashboard ------------------------------------------

ALERTS = DATASOURCE.parents[1] / "alerting" / "cityhub.yml"
HUB_DASHBOARD = DASHBOARD.parent / "hub-health.json"


def alert_queries(datasource_uid: str) -> dict[str, list[str]]:
    """Rule title → the queries it sends to the data source ``datasource_uid``."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    found: dict[str, list[str]] = {}
    for rule in (rule for group in groups for rule in group["rules"]):
        for step in rule["data"]:
            if step["datasourceUid"] == datasource_uid:
                model = step["model"]
                found.setdefault(rule["title"], []).append(model.get("query") or model["expr"])
    return found


def test_the_alert_rules_are_the_ones_promised_and_well_formed() -> None:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    titles = " | ".join(rule["title"] for rule in rules)
    for words in ("Faulted for more than 5 minutes", "silent", "Dead letters", "spool growing"):
        assert words in titles, words
    sources = {
        source["uid"]
        for path in DATASOURCE.parent.glob("*.yml")
        for source in yaml.safe_load(path.read_text())["datasources"]
    }
    for rule in rules:
        refs = [step["refId"] for step in rule["data"]]
        assert rule["condition"] in refs and len(set(refs)) == len(refs), rule["title"]
        for step in rule["data"]:
            assert step["datasourceUid"] in sources | {"__expr__"}, rule["title"]
            expression = step["model"].get("expression", "")
            for ref in re.findall(r"\$?([A-Z])\b", expression):
                assert ref in refs, f"{rule['title']}: {expression} names an unknown query"


def test_every_influxql_alert_query_runs_and_counts_what_it_says(
    influxd: RunningServer,
    city: tuple[int, int],
) -> None:
    queries = alert_queries("cityhub-influxdb")
    assert len(queries) >= 3
    for statements in queries.values():
        for statement in statements:
            grafana_query(influxd, statement)  # runs without an InfluxQL error
    # One connector (CP-0002/1) reports Faulted, for 10 minutes by now.
    [faulted] = queries["Charger connector Faulted for more than 5 minutes"]
    [series] = grafana_query(influxd, faulted)
    assert series["values"][0][1] == 1
    # Both meters reported in the last day; their last reading is 15 minutes old or more.
    seen_today, seen_recently = queries[
        "Building meters silent longer than their stale threshold (15 min)"
    ]
    assert grafana_query(influxd, seen_today)[0]["values"][0][1] == 2
    recent = grafana_query(influxd, seen_recently)
    assert not recent or recent[0]["values"][0][1] < 2


def prometheus_expressions() -> list[str]:
    dashboard = json.loads(HUB_DASHBOARD.read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    return expressions + [e for q in alert_queries("cityhub-prometheus").values() for e in q]


def test_the_hub_health_dashboard_covers_what_operators_watch() -> None:
    text = " ".join(prometheus_expressions())
    for metric in (
        "cityhub_messages_total",
        "cityhub_points_written_total",
        "cityhub_dead_letters_total",
        "cityhub_spool_pending_bytes",
        "cityhub_batch_seconds_bucket",
        "broker_store_messages_bytes",
    ):
        assert metric in text, metric
    uid = yaml.safe_load((DATASOURCE.parent / "prometheus.yml").read_text())["datasources"][0]
    dashboard = json.loads(HUB_DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": uid["uid"]}


def test_every_prometheus_query_parses_and_names_metrics_the_hub_exports(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Each PromQL expression is parsed by a real PromQL engine (VictoriaMetrics, whose
    MetricsQL accepts PromQL); each ``cityhub_*`` metric it names is one the hub exports."""
    from prometheus_client import generate_latest

    from hub.metrics import HubMetrics

    exported = generate_latest(HubMetrics().registry).decode()
    names = set(re.findall(r"^# TYPE (\w+) (\w+)", exported, flags=re.MULTILINE))
    known = {name for name, _ in names}
    known |= {f"{name}_total" for name, kind in names if kind == "counter"}
    known |= {
        f"{name}_{part}"
        for name, kind in names
        if kind == "histogram"
        for part in ("bucket", "sum", "count")
    }
    try:
        server = start_victoria_metrics(tmp_path_factory.mktemp("promql"))
    except ServerMissing as missing:
        pytest.skip(str(missing))
    try:
        for expression in prometheus_expressions():
            for metric in re.findall(r"\b(cityhub_\w+)", expression):
                assert metric in known, f"{expression}: the hub exports no {metric}"
            statement = expression.replace("$__rate_interval", "1m")
            query = urllib.parse.urlencode({"query": statement})
            with urllib.request.urlopen(f"{server.url}/api/v1/query?{query}", timeout=10) as answer:
                assert json.loads(answer.read())["status"] == "success", statement
    finally:
        stop_server(server)
