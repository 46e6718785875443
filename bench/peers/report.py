"""The peer comparison as numbers (ratios, CPU per message) and as a Markdown section."""

from __future__ import annotations

from typing import Any

from bench.formatting import fmt

__all__ = ["render_peers", "summarize"]

Row = dict[str, Any]


def _us_per_message(cpu_s: float | None, messages: int) -> float | None:
    return None if cpu_s is None or not messages else round(cpu_s / messages * 1e6, 1)


def summarize(rows: list[Row]) -> list[Row]:
    """Each row with the hub's rate as a multiple of its rate (``hub_ratio``: hub ÷ this
    contender, so 4.0 means the hub went four times as fast) and CPU µs per message of the
    bridge, the broker and the sink. Only contenders that stored every message get a ratio."""
    hub = next((r for r in rows if r["key"] == "hub" and r.get("rate")), None)
    out = []
    for row in rows:
        row = dict(row)
        cpu = row.get("cpu_s") or {}
        row["cpu_us_per_message"] = {
            name: _us_per_message(seconds, row["messages"]) for name, seconds in cpu.items()
        }
        if hub and row.get("rate"):
            row["hub_ratio"] = round(hub["rate"] / row["rate"], 2)
        out.append(row)
    return out


def render_peers(result: dict[str, Any]) -> list[str]:
    """The Markdown section of the report for the ``peers`` stage."""
    title = f"## Peers: the same {result['messages']:,} SenML QoS 1 messages into VictoriaMetrics"
    if result.get("status") != "ok":
        return [title, "", f"{result.get('status')}: {result.get('note', '')}"]
    lines = [
        title,
        "",
        "Each on a fresh Mosquitto (project config) and a fresh VictoriaMetrics; subscribed "
        "first, then the burst published; clock from the first PUBLISH to the last row "
        "accepted by the sink (its row counter ticks once a second: the last second is "
        "interpolated at the rate before it). Stored = messages whose points the sink holds "
        "afterwards.",
        "",
        "| contender | seconds | msg/s | hub ÷ this | stored | CPU µs/msg: bridge "
        "| broker | sink | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in result["rows"]:
        per = row.get("cpu_us_per_message") or {}
        notes = row.get("note", "") if row["status"] == "failed" else ""
        if row.get("lost_messages"):
            notes = f"**lost {row['lost_messages']:,} of {row['messages']:,}**"
        elif row.get("seconds_at_most"):
            notes = f"end seen on the sink's tick at {row['seconds_at_most']:.2f} s"
        if row.get("write_errors_logged"):
            notes += f"; {row['write_errors_logged']:,} failed writes in its log"
        lines.append(
            f"| {row['contender']} | {fmt(row.get('seconds'), 2)} | {fmt(row.get('rate'))} "
            f"| {fmt(row.get('hub_ratio'), 2)} | {fmt(row.get('stored_messages'))} "
            f"| {fmt(per.get('bridge'), 1)} | {fmt(per.get('broker'), 1)} "
            f"| {fmt(per.get('sink'), 1)} | {row['status'] if row['status'] != 'ok' else ''} "
            f"{notes} |"
        )
    return lines
