"""The device registry: which building, site or district a device belongs to.

A JSON file mapping a device id to the static tags its points carry::

    {"devices": {"meter-0001": {"building": "b-001", "district": "harbour"}}}

Adapters look devices up here; an unknown device is rejected (``unknown_device``) rather than
becoming a new series, so a typo or a rogue publisher cannot grow the store's cardinality.

The registry can change at run time (:meth:`DeviceRegistry.put`, :meth:`DeviceRegistry.remove`,
used by the admin API). A registry loaded from a file writes every change back to it
atomically (a temporary file in the same folder, fsync'd, then renamed over the old one), so a
restart keeps the change and a crash mid-write leaves the old file whole. The adapters share
the registry object, so a device added is accepted by the next message.

Several hubs (replicas) share one file, so the file is the truth, not any hub's memory:

* every read checks, at most once per :data:`RELOAD_CHECK_S`, whether the file changed (its
  inode, size or modification time: an atomic replace always makes a new inode) and reloads
  it, so a change made through one hub, or by hand, applies everywhere within seconds;
* a change takes an exclusive ``flock`` on a sidecar lock file (``<name>.lock``, next to the
  registry: the registry itself is replaced, so it cannot carry the lock), re-reads the file,
  applies the one change and writes it back before letting go: concurrent changes through
  different hubs are serialised and none overwrites another.

A file that fails to parse on reload (someone's hand edit) is logged and ignored: the hub keeps
the registry it had until the file is fixed.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from hub.errors import ConfigError, Rejected

__all__ = ["ID_PATTERN", "RELOAD_CHECK_S", "DeviceRegistry", "check_id"]

log = logging.getLogger(__name__)

RELOAD_CHECK_S = 1.0  # how stale a hub's view of a shared registry file may be
_Signature = tuple[int, int, int]  # inode, size, mtime in ns

# Ids from topics and payloads become tag values: letters, digits and . _ : - only, so no
# topic level, line-protocol separator or SQL quote can ride in on them.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def check_id(value: str, what: str) -> str:
    """Return ``value`` if it is a well-formed id, else reject naming ``what`` it was."""
    if not ID_PATTERN.fullmatch(value):
        raise Rejected("bad_id", f"{what} {value[:80]!r} is not a valid id ({ID_PATTERN.pattern})")
    return value


class DeviceRegistry:
    """Device id → static tags. Thread-safe; replaced whole on reload or update."""

    def __init__(
        self, devices: Mapping[str, Mapping[str, str]] | None = None, path: Path | None = None
    ) -> None:
        self._devices: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self.path = path  # where changes are persisted; None: in memory only
        self._signature: _Signature | None = None
        self._next_check = 0.0
        if devices:
            self.replace(devices)
        if path is not None:
            self._signature = _signature(path)
            self._next_check = time.monotonic() + RELOAD_CHECK_S

    @classmethod
    def from_file(
        cls, path: Path, setting: str = "CITYHUB_INGEST__REGISTRY_FILE"
    ) -> DeviceRegistry:
        try:
            devices = _read(path)
        except FileNotFoundError:
            raise ConfigError(setting, f"registry file {path} does not exist") from None
        except (OSError, ValueError) as error:
            raise ConfigError(setting, f"registry file {path} unusable: {error}") from None
        try:
            return cls(devices, path)
        except (Rejected, TypeError, ValueError) as error:
            raise ConfigError(setting, f"{path}: {error}") from None

    def replace(self, devices: Mapping[str, Mapping[str, str]]) -> None:
        checked = _checked(devices)
        with self._lock:
            self._devices = checked

    def put(self, device_id: str, tags: Mapping[str, str]) -> bool:
        """Add or replace ``device_id`` with ``tags``, persisted before it takes effect.
        Returns whether the device is new. Raises ``Rejected`` (``bad_id``) for a bad id or tag
        value, ``OSError`` when the file cannot be written (then nothing changed)."""
        check_id(device_id, "device")
        checked = {str(k): check_id(str(v), f"tag {k}") for k, v in tags.items()}
        with self._changing() as current:
            created = device_id not in current
            self._commit({**current, device_id: checked})
        return created

    def remove(self, device_id: str) -> bool:
        """Remove ``device_id`` (persisted first); ``False`` when it was not registered."""
        with self._changing() as current:
            if device_id not in current:
                return False
            self._commit({d: tags for d, tags in current.items() if d != device_id})
        return True

    def add_missing(self, devices: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Register the devices of ``devices`` that are not registered yet; existing entries
        (perhaps changed by an admin) are never touched. Returns the ids added. A file that
        does not exist yet is created. For the one-shot writer of a deployment, which runs at
        every start next to live hubs: same lock and re-read as :meth:`put`."""
        wanted = _checked(devices)
        if self.path is not None and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._persist({})  # an empty registry to merge into, under the lock below
        with self._changing() as current:
            added = sorted(device for device in wanted if device not in current)
            if added:
                self._commit({**current, **{device: wanted[device] for device in added}})
            else:
                self._devices = current
        return added

    @contextmanager
    def _changing(self) -> Iterator[dict[str, dict[str, str]]]:
        """The registry as it is now, locked against every other writer (threads of this
        process, and other processes through the sidecar ``flock``) until the block ends."""
        with self._lock:
            if self.path is None:
                yield dict(self._devices)
                return
            lock_path = self.path.with_name(f"{self.path.name}.lock")
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # released by the close below
                try:
                    current = _checked(_read(self.path))
                except (OSError, ValueError, TypeError, Rejected) as error:
                    # Never build on a file we cannot read: that would drop its devices.
                    raise OSError(f"registry file {self.path} unreadable: {error}") from error
                yield current
            finally:
                os.close(fd)

    def _commit(self, devices: dict[str, dict[str, str]]) -> None:
        """Persist ``devices`` and make them current (called inside :meth:`_changing`)."""
        self._persist(devices)
        self._devices = devices
        if self.path is not None:
            self._signature = _signature(self.path)

    def _persist(self, devices: dict[str, dict[str, str]]) -> None:
        if self.path is None:
            return
        folder = self.path.parent
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump({"devices": devices}, file, indent=2, sort_keys=True)
                file.write("\n")
                file.flush()
                os.fsync(file.fileno())
            Path(temporary).replace(self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a crash
        finally:
            os.close(directory)

    def _current(self) -> dict[str, dict[str, str]]:
        """The devices, reloaded first when the file changed (checked once a second)."""
        if self.path is not None and time.monotonic() >= self._next_check:
            self._reload_if_changed(self.path)
        return self._devices

    def _reload_if_changed(self, path: Path) -> None:
        with self._lock:
            if time.monotonic() < self._next_check:
                return  # another thread just checked
            self._next_check = time.monotonic() + RELOAD_CHECK_S
            signature = _signature(path)
            if signature is None or signature == self._signature:
                return
            self._signature = signature
            try:
                devices = _checked(_read(path))
            except (OSError, ValueError, TypeError, Rejected) as error:
                log.error(
                    "registry file %s changed but is unusable, kept as it was: %s", path, error
                )
                return
            added = devices.keys() - self._devices.keys()
            removed = self._devices.keys() - devices.keys()
            self._devices = devices
        log.info(
            "registry file %s reloaded: %d devices (%d added, %d removed)",
            path,
            len(devices),
            len(added),
            len(removed),
        )

    def get(self, device_id: str) -> dict[str, str] | None:
        tags = self._current().get(device_id)
        return None if tags is None else dict(tags)

    def lookup(self, device_id: str) -> dict[str, str]:
        """The static tags of ``device_id``; ``unknown_device`` when it is not registered."""
        tags = self._current().get(device_id)
        if tags is None:
            raise Rejected("unknown_device", f"device {device_id[:80]!r} is not in the registry")
        return tags

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._current()

    def __len__(self) -> int:
        return len(self._current())

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {device: dict(tags) for device, tags in self._current().items()}


def _read(path: Path) -> dict:
    """The ``devices`` object of a registry file (``ValueError`` when it is not one)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    devices = document.get("devices") if isinstance(document, dict) else None
    if not isinstance(devices, dict):
        raise ValueError(f"{path} must be an object with a 'devices' object")
    return devices


def _checked(devices: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    checked: dict[str, dict[str, str]] = {}
    for device_id, tags in devices.items():
        check_id(device_id, "device")
        if not isinstance(tags, Mapping):
            raise TypeError(f"device {device_id!r}: tags must be an object")
        checked[device_id] = {str(k): check_id(str(v), f"tag {k}") for k, v in tags.items()}
    return checked


def _signature(path: Path) -> _Signature | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
