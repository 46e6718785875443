"""The chaos suite's short variant, in CI: a hub SIGKILLed mid-stream, the broker down and
back, the broker frozen (kill -STOP), the hub's clock stepped, the store's folder read-only
(skipped where ``chattr +i`` cannot be used: not root, or a file system without it). Each
must end with every message stored exactly once; the figures land in the results folder as in
a full run. (A broker crash right after the hub subscribed loses messages with Mosquitto 2.0's
save every second: measured by the full run, documented in the README, not a CI verdict.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_quick_chaos_run_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "chaos", "--quick", "--results-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-5000:]
    results = json.loads((tmp_path / "quick.json").read_text())["results"]
    assert [r["name"] for r in results] == [
        "hub_sigkill",
        "broker_down",
        "partition",
        "clock_jumps",
        "disk_readonly",
    ]
    for result in results:
        if "skipped" in result["details"]:
            continue
        assert result["sent"] > 0 and result["lost"] == 0 and result["doubled"] == 0, result
        assert result["details"]["sum_exact"], result
    assert "| broker_down |" in (tmp_path / "quick.md").read_text()
