"""Adopting the spools of hubs that are gone, so acknowledged points outlive their hub.

Hubs sharing a data folder (replicas on one compose volume, or hubs on a network disk) each
spool into ``<data_dir>/spool/<spool name>``, locked while they live
(:mod:`hub.stores.spool_lock`). A hub killed with a spool still pending leaves points that
were acknowledged to the broker and exist nowhere else. Every ``interval_s`` the
:class:`SpoolAdopter` of each live hub looks for such orphans:

1. a spool folder whose lock it can take (its owner is dead: the kernel released the lock),
   or the folder itself when it holds segments of the layout before spool names (``legacy``);
2. it opens the orphan as a :class:`hub.stores.spool.SpooledStore` on its own connection to the
   store, which forwards the records in order from the orphan's saved offset, with the same
   retry and refusal rules as a hub's own spool (refused points become dead letters);
3. once nothing is pending it deletes the segments and offset and the folder, then lets go of
   the lock.

Exactly once: only the lock holder forwards; the offset advances after each write returned, so
an adopter killed mid-drain leaves the rest to the next adopter, which resends at most the
records in flight (writes are idempotent: the same point twice is one point).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hub.contracts import RefusedPoint, Store
from hub.stores.spool import SpooledStore
from hub.stores.spool_lock import LOCK_NAME, try_lock

__all__ = ["SpoolAdopter", "orphan_candidates"]

log = logging.getLogger(__name__)

_SEGMENT_GLOB = "*.seg"
_REPORT_EVERY_S = 60.0


def orphan_candidates(root: Path, own_name: str) -> list[Path]:
    """Spool folders under ``root`` other than ``own_name``'s, oldest first, and ``root``
    itself when it holds segments of the layout before spool names."""
    if not root.is_dir():
        return []
    folders = [
        path
        for path in root.iterdir()
        if path.is_dir() and path.name != own_name and not path.name.startswith(".")
    ]
    folders.sort(key=_mtime)
    if any(root.glob(_SEGMENT_GLOB)):
        folders.insert(0, root)
    return folders


class SpoolAdopter:
    """A background thread that drains orphan spools under ``root`` into fresh stores from
    ``open_inner`` (closed after each adoption). ``on_refused`` as for a hub's own spool."""

    def __init__(
        self,
        root: Path,
        own_name: str,
        open_inner: Callable[[], Store],
        on_refused: Callable[[Sequence[RefusedPoint]], None],
        *,
        interval_s: float = 10.0,
        max_bytes: int = 1 << 30,
        own_status: Callable[[], object] | None = None,
    ) -> None:
        self._root = root
        self._own_name = own_name
        self._open_inner = open_inner
        self._on_refused = on_refused
        self._interval_s = interval_s
        self._max_bytes = max_bytes
        self._own_status = own_status
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._current: SpooledStore | None = None
        self._current_folder: Path | None = None
        self.adopted = 0  # spools drained and removed by this adopter
        self._thread = threading.Thread(target=self._run, name="spool-adopter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop looking; an adoption in progress is left on disk, locked no more."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def status(self) -> dict[str, object]:
        """The adoption in progress, for ``/ready``: its folder and pending bytes."""
        with self._lock:
            current, folder = self._current, self._current_folder
        if current is None or folder is None:
            return {"adopting": None, "adopted": self.adopted}
        pending = current.status()
        return {
            "adopting": folder.name,
            "adopted": self.adopted,
            "pending_bytes": pending.pending_bytes,
            "oldest_pending_age_s": pending.oldest_pending_age_s,
        }

    def pending_bytes(self) -> int:
        with self._lock:
            current = self._current
        return current.status().pending_bytes if current is not None else 0

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        last_report = 0.0
        while not self._stop.wait(self._interval_s):
            try:
                self.adopt_orphans()
            except Exception:  # a dead adopter would strand orphans silently: log, go on
                log.exception("spool adoption failed; trying again in %.0f s", self._interval_s)
            if self._own_status is not None and time.monotonic() - last_report > _REPORT_EVERY_S:
                status = self._own_status()
                if getattr(status, "pending_bytes", 0):
                    log.warning("spool: %s", status)
                    last_report = time.monotonic()

    def adopt_orphans(self) -> int:
        """One pass: adopt and drain every orphan found. Returns how many were drained."""
        drained = 0
        for folder in orphan_candidates(self._root, self._own_name):
            if self._stop.is_set():
                break
            lock = try_lock(folder, create=False)
            if lock is None:
                continue  # its hub lives, or another adopter has it
            try:
                if self._drain(folder, legacy=folder == self._root):
                    drained += 1
            finally:
                lock.release()
        return drained

    def _drain(self, folder: Path, *, legacy: bool) -> bool:
        store = SpooledStore(self._open_inner(), folder, self._max_bytes, self._on_refused)
        pending = store.status()
        if pending.pending_bytes:
            log.warning(
                "adopting the orphan spool %s: %d bytes in %d batches pending, the oldest "
                "%.0f s old",
                folder,
                pending.pending_bytes,
                pending.pending_batches,
                pending.oldest_pending_age_s or 0.0,
            )
        with self._lock:
            self._current, self._current_folder = store, folder
        try:
            while not store.flush(1.0):
                if self._stop.is_set():
                    log.info("stopping with the adopted spool %s not drained: left", folder)
                    return False
        finally:
            with self._lock:
                self._current, self._current_folder = None, None
            store.close()
        _remove(folder, legacy=legacy)
        self.adopted += 1
        if pending.pending_bytes:
            log.warning("adopted spool %s drained into the store and removed", folder)
        return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # removed by another adopter meanwhile: try_lock will skip it
        return 0.0


def _remove(folder: Path, *, legacy: bool) -> None:
    """Delete a drained spool (called while holding its lock, see the module docstring)."""
    for path in folder.glob(_SEGMENT_GLOB):
        path.unlink()
    (folder / "offset").unlink(missing_ok=True)
    if legacy:
        return  # the root of every spool folder stays; its lock file is harmless
    (folder / LOCK_NAME).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError as error:  # something else in it: leave it for a human
        log.warning("drained spool %s not removed: %s", folder, error)
