"""Who owns a spool folder: an exclusive ``flock`` on ``<folder>/lock``, held while the owner
lives.

The kernel releases an ``flock`` when its process dies, however it dies (SIGKILL, OOM, a
container removed), so "a spool whose lock nobody holds" is exactly "a spool whose hub is
gone": another hub may adopt it (:mod:`hub.stores.adoption`). ``flock`` works between the
processes of one machine and, on NFS v4 and CIFS, between machines sharing the folder.

The lock file is never deleted while locked by someone else's reading of it: an adopter that
removes a drained spool deletes the folder while it holds the lock, and a process that locked
the file in the meantime sees, after locking, that the path no longer names its file (the
inode check in :func:`try_lock`) and lets go.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["LOCK_NAME", "SpoolLock", "try_lock"]

LOCK_NAME = "lock"


class SpoolLock:
    """An ``flock`` held on ``path`` until :meth:`release` (or the process's end)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None


def try_lock(folder: Path, *, create: bool = True) -> SpoolLock | None:
    """Lock ``folder`` (creating it and its lock file unless ``create`` is false), or
    ``None`` when another process holds the lock or (``create=False``) the folder is gone.
    The descriptor is not inherited by child processes (``O_CLOEXEC``)."""
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:  # the folder was removed (create=False)
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    try:
        same = os.path.samestat(os.fstat(fd), path.stat())
    except FileNotFoundError:
        same = False
    if not same:  # an adopter removed the folder between our open and our lock
        os.close(fd)
        return None
    return SpoolLock(path, fd)
