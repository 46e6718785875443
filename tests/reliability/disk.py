"""A small disk of our own: a tmpfs mounted for one test, and a filler that takes its space.

The hub's data folder on it lets a test fill the disk under the running hub and free it again,
the fault a city's edge box sees when logs or a backlog fill its card. Mounting needs root
(CI runs as root); elsewhere the tests that need it skip.
"""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

__all__ = ["SmallDisk"]


class SmallDisk:
    def __init__(self, path: Path, size_mb: int) -> None:
        self.path = path
        self.size_mb = size_mb
        self.filler = path / "filler"

    def mount(self) -> SmallDisk:
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m", "tmpfs", str(self.path)],
            check=True,
            capture_output=True,
        )
        return self

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False, capture_output=True)

    def free_bytes(self) -> int:
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize

    def fill(self, leave_bytes: int = 0) -> None:
        """Take every byte but ``leave_bytes`` (the filler grows until ENOSPC, then shrinks)."""
        chunk = b"\0" * (64 * 1024)
        with self.filler.open("ab", buffering=0) as out:  # unbuffered: nothing left to flush
            try:
                while True:
                    out.write(chunk)
                    out.flush()
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
            if leave_bytes:
                size = out.tell()
                os.ftruncate(out.fileno(), max(0, size - leave_bytes))

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)
