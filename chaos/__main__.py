"""``python -m chaos`` (``make chaos``): the reliability experiments, each on its own broker
and hubs in a scratch folder, with the figures written to ``chaos/results/latest.{json,md}``.

Every experiment prints sent / stored / lost / doubled and the time to recover. ``--quick``
is the short variant CI runs (a few thousand messages, short outages); the full run takes
about 15 minutes. Kill moments come from ``--seed``, so a run is reproducible from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from chaos.experiments import QUICK, Scale, experiments
from chaos.harness import Result, log

HERE = Path(__file__).resolve().parent
# The CI variant: faults the hub must survive with 0 lost, each under 15 s at QUICK scale.
QUICK_NAMES = ("hub_sigkill", "broker_down", "partition", "clock_jumps", "disk_readonly")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short variant (CI)")
    parser.add_argument("--only", help="comma-separated experiment names (default: all)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    parser.add_argument("--workdir", type=Path, help="keep brokers, hubs and logs here")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    return parser.parse_args(argv)


def render_markdown(run: dict) -> str:
    lines = [
        "# Chaos suite results",
        "",
        f"`python -m chaos{' --quick' if run['quick'] else ''} --seed {run['seed']}` "
        f"on {run['machine']}, {run['started']} ({run['seconds']:.0f} s).",
        *(
            f"Rerun {rerun['started']} ({rerun['seconds']:.0f} s), these rows run again or added: "
            f"{', '.join(rerun['experiments'])}."
            for rerun in run.get("reruns", [])
        ),
        "",
        "| experiment | fault | sent | stored | lost | doubled | recovery (s) | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in run["results"]:
        recovery = "—" if r["recovery_s"] is None else f"{r['recovery_s']:.2f}"
        verdict = "skipped" if "skipped" in r["details"] else ("ok" if r["ok"] else "**FAILED**")
        lines.append(
            f"| {r['name']} | {r['fault']} | {r['sent']} | {r['stored']} | {r['lost']} | "
            f"{r['doubled']} | {recovery} | {verdict} |"
        )
    lines += ["", "Details per experiment:", ""]
    for r in run["results"]:
        lines.append(f"- **{r['name']}**: `{json.dumps(r['details'], sort_keys=True)}`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scale: Scale = QUICK if args.quick else Scale()
    available = experiments(scale)
    if args.quick:  # the CI variant: faults the hub must survive with 0 lost, small. A broker
        # crash is left out: Mosquitto 2.0 forgets a session younger than its last save (README).
        available = {k: available[k] for k in QUICK_NAMES}
    if args.list:
        print("\n".join(available))
        return 0
    chosen = args.only.split(",") if args.only else list(available)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        print(f"unknown experiments: {', '.join(unknown)}", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cityhub-chaos-"))
    started, started_at = time.monotonic(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results: list[Result] = []
    for index, name in enumerate(chosen):
        log(f"{name}: starting")
        began = time.monotonic()
        try:
            result = available[name](workdir / name, scale, args.seed + index)
        except Exception as error:  # one broken experiment must not hide the others' figures
            result = Result(name, "experiment crashed", details={"error": repr(error)[:500]})
        result.seconds = round(time.monotonic() - began, 1)
        results.append(result)
        log(
            f"{name}: sent {result.sent} stored {result.stored} lost {result.lost} "
            f"doubled {result.doubled} recovery {result.recovery_s} s -> "
            f"{'ok' if result.ok else 'FAILED'} {result.details}"
        )
    run = {
        "seed": args.seed,
        "quick": args.quick,
        "started": started_at,
        "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "seconds": time.monotonic() - started,
        "results": [dataclasses.asdict(r) for r in results],
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stem = "quick" if args.quick else "latest"
    earlier = args.results_dir / f"{stem}.json"
    if args.only and earlier.exists():  # a partial run replaces its experiments' rows only
        previous = json.loads(earlier.read_text())
        fresh = {r["name"]: r for r in run["results"]}
        kept = [fresh.pop(r["name"], r) for r in previous["results"]]
        rerun = {
            "started": run["started"],
            "seconds": run["seconds"],
            "experiments": sorted(r.name for r in results),
        }
        run.update(
            results=kept + list(fresh.values()),
            started=previous["started"],
            seconds=previous["seconds"],
            reruns=[*previous.get("reruns", []), rerun],
        )
    (args.results_dir / f"{stem}.json").write_text(json.dumps(run, indent=2) + "\n")
    (args.results_dir / f"{stem}.md").write_text(render_markdown(run))
    print(render_markdown(run))
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    failed = [r.name for r in results if not r.ok and "skipped" not in r.details]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
