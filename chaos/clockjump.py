"""Run a program with its wall clock offset by the seconds written in a file, re-read as it
changes: ``python -m chaos.clockjump OFFSET_FILE MODULE [ARGS...]``. A clock step (NTP, a
VM resumed, an operator's ``date -s``) without root, for the chaos suite only.

Why not libfaketime: with ``FAKETIME_DONT_FAKE_MONOTONIC=1`` (a step moves the wall clock, not
the monotonic one) Python's ``time.sleep`` fails with EINVAL under libfaketime 0.9.10, and
faking the monotonic clock too hangs it. This wrapper moves ``time.time``/``time.time_ns`` of
the Python process it starts (the hub's ingest, API and spool), not of the processes it spawns
(the MQTT client process keeps the true clock, so the ingest lag, received there and stored
here, shows the whole offset while it lasts); ``datetime.now`` and ``time.monotonic`` are
left alone.
"""

from __future__ import annotations

import contextlib
import runpy
import sys
import time
from pathlib import Path

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


def main() -> None:
    offset = _Offset(Path(sys.argv[1]))
    time.time = lambda: _real_time() + offset.now()
    time.time_ns = lambda: _real_time_ns() + int(offset.now() * 1e9)
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
