"""The publishing side without a broker: the simulated clock, the rate limiter, the CLI.
(Publishing to a real broker is covered by the end-to-end tests of the hub.)"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from simulators.cli import main, parser
from simulators.clock import SimClock
from simulators.publisher import RateLimiter
from simulators.simtime import parse_duration_s


def test_sim_clock_accelerates_but_never_passes_the_wall_clock() -> None:
    day_ago = time.time_ns() - 86_400 * 10**9
    clock = SimClock(day_ago, speed=3600.0)
    time.sleep(0.05)
    assert clock.now_ns() - day_ago > 100 * 10**9  # ~180 simulated seconds
    assert clock.now_ns() <= time.time_ns()
    free = SimClock(time.time_ns(), speed=3600.0, clamp_to_wall=False)
    time.sleep(0.01)
    assert free.now_ns() > time.time_ns() + 10**9


def test_rate_limiter_holds_the_rate() -> None:
    limiter, stop = RateLimiter(2000.0), threading.Event()
    started = time.monotonic()
    for _ in range(600):
        limiter.wait(stop)
    elapsed = time.monotonic() - started
    assert 0.2 < elapsed < 1.0  # 600 messages at 2000/s, less the 0.1 s burst allowance


@pytest.mark.parametrize(
    ("text", "seconds"), [("7d", 604800), ("90m", 5400), ("1h30m", 5400), ("3600", 3600)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


def test_cli_parses_every_documented_flag() -> None:
    args = parser().parse_args(
        [
            *("--host", "h", "--port", "1884", "--seed", "7", "--buildings", "3"),
            *("--charge-points", "2", "--buses", "1", "--rate", "50", "--speed", "144"),
            *("--backfill", "7d", "--backfill-only", "--faults", "0.02,nan"),
            *("--registry", "r.json", "--duration", "60", "--username", "u"),
            *("--password", "p", "--qos", "0"),
        ]
    )
    assert (args.host, args.port, args.seed, args.qos, args.rate, args.speed) == (
        "h",
        1884,
        7,
        0,
        50,
        144,
    )
    assert args.backfill == 7 * 86400 and args.backfill_only and args.duration == 60
    assert args.faults.probability == 0.02 and args.faults.kinds == ("nan",)


def test_cli_prints_messages_and_writes_the_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "registry.json"
    code = main(
        [
            "--buildings",
            "3",
            "--charge-points",
            "1",
            "--buses",
            "1",
            "--registry",
            str(registry),
            "--print",
            "5",
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert len(json.loads(registry.read_text())["devices"]) == 5
