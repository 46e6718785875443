"""How far one broker and N hubs go: a sizing model fed by the drain stage's CPU figures.

The model counts CPU, not wall time, because on the 2-core bench machine the broker, the
hub's two processes and the store share the cores (so two hubs cannot show their sum there):

- a hub costs ``hub_us`` CPU µs per message, all its processes (the drain's marginal cost,
  start-up excluded); hubs on a shared subscription share nothing, so N hubs on N cores do N
  times one, until the broker or the store is the limit;
- Mosquitto is one thread: one broker instance tops out at ``1e6 / (receive_us + deliver_us)``
  msg/s, the CPU it spent taking the preload in and handing it out per message. Beyond that:
  more brokers, each with its own devices and its own hub group (Mosquitto does not
  cluster), or a clustered broker (EMQX, HiveMQ, VerneMQ) with the shared subscription
  spanning nodes;
- the store costs ``store_us`` CPU µs per message (InfluxDB 1.6 here, the rows of the bench's
  mixed workload); InfluxDB 3 Enterprise/Clustered scales writes across nodes.

A deployment is sized for ``CATCH_UP`` times its steady rate, so that after an outage of any
length the backlog drains in about as long again while live traffic continues, and to run at
most ``UTILIZATION`` of each core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CATCH_UP",
    "CITY",
    "UTILIZATION",
    "Family",
    "Plan",
    "measured_from_drain",
    "plan",
    "render_capacity",
]

CATCH_UP = 2.0
UTILIZATION = 0.7


@dataclass(frozen=True)
class Family:
    name: str
    devices: int
    typical_interval_s: float  # seconds between two messages of one device, usual settings
    dense_interval_s: float  # the same, at the dense end of what such devices are set to

    def rate(self, dense: bool = False) -> float:
        """Messages per second of the whole family."""
        return self.devices / (self.dense_interval_s if dense else self.typical_interval_s)


# The city of issue 18. Typical: a meter's minute reading, a charger's MeterValues each
# minute plus status and heartbeat (about one message per 30 s), a bus position every 10 s
# (AVL feeds). Dense: 15 s meters, 10 s chargers, 1 Hz buses (as Helsinki's HFP publishes).
CITY = (
    Family("building energy meters", 100_000, 60.0, 15.0),
    Family("EV chargers", 5_000, 30.0, 10.0),
    Family("buses", 3_000, 10.0, 1.0),
)


@dataclass(frozen=True)
class Plan:
    scenario: str
    msg_per_s: float  # steady
    sized_for: float  # steady × CATCH_UP
    hub_cores: int
    brokers: int
    store_cores: int


def plan(
    families: tuple[Family, ...],
    *,
    dense: bool,
    hub_us: float,
    broker_us: float,
    store_us: float,
) -> Plan:
    """Cores of hubs, Mosquitto instances and store cores for ``families``' traffic."""
    rate = sum(f.rate(dense) for f in families)
    sized = rate * CATCH_UP

    def cores(us_per_message: float) -> int:
        return max(1, math.ceil(sized * us_per_message / 1e6 / UTILIZATION))

    return Plan(
        scenario="dense" if dense else "typical",
        msg_per_s=rate,
        sized_for=sized,
        hub_cores=cores(hub_us),
        brokers=cores(broker_us),  # one thread each: a broker is one core
        store_cores=cores(store_us),
    )


def measured_from_drain(rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """The model's inputs from the drain rows: consumer (d), the hub into InfluxDB, gives
    the hub's, the broker's and the store's CPU per message; (c) the hub into DuckDB."""
    by_key = {r["key"]: r for r in rows if r.get("status") == "ok"}
    influx = by_key.get("d")
    if not influx or "cpu_us_per_message" not in influx or "store_cpu_s" not in influx:
        return None
    messages = influx["messages"]
    broker = influx["broker_cpu_s"]
    measured = {
        "hub_us": influx["cpu_us_per_message"],
        "broker_receive_us": broker["receive"] / messages * 1e6,
        "broker_deliver_us": broker["deliver"] / messages * 1e6,
        "store_us": influx["store_cpu_s"] / messages * 1e6,
    }
    optional = {"c": "hub_duckdb_us", "e": "two_hubs_us", "e2": "two_hubs_duckdb_us"}
    for key, name in optional.items():
        if "cpu_us_per_message" in by_key.get(key, {}):
            measured[name] = by_key[key]["cpu_us_per_message"]
    return measured


def render_capacity(rows: list[dict[str, Any]]) -> list[str]:
    """The report's section: the measured inputs and the plan for the city of issue 18."""
    measured = measured_from_drain(rows)
    if measured is None:
        return []
    broker_us = measured["broker_receive_us"] + measured["broker_deliver_us"]
    lines = [
        "## Scale-out model (CPU per message from drain (c) and (d); bench/capacity.py)",
        "",
        f"Hub, all processes: {measured['hub_us']:.0f} µs/msg into InfluxDB = "
        f"{1e6 / measured['hub_us']:,.0f} msg/s per core"
        + (
            f"; {measured['hub_duckdb_us']:.0f} µs/msg into DuckDB "
            f"({1e6 / measured['hub_duckdb_us']:,.0f} msg/s per core, one hub per file)"
            if "hub_duckdb_us" in measured
            else ""
        )
        + f". Mosquitto: {measured['broker_receive_us']:.1f} µs to take a QoS 1 message in, "
        f"{measured['broker_deliver_us']:.1f} µs to deliver it = one broker thread at "
        f"{1e6 / broker_us:,.0f} msg/s. InfluxDB 1.6: {measured['store_us']:.0f} µs/msg "
        f"({1e6 / measured['store_us']:,.0f} msg/s per core).",
        "",
        *(
            [
                f"Two hubs on a shared subscription spent {measured['two_hubs_us']:.0f} µs/msg "
                f"together into one InfluxDB (one hub: {measured['hub_us']:.0f})"
                + (
                    f", {measured['two_hubs_duckdb_us']:.0f} into a DuckDB file each "
                    f"(one hub: {measured['hub_duckdb_us']:.0f})"
                    if "two_hubs_duckdb_us" in measured and "hub_duckdb_us" in measured
                    else ""
                )
                + ": a second hub adds no work per message, so N hubs on N free cores drain "
                "N times as fast as one.",
                "",
            ]
            if "two_hubs_us" in measured
            else []
        ),
        f"So one Mosquitto thread keeps about {measured['hub_us'] / broker_us:,.0f} hub cores "
        f"busy, and one InfluxDB core about {measured['hub_us'] / measured['store_us']:,.1f}: "
        "up to there, hubs on a shared subscription scale with the cores given to them.",
        "",
        f"Sized for {CATCH_UP:g}× the steady rate (catch-up after an outage), each core at "
        f"most {UTILIZATION:.0%} busy:",
        "",
        "| scenario | meters, chargers, buses: one message every | msg/s | sized for "
        "| hub cores | Mosquitto instances | InfluxDB cores |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for dense in (False, True):
        result = plan(
            CITY,
            dense=dense,
            hub_us=measured["hub_us"],
            broker_us=broker_us,
            store_us=measured["store_us"],
        )
        intervals = ", ".join(
            f"{f.dense_interval_s if dense else f.typical_interval_s:g} s" for f in CITY
        )
        lines.append(
            f"| {result.scenario} | {intervals} | {result.msg_per_s:,.0f} "
            f"| {result.sized_for:,.0f} | {result.hub_cores} | {result.brokers} "
            f"| {result.store_cores} |"
        )
    return lines
