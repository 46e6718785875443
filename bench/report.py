"""The run's results as JSON and as a Markdown page with the targets side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.capacity import render_capacity
from bench.formatting import fmt
from bench.live import QUESTION
from bench.peers.report import render_peers

__all__ = ["render_markdown", "write_report"]

TARGETS = {
    "drain_ratio_c": 0.8,  # hub → DuckDB vs bare paho
    "live_p99_ms_at_5000": 250.0,
    "live_p99_ms_at_10000": 500.0,
    "cpu_ratio_c": 1.25,  # hub → DuckDB CPU per message vs bare paho
    "query_aggregate_p50_ms": 200.0,
    "hub_rss_mb": 500.0,
}


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def _drain(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Drain: preloaded persistent session, QoS 1, same messages for every consumer",
        "",
        "| | consumer | messages | seconds | msg/s | ratio to (b) | CPU s "
        "| CPU s per 100k | of which MQTT process / hub process | CPU ratio to (b) "
        "| peak RSS MB | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        notes = row.get("note", "") if row["status"] != "ok" else ""
        if "messages_per_hub" in row:
            notes = f"split {fmt(row['messages_per_hub'])}"
        if "acked_seconds" in row and row["acked_seconds"] != row.get("seconds"):
            notes += f" acked (spooled) after {row['acked_seconds']:.2f} s"
        if row.get("dead_letters"):
            notes += f" {row['dead_letters']} dead letters"
        if row.get("rounds"):
            notes += f" median of {fmt(row['rounds'])} msg/s"
        lines.append(
            f"| ({row['key']}) | {row['consumer']} | {fmt(row['messages'])} "
            f"| {fmt(row.get('seconds'), 2)} | {fmt(row.get('rate'))} "
            f"| {fmt(row.get('ratio_to_b'), 2)} | {fmt(row.get('cpu_s'), 1)} "
            f"| {fmt(row.get('cpu_s_per_100k'), 2)} | {_split(row)} "
            f"| {fmt(row.get('cpu_ratio_to_b'), 2)} "
            f"| {fmt(row.get('peak_rss_mb'))} | {row['status'] if row['status'] != 'ok' else ''}"
            f" {notes.strip()} |"
        )
    return lines


def _split(row: dict[str, Any]) -> str:
    """A hub's CPU per 100k messages split between its MQTT client process and the rest."""
    if "mqtt_cpu_s_per_100k" not in row:
        return "—"
    return f"{row['mqtt_cpu_s_per_100k']:.2f} / {row['main_cpu_s_per_100k']:.2f}"


def _live(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Live: publish → visible through the API (marker every 100 ms, API polled every 20 ms)",
        "",
        "| target msg/s | achieved | seconds | p50 ms | p99 ms | max ms | markers "
        "| unseen during load | hub CPU % of a core | hub peak RSS MB | catch-up s "
        "| question p50 / max ms under load | question p50 ms idle |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if row["status"] != "ok":
            lines.append(f"| {fmt(row['target_rate'])} | {row['status']}: {row.get('note', '')} |")
            continue
        lines.append(
            f"| {fmt(row['target_rate'])} | {fmt(row['achieved_rate'])} "
            f"| {fmt(row['seconds'], 1)} "
            f"| {fmt(row.get('p50_ms'), 1)} | {fmt(row.get('p99_ms'), 1)} "
            f"| {fmt(row.get('max_ms'), 1)} | {row['markers']} "
            f"| {row['markers_never_seen_during_load']} | {row['hub_cpu_pct_of_one_core']} "
            f"| {fmt(row['hub_peak_rss_mb'], 0)} | {fmt(row['catch_up_s'], 2)} "
            f"| {fmt(row.get('question_p50_ms'), 1)} / {fmt(row.get('question_max_ms'), 1)} "
            f"| {fmt(row.get('question_idle_p50_ms'), 1)} |"
        )
    for row in rows:
        if row.get("rounds"):
            each = " / ".join(
                f"{fmt(r.get('p50_ms'), 0)}–{fmt(r.get('p99_ms'), 0)}" for r in row["rounds"]
            )
            lines += [
                "",
                f"{fmt(row['target_rate'])} msg/s in {len(row['rounds'])} rounds, p50–p99 ms "
                f"of each: {each}; the row is the round with the median p99.",
            ]
    lines += [
        "",
        "The question: the city's energy per hour over the last day "
        f"(`{QUESTION[0]}?every=1h&start=-1d`), asked every 5 s during the load and five "
        "times once the hub had caught up.",
    ]
    return lines


def _query(result: dict[str, Any]) -> list[str]:
    if result.get("status") not in (None, "ok"):
        return ["## Query", "", f"{result['status']}: {result.get('note', '')}"]
    lines = [
        f"## Query: {result['points']:,} stored points ({result['meters']:,} meters × "
        f"{result['readings']:,} readings, {result['step_s']} s apart); hub peak RSS "
        f"{fmt(result.get('hub_peak_rss_mb'))} MB",
        "",
        "| query | p50 ms | p99 ms | max ms | calls | response bytes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in result["queries"]:
        lines.append(
            f"| {row['query']} | {fmt(row['p50_ms'], 1)} | {fmt(row['p99_ms'], 1)} "
            f"| {fmt(row['max_ms'], 1)} | {row['repeats']} | {fmt(row['response_bytes'])} |"
        )
    peak = result.get("peak_paths")
    if peak:
        lines += [
            "",
            "Peak demand, side by side (in process, same file): means per meter summed in "
            "Python against the store's sum of per-series means.",
            "",
            "| query | Python p50 ms | p99 | store p50 ms | p99 | store / Python | same answer |",
            "|---|---:|---:|---:|---:|---:|---|",
            f"| {peak['query']} | {fmt(peak['python_p50_ms'], 1)} "
            f"| {fmt(peak['python_p99_ms'], 1)} | {fmt(peak['store_p50_ms'], 1)} "
            f"| {fmt(peak['store_p99_ms'], 1)} | {fmt(peak['ratio_store_to_python'], 3)} "
            f"| {'yes' if peak['same_answer'] else '**no**'} |",
        ]
    return lines


def _profile(result: dict[str, Any]) -> list[str]:
    lines = ["## Profile of the drain", ""]
    pipeline = result.get("pipeline", {})
    if pipeline.get("status") == "ok":
        lines += [
            f"Pipeline alone (no MQTT, in-process, batches of {pipeline['batch']}): "
            f"{fmt(pipeline['rate'])} msg/s, {pipeline['us_per_message']} µs per message.",
            "",
            "| cProfile, self time | calls | s | % |",
            "|---|---:|---:|---:|",
            *(
                f"| `{r['function']}` | {fmt(r['calls'])} | {r['seconds']} | {r['pct']} |"
                for r in pipeline["top_tottime"][:12]
            ),
            "",
        ]
    formats = result.get("formats_us")
    if formats:
        lines += [
            "Each format's parse alone (in-process, CPU µs per message, best of rounds):",
            "",
            "| " + " | ".join(formats) + " |",
            "|" + "---:|" * len(formats),
            "| " + " | ".join(str(us) for us in formats.values()) + " |",
            "",
        ]
    spy = result.get("pyspy", {})
    if spy.get("status") == "ok" and spy.get("samples"):
        lines += [
            f"py-spy on `cityhub run` draining ({spy['samples']} samples, "
            f"{fmt(spy['rate_under_profiler'])} msg/s under the profiler). "
            + (
                "By process: "
                + ", ".join(f"{p['function']} {p['pct']}%" for p in spy["processes"])
                + ". "
                if spy.get("processes")
                else ""
            )
            + "By thread: "
            + ", ".join(f"{t['function']} {t['pct']}%" for t in spy["threads"]),
            "",
            "| py-spy, self | % | py-spy, inclusive | % |",
            "|---|---:|---|---:|",
            *(
                f"| `{s['function']}` | {s['pct']} | `{i['function']}` | {i['pct']} |"
                for s, i in zip(spy["self"][:12], spy["inclusive"][:12], strict=False)
            ),
        ]
    elif spy:
        lines.append(f"py-spy: {spy.get('status')}: {spy.get('note', '')}")
    return lines


def _mapping(rows: list[dict[str, Any]]) -> list[str]:
    return [
        "## Mapped vs hand-written adapters (parse cost per message, same payloads)",
        "",
        "| payload | adapter | µs per message | ratio to hand-written |",
        "|---|---|---:|---:|",
        *(
            f"| {r['case']} | {r['adapter']} | {r['us_per_message']} | "
            f"{r['ratio_to_hand_written']} |"
            for r in rows
        ),
    ]


def _targets(results: dict[str, Any]) -> list[str]:
    checks: list[tuple[str, str, bool | None]] = []
    drain = {r["key"]: r for r in results.get("drain", [])}
    c = drain.get("c", {})
    if "ratio_to_b" in c:
        checks.append(
            (
                "hub → DuckDB drain ≥ 0.8× bare paho",
                f"{c['ratio_to_b']:.2f}×",
                c["ratio_to_b"] >= 0.8,
            )
        )
    b = drain.get("b", {})
    if "cpu_ratio_to_b" in c:
        checks.append(
            (
                "hub → DuckDB CPU per message ≤ 1.25× bare paho (all hub processes)",
                f"{c['cpu_s_per_100k']:.2f} vs {b['cpu_s_per_100k']:.2f} CPU s per 100k "
                f"({c['cpu_ratio_to_b']:.2f}×"
                + (
                    f": MQTT client process {c['mqtt_cpu_s_per_100k'] / b['cpu_s_per_100k']:.2f}×,"
                    f" hub process {c['main_cpu_s_per_100k'] / b['cpu_s_per_100k']:.2f}×"
                    if "mqtt_cpu_s_per_100k" in c
                    else ""
                )
                + ")",
                c["cpu_ratio_to_b"] <= TARGETS["cpu_ratio_c"],
            )
        )
    for single, double in (("d", "e"), ("c", "e2")):
        if drain.get(single, {}).get("rate") and drain.get(double, {}).get("rate"):
            one, two = drain[single]["rate"], drain[double]["rate"]
            checks.append(
                (f"2 hubs ({double}) beat one ({single})", f"{two:,} vs {one:,} msg/s", two > one)
            )
    for row in results.get("live", []):
        if row.get("target_rate") == 5000 and "p99_ms" in row:
            checks.append(
                ("p99 publish → queryable < 250 ms at 5k msg/s", f"{row['p99_ms']} ms",
                 row["p99_ms"] < TARGETS["live_p99_ms_at_5000"])
            )  # fmt: skip
        if row.get("target_rate") == 10000 and "p99_ms" in row:
            checks.append(
                ("p99 publish → queryable < 500 ms at 10k msg/s", f"{row['p99_ms']} ms",
                 row["p99_ms"] < TARGETS["live_p99_ms_at_10000"])
            )  # fmt: skip
    query = results.get("query", {})
    for row in query.get("queries", []):
        if row["path"] == "/api/v1/aggregate":
            checks.append(
                (f"aggregate p50 < 200 ms at {query['points']:,} points: {row['query']}",
                 f"{row['p50_ms']} ms", row["p50_ms"] < TARGETS["query_aggregate_p50_ms"])
            )  # fmt: skip
    rss = [
        *(v for r in results.get("drain", []) for v in _as_list(r.get("peak_rss_mb"))),
        *(r.get("hub_peak_rss_mb") for r in results.get("live", [])),
        query.get("hub_peak_rss_mb"),
    ]
    rss = [v for v in rss if v]
    if rss:
        checks.append(("hub RSS < 500 MB", f"max {max(rss):,.0f} MB", max(rss) < 500))
    if not checks:
        return []
    return [
        "## Targets (DESIGN.md)",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *(f"| {name} | {value} | {_verdict(ok)} |" for name, value, ok in checks),
    ]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def render_markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"# City Data Hub benchmark ({results['mode']})",
        "",
        f"{results['started']}, {results['elapsed_s']:.0f} s. {machine['cpu']}, "
        f"{machine['cores']} cores, {machine['ram_gb']} GB RAM, load average at start "
        f"{machine['load_average_at_start']}. Python {machine['python']}, paho-mqtt "
        f"{machine['paho_mqtt']}, DuckDB {machine['duckdb']}, {machine['mosquitto']}, "
        f"{machine['influxd']}.",
        "",
    ]
    if results.get("note"):
        lines += [f"> {results['note']}", ""]
    sections = [
        _targets(results),
        _drain(results["drain"]) if "drain" in results else [],
        render_capacity(results["drain"]) if "drain" in results else [],
        _live(results["live"]) if "live" in results else [],
        _query(results["query"]) if "query" in results else [],
        _profile(results["profile"]) if "profile" in results else [],
        _mapping(results["mapping"]) if "mapping" in results else [],
        render_peers(results["peers"]) if "peers" in results else [],
    ]
    for section in sections:
        if section:
            lines += [*section, ""]
    return "\n".join(lines)


def write_report(results: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "latest.json", folder / "latest.md"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    md_path.write_text(render_markdown(results))
    return json_path, md_path
