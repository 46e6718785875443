"""``python -m bench.web``: the dashboard's own cost against ``cityhub demo``.

Starts the demo (its own Mosquitto, simulators, DuckDB) on a free port, waits for the backfill,
then opens the printed link in Debian's chromium (headless, through Playwright) with a cold
cache, several times, and measures:

- bytes transferred on first load: every response of the page (HTML, JS, CSS, API answers),
  headers and body as sent on the wire (``Request.sizes()``);
- time to interactive: from navigation start to the moment City now has drawn its numbers
  (``#view[data-loaded=true]``: data fetched, rendered, handlers attached), read in the page
  with ``performance.now()``;
- each other view's time from the click on its tab to drawn.

Results go to ``bench/results/web.json`` and ``web.md``. Nothing is asserted: the targets
(under 1 MB, under 2 s) are printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from bench.machine import describe_machine
from hub.broker import free_port

HERE = Path(__file__).resolve().parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VIEWS = ("buildings", "chargers", "buses", "health")


def start_demo(workdir: Path, backfill: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    out = workdir / "demo.out"
    with out.open("wb") as sink:
        demo = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "demo", "--data-dir", str(workdir / "demo"),
             "--port", str(port), "--backfill", backfill],
            stdout=sink, stderr=subprocess.STDOUT, cwd=workdir,
            env={k: v for k, v in os.environ.items() if not k.startswith("CITYHUB_")},
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"Dashboard\s+(\S+#key=\S+)", out.read_text(errors="replace"))
        if found:
            return demo, found.group(1)
        time.sleep(0.2)
    demo.kill()
    raise SystemExit(f"the demo printed no dashboard link:\n{out.read_text()[-2000:]}")


def wait_for_backfill(base: str, key: str, settle_s: float) -> None:
    """Until the stored point count stops growing for ``settle_s`` (the backfill is in)."""
    last, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < settle_s:
        try:
            catalog = httpx.get(f"{base}/api/v1/catalog", headers={"X-API-Key": key}, timeout=10)
            points = sum(m["points"] for m in catalog.json()["measurements"])
        except (httpx.HTTPError, KeyError, ValueError):
            points = -1
        if points != last:
            last, stable_since = points, time.monotonic()
        time.sleep(1)


def measure(browser, link: str) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 860})  # cold cache
    page = context.new_page()
    sizes: list[tuple[str, int]] = []

    def finished(request) -> None:
        size = request.sizes()
        sizes.append((request.url, size["responseBodySize"] + size["responseHeadersSize"]))

    page.on("requestfinished", finished)
    page.goto(link)
    page.wait_for_selector('#view[data-view="city"][data-loaded="true"]')
    interactive_ms = page.evaluate("performance.now()")
    first_load = list(sizes)
    views = {}
    for view in VIEWS:
        started = time.perf_counter()
        page.click(f'#nav a[data-view="{view}"]')
        page.wait_for_selector(f'#view[data-view="{view}"][data-loaded="true"]')
        views[view] = (time.perf_counter() - started) * 1000
    context.close()
    return {
        "first_load_bytes": sum(size for _, size in first_load),
        "first_load_requests": len(first_load),
        "largest": sorted(first_load, key=lambda item: -item[1])[:3],
        "interactive_ms": interactive_ms,
        "view_ms": views,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.web", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=5, help="cold loads measured")
    parser.add_argument("--backfill", default="6h", help="history the demo publishes first")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    demo, link = start_demo(workdir, args.backfill)
    try:
        base, key = link.split("/#key=")
        wait_for_backfill(base, key, settle_s=5)
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            runs = [measure(browser, link) for _ in range(args.runs)]
            browser.close()
    finally:
        demo.terminate()
        demo.wait(30)
        shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "machine": describe_machine(),
        "demo_backfill": args.backfill,
        "runs": runs,
        "first_load_bytes_median": statistics.median(r["first_load_bytes"] for r in runs),
        "interactive_ms_median": statistics.median(r["interactive_ms"] for r in runs),
        "interactive_ms_max": max(r["interactive_ms"] for r in runs),
        "view_ms_median": {
            view: statistics.median(r["view_ms"][view] for r in runs) for view in VIEWS
        },
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "web.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Dashboard first load against `cityhub demo`",
        "",
        f"{len(runs)} cold loads in headless chromium, demo backfill {args.backfill}.",
        "",
        "| figure | median | worst | target |",
        "|---|---|---|---|",
        f"| bytes transferred, first load | {result['first_load_bytes_median'] / 1024:.0f} KiB "
        f"| {max(r['first_load_bytes'] for r in runs) / 1024:.0f} KiB | < 1 MB |",
        f"| requests, first load | {statistics.median(r['first_load_requests'] for r in runs):.0f} "
        f"| {max(r['first_load_requests'] for r in runs)} | |",
        f"| time to interactive (City now drawn) | {result['interactive_ms_median']:.0f} ms "
        f"| {result['interactive_ms_max']:.0f} ms | < 2 s |",
        *(
            f"| {view}: tab click to drawn | {ms:.0f} ms "
            f"| {max(r['view_ms'][view] for r in runs):.0f} ms | |"
            for view, ms in result["view_ms_median"].items()
        ),
        "",
        f"Machine: {result['machine']}",
        "",
    ]
    (HERE / "results" / "web.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
