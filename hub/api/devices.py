"""Devices: the registry with first/last seen, point counts and a stale flag; admin changes.

Changes go through :class:`hub.devices.DeviceRegistry`, which the adapters share: a device
added is accepted by the next message, one removed is refused (``unknown_device``). Each change
is written to ``CITYHUB_INGEST__REGISTRY_FILE`` (atomically) before it takes effect, so a
restart keeps it; without a registry file changes are refused rather than lost at restart.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from hub.api.deps import AdminDep, HubDep, ReadDep, SettingsDep, format_time
from hub.api.params import OutputDep, tabular_doc
from hub.errors import Rejected
from hub.insights.events import NS_PER_S
from hub.service import Hub

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])

DeviceId = Annotated[str, Path(description="The device id", examples=["meter-0001"])]
COLUMNS = [
    "device", "registered", "tags", "measurements", "first_seen", "last_seen", "points",
    "stale",
]  # fmt: skip
TAGS_EXAMPLE: dict[str, Any] = {"building": "b-001", "district": "harbour"}
EXAMPLE = {
    "device": "meter-0001",
    "registered": True,
    "tags": TAGS_EXAMPLE,
    "measurements": ["building_energy"],
    "first_seen": "2024-05-01T00:00:00Z",
    "last_seen": "2024-05-14T10:00:00Z",
    "points": 38016,
    "stale": False,
}


class DeviceTags(BaseModel):
    """The static tags a device's points carry (ids: letters, digits and . _ : -)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"tags": TAGS_EXAMPLE}]}
    )
    tags: dict[str, str] = Field(default_factory=dict)


class NewDevice(DeviceTags):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"device": "meter-0001", "tags": TAGS_EXAMPLE}]},
    )
    device: str


def _devices(hub: Hub, stale_s: float) -> dict[str, dict[str, Any]]:
    now = time.time_ns()
    registry = hub.devices.as_dict()
    rows: dict[str, dict[str, Any]] = {
        device: {
            "device": device,
            "registered": True,
            "tags": tags,
            "measurements": [],
            "first_seen": None,
            "last_seen": None,
            "points": 0,
        }
        for device, tags in registry.items()
    }
    seen: dict[str, tuple[int, int]] = {}
    for info in hub.store.catalog().devices:
        row = rows.setdefault(
            info.device,
            {
                "device": info.device,
                "registered": False,
                "tags": {},
                "measurements": [],
                "first_seen": None,
                "last_seen": None,
                "points": 0,
            },
        )
        row["measurements"].append(info.measurement)
        row["points"] += info.points
        first, last = seen.get(info.device, (info.first_seen_ns, info.last_seen_ns))
        seen[info.device] = (min(first, info.first_seen_ns), max(last, info.last_seen_ns))
    for device, row in rows.items():
        first_last = seen.get(device)
        row["first_seen"] = format_time(first_last[0]) if first_last else None
        row["last_seen"] = format_time(first_last[1]) if first_last else None
        row["stale"] = first_last is None or now - first_last[1] > stale_s * NS_PER_S
        row["measurements"].sort()
    return dict(sorted(rows.items()))


def _csv_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "tags": ";".join(f"{k}={v}" for k, v in sorted(row["tags"].items())),
        "measurements": ";".join(row["measurements"]),
    }


@router.get(
    "",
    summary="Devices: registry tags, first and last seen, points, stale flag",
    dependencies=[ReadDep],
    response_class=Response,
    responses=tabular_doc(
        {"devices": [EXAMPLE]},
        ",".join(COLUMNS) + "\nmeter-0001,True,building=b-001;district=harbour,building_energy,"
        "2024-05-01T00:00:00Z,2024-05-14T10:00:00Z,38016,False\n",
    ),
)
def list_devices(
    hub: HubDep, settings: SettingsDep, output: OutputDep, stale: bool | None = None
) -> Response:
    """Registered devices and every device the store has points of. `stale`: never seen, or
    silent for longer than `CITYHUB_INSIGHTS__DEVICE_STALE_S`; filter with `stale=true`."""
    rows = [
        row
        for row in _devices(hub, settings.insights.device_stale_s).values()
        if stale is None or row["stale"] == stale
    ]
    return output.render({"devices": rows}, [_csv_row(r) for r in rows], COLUMNS)


@router.get(
    "/{device_id}",
    summary="One device",
    dependencies=[ReadDep],
    responses={200: {"content": {"application/json": {"example": EXAMPLE}}}},
)
def get_device(hub: HubDep, settings: SettingsDep, device_id: DeviceId) -> dict[str, Any]:
    row = _devices(hub, settings.insights.device_stale_s).get(device_id)
    if row is None:
        raise HTTPException(404, f"unknown device {device_id!r}")
    return row


def _put(hub: Hub, device_id: str, tags: dict[str, str]) -> bool:
    if hub.devices.path is None:
        raise HTTPException(
            409,
            "the registry has no file to keep changes in: set CITYHUB_INGEST__REGISTRY_FILE",
        )
    try:
        return hub.devices.put(device_id, tags)
    except Rejected as error:
        raise HTTPException(422, error.detail) from None
    except OSError as error:
        raise HTTPException(503, f"the registry file cannot be written: {error}") from None


@router.post(
    "",
    summary="Register a new device (admin)",
    dependencies=[AdminDep],
    status_code=201,
    responses={409: {"description": "The device is already registered"}},
)
def add_device(hub: HubDep, body: NewDevice) -> dict[str, Any]:
    if body.device in hub.devices:
        raise HTTPException(409, f"device {body.device!r} is already registered: use PUT")
    _put(hub, body.device, body.tags)
    return {"device": body.device, "tags": hub.devices.get(body.device), "created": True}


@router.put(
    "/{device_id}",
    summary="Register or update a device's tags (admin)",
    dependencies=[AdminDep],
    responses={201: {"description": "The device was new"}},
)
def put_device(
    hub: HubDep, response: Response, device_id: DeviceId, body: DeviceTags
) -> dict[str, Any]:
    created = _put(hub, device_id, body.tags)
    response.status_code = 201 if created else 200
    return {"device": device_id, "tags": hub.devices.get(device_id), "created": created}


@router.delete(
    "/{device_id}",
    summary="Remove a device from the registry (admin); its points stay",
    dependencies=[AdminDep],
    status_code=204,
)
def remove_device(hub: HubDep, device_id: DeviceId) -> Response:
    if device_id not in hub.devices:
        raise HTTPException(404, f"device {device_id!r} is not registered")
    if hub.devices.path is None:
        raise HTTPException(
            409,
            "the registry has no file to keep changes in: set CITYHUB_INGEST__REGISTRY_FILE",
        )
    try:
        hub.devices.remove(device_id)
    except OSError as error:
        raise HTTPException(503, f"the registry file cannot be written: {error}") from None
    return Response(status_code=204)
