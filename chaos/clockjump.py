"""A program's wall clock offset by the seconds written in a file, re-read as it changes: a
clock step (NTP, a VM resumed, an operator's ``date -s``) without root, for the chaos suite
only.

:func:`stepped_env` gives the environment that steps **every Python process** started with it,
and every process those start: the hub, and the MQTT client process it spawns (a
``multiprocessing`` spawn child, a fresh interpreter), as one machine's clock step would. It
puts :mod:`chaos.clockhook`'s ``sitecustomize`` first on ``PYTHONPATH``; Python imports it
at start-up, and it moves ``time.time``/``time.time_ns`` when ``CHAOS_CLOCK_OFFSET_FILE``
is set. ``datetime.now`` and ``time.monotonic`` are left alone (a step moves the wall clock,
not the monotonic one). ``python -m chaos.clockjump OFFSET_FILE MODULE [ARGS...]`` runs one
module so, without its children.

Why not libfaketime: with ``FAKETIME_DONT_FAKE_MONOTONIC=1`` Python's ``time.sleep`` fails
with EINVAL under libfaketime 0.9.10, and faking the monotonic clock too hangs it.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
import time
from pathlib import Path

__all__ = ["ENV_VAR", "install", "stepped_env"]

ENV_VAR = "CHAOS_CLOCK_OFFSET_FILE"
_HOOK_DIR = Path(__file__).resolve().parent / "clockhook"
_REPO = Path(__file__).resolve().parent.parent
_real_time, _real_time_ns, _real_monotonic = time.time, time.time_ns, time.monotonic


class _Offset:
    def __init__(self, path: Path) -> None:
        self.path, self.seconds, self.read_at = path, 0.0, -1.0

    def now(self) -> float:
        if _real_monotonic() - self.read_at > 0.1:
            self.read_at = _real_monotonic()
            with contextlib.suppress(OSError, ValueError):
                self.seconds = float(self.path.read_text().strip() or 0)
        return self.seconds


def install(offset_file: Path) -> None:
    """Offset this process's ``time.time``/``time.time_ns`` by the file's seconds."""
    offset = _Offset(offset_file)
    time.time = lambda: _real_time() + offset.now()
    time.time_ns = lambda: _real_time_ns() + int(offset.now() * 1e9)


def stepped_env(offset_file: Path, env: dict[str, str]) -> dict[str, str]:
    """``env`` for processes whose clocks (and their children's) follow ``offset_file``."""
    path = [str(_HOOK_DIR), str(_REPO), *filter(None, [env.get("PYTHONPATH")])]
    return {**env, ENV_VAR: str(offset_file), "PYTHONPATH": os.pathsep.join(path)}


def main() -> None:
    install(Path(sys.argv[1]))
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
