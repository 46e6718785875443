"""``python -m bench``: the benchmark harness (``make bench``).

Stages (all by default; ``--only drain,live,query,profile,mapping,peers``):

- drain    preloaded persistent session drained by (a) mosquitto_sub, (b) a bare paho client,
           (c) the hub into DuckDB, (d) the hub into InfluxDB 1.x, (e) two hubs on a shared
           subscription into one InfluxDB, (e2) two hubs each into its own DuckDB file;
           msg/s and ratios to (b), measured in the same run on the same broker config
- live     fixed publish rates; publish → visible through the API latency, hub CPU and RSS
- query    the API over 10M stored points (1M with --quick): p50/p99 per endpoint
- profile  py-spy on a draining hub, and cProfile on the pipeline alone
- mapping  declarative mapping vs hand-written adapter: parse cost per message, same payloads
- peers    the hub, Node-RED (per-message and batched flows) and mqtt2influxdb on the same
           SenML stream into one kind of sink (VictoriaMetrics), each counted in the sink;
           installs the peers first (bench/peers/install.sh: npm, PyPI)

Results go to bench/results/latest.json and latest.md; progress to stderr. No timing is
ever asserted: the numbers are reported next to their baselines and the DESIGN.md targets.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.context import Context, progress
from bench.machine import describe_machine
from bench.report import render_markdown, write_report

HERE = Path(__file__).resolve().parent
STAGES = ("drain", "live", "query", "profile", "mapping", "peers")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1],
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="20k messages, 1M points, 10 s live")
    parser.add_argument("--only", default=",".join(STAGES), help="comma-separated stages")
    parser.add_argument("--messages", type=int, help="drain: messages (default 200k, quick 20k)")
    parser.add_argument(
        "--rounds", type=int, help="drain: runs of every consumer, in turn (default 3, quick 1)"
    )
    parser.add_argument(
        "--consumers", default="a,b,c,d,e,e2", help="drain: consumers to measure (a,b,c,d,e,e2)"
    )
    parser.add_argument(
        "--peer-messages", type=int, help="peers: SenML messages (default 50k, quick 5k)"
    )
    parser.add_argument("--rates", help="live: msg/s, comma-separated (default 1000,5000,10000)")
    parser.add_argument("--live-seconds", type=float, help="live: seconds per rate (30, quick 10)")
    parser.add_argument(
        "--live-rounds",
        type=int,
        default=1,
        help="live: runs per rate, the rates in turn; the round with the median p99 is reported",
    )
    parser.add_argument("--meters", type=int, help="query: meters (default 2000, quick 200)")
    parser.add_argument("--readings", type=int, default=5000, help="query: readings per meter")
    parser.add_argument(
        "--query-repeats", type=int, help="query: calls per endpoint (20, quick 10)"
    )
    parser.add_argument("--profile-messages", type=int, help="profile: messages (default: drain's)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--device-scale",
        type=int,
        default=1,
        help="devices of every family times this (1,600 in all by default): the same rate "
        "from more devices, each slower, as a city's (see bench/workload.py)",
    )
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache", help="query store cache")
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    parser.add_argument("--workdir", type=Path, help="keep brokers, hubs and logs here")
    parser.add_argument("--note", default="", help="a line for the report (e.g. machine load)")
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"--only: unknown stage(s) {sorted(unknown)}; choose from {STAGES}")
    args.stages = stages
    if args.device_scale < 1:
        parser.error("--device-scale: a whole number of 1 or more")
    args.messages = args.messages or (20_000 if args.quick else 200_000)
    args.rates = [int(r) for r in (args.rates or "1000,5000,10000").split(",")]
    args.live_seconds = args.live_seconds or (10.0 if args.quick else 30.0)
    args.meters = args.meters or (200 if args.quick else 2000)
    args.query_repeats = args.query_repeats or (10 if args.quick else 20)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.profile_messages = args.profile_messages or args.messages
    args.peer_messages = args.peer_messages or (5_000 if args.quick else 50_000)
    args.consumers = [c.strip() for c in args.consumers.split(",") if c.strip()]
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    from bench.drain import run_drain
    from bench.live import run_live
    from bench.mapping import run_mapping
    from bench.peers import run_peers
    from bench.profile import run_profile
    from bench.query import run_query

    owned = args.workdir is None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cityhub-bench-"))
    started = time.time()
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "note": args.note,
        "machine": describe_machine(),
        "settings": {
            k: v if not isinstance(v, Path) else str(v)
            for k, v in vars(args).items()
            if k not in ("only",)
        },
    }
    try:
        ctx = Context(workdir, args.cache_dir, seed=args.seed, device_scale=args.device_scale)
        if "drain" in args.stages:
            results["drain"] = run_drain(ctx, args.messages, args.consumers, args.rounds)
        if "live" in args.stages:
            results["live"] = run_live(ctx, args.rates, args.live_seconds, args.live_rounds)
        if "query" in args.stages:
            try:
                results["query"] = run_query(ctx, args.meters, args.readings, args.query_repeats)
            except Exception as error:
                results["query"] = {"status": "failed", "note": f"{type(error).__name__}: {error}"}
                progress(f"query failed: {error}")
        if "profile" in args.stages:
            results["profile"] = run_profile(ctx, args.profile_messages)
        if "mapping" in args.stages:
            results["mapping"] = run_mapping(workdir / "mapping", 5_000 if args.quick else 20_000)
        if "peers" in args.stages:
            results["peers"] = run_peers(ctx, args.peer_messages)
    finally:
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)
    results["elapsed_s"] = round(time.time() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress(f"stages {', '.join(args.stages)}; results in {args.results_dir}")
    results = run(args)
    json_path, md_path = write_report(results, args.results_dir)
    print(render_markdown(results))
    progress(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
