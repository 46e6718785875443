"""The device registry: which building, site or district a device belongs to.

A JSON file mapping a device id to the static tags its points carry::

    {"devices": {"meter-0001": {"building": "b-001", "district": "harbour"}}}

Adapters look devices up here; an unknown device is rejected (``unknown_device``) rather than
becoming a new series, so a typo or a rogue publisher cannot grow the store's cardinality.
"""

from __future__ import annotations

import json
import re
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

    def __init__(self, devices: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._devices: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
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
            return cls(devices)
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
