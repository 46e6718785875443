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
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from hub.errors import ConfigError, Rejected

__all__ = ["ID_PATTERN", "DeviceRegistry", "check_id"]

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
        if devices:
            self.replace(devices)

    @classmethod
    def from_file(
        cls, path: Path, setting: str = "CITYHUB_INGEST__REGISTRY_FILE"
    ) -> DeviceRegistry:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(setting, f"registry file {path} does not exist") from None
        except (OSError, ValueError) as error:
            raise ConfigError(
                setting, f"registry file {path} is not readable JSON: {error}"
            ) from None
        devices = document.get("devices") if isinstance(document, dict) else None
        if not isinstance(devices, dict):
            raise ConfigError(setting, f"{path} must be an object with a 'devices' object")
        try:
            return cls(devices, path)
        except (Rejected, TypeError, ValueError) as error:
            raise ConfigError(setting, f"{path}: {error}") from None

    def replace(self, devices: Mapping[str, Mapping[str, str]]) -> None:
        checked: dict[str, dict[str, str]] = {}
        for device_id, tags in devices.items():
            check_id(device_id, "device")
            if not isinstance(tags, Mapping):
                raise TypeError(f"device {device_id!r}: tags must be an object")
            checked[device_id] = {str(k): check_id(str(v), f"tag {k}") for k, v in tags.items()}
        with self._lock:
            self._devices = checked

    def put(self, device_id: str, tags: Mapping[str, str]) -> bool:
        """Add or replace ``device_id`` with ``tags``, persisted before it takes effect.
        Returns whether the device is new. Raises ``Rejected`` (``bad_id``) for a bad id or tag
        value, ``OSError`` when the file cannot be written (then nothing changed)."""
        check_id(device_id, "device")
        checked = {str(k): check_id(str(v), f"tag {k}") for k, v in tags.items()}
        with self._lock:
            devices = {**self._devices, device_id: checked}
            self._persist(devices)
            created = device_id not in self._devices
            self._devices = devices
        return created

    def remove(self, device_id: str) -> bool:
        """Remove ``device_id`` (persisted first); ``False`` when it was not registered."""
        with self._lock:
            if device_id not in self._devices:
                return False
            devices = {d: tags for d, tags in self._devices.items() if d != device_id}
            self._persist(devices)
            self._devices = devices
        return True

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

    def get(self, device_id: str) -> dict[str, str] | None:
        tags = self._devices.get(device_id)
        return None if tags is None else dict(tags)

    def lookup(self, device_id: str) -> dict[str, str]:
        """The static tags of ``device_id``; ``unknown_device`` when it is not registered."""
        tags = self._devices.get(device_id)
        if tags is None:
            raise Rejected("unknown_device", f"device {device_id[:80]!r} is not in the registry")
        return tags

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._devices

    def __len__(self) -> int:
        return len(self._devices)

    def as_dict(self) -> dict[str, dict[str, str]]:
        return {device: dict(tags) for device, tags in self._devices.items()}
