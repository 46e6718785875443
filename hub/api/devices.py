"""Devices: the registry with first/last seen, point counts and a stale flag; admin changes.

Changes go through :class:`hub.devices.DeviceRegistry`, which the adapters share: a device
added is accepted by the next message, one removed is refused (``unknown_device``). Each change
is written to ``CITYHUB_INGEST__REGISTRY_FILE`` (atomically) before it takes effect, so a
restart keeps it; without a registry file changes are refused rather than lost at restart.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from hub.api.deps import AdminDep, ContextDep, ReadDep, WritableRegistryDep
from hub.api.problems import PROBLEMS, BadParameter
from hub.api.render import OutputDep, tabular_responses
from hub.devices import DeviceRegistry
from hub.errors import Rejected
from hub.insights.devices import DeviceList, DeviceSeen, device_table
from hub.insights.inventory import Unknown

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/devices", tags=["devices"], responses=PROBLEMS)

DeviceId = Annotated[str, Path(description="The device id", examples=["meter-0001"])]
TAGS_EXAMPLE: dict[str, Any] = {"building": "b-001", "district": "harbour"}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The change cannot be made or kept"}
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


class Registered(BaseModel):
    device: str
    tags: dict[str, str]
    created: bool


@router.get(
    "",
    summary="Devices: registry tags, first and last seen, points, stale flag",
    dependencies=[ReadDep],
    response_model=DeviceList,
    responses=tabular_responses(DeviceList),
)
def list_devices(ctx: ContextDep, output: OutputDep, stale: bool | None = None) -> Response:
    """Registered devices and every device the store has points of. `stale`: never seen, or
    silent for longer than `CITYHUB_INSIGHTS__DEVICE_STALE_S`; filter with `stale=true`."""
    rows = [row for row in device_table(ctx).values() if stale is None or row.stale == stale]
    return output.render(DeviceList(devices=rows))


@router.get("/{device_id}", summary="One device", dependencies=[ReadDep])
def get_device(ctx: ContextDep, device_id: DeviceId) -> DeviceSeen:
    row = device_table(ctx).get(device_id)
    if row is None:
        raise Unknown("device", device_id)
    return row


def _put(registry: DeviceRegistry, device_id: str, tags: dict[str, str], where: str) -> bool:
    try:
        return registry.put(device_id, tags)
    except Rejected as error:
        raise BadParameter(where, error.detail, status=422) from None
    except OSError as error:
        raise HTTPException(503, f"the registry file cannot be written: {error}") from None


@router.post(
    "",
    summary="Register a new device (admin)",
    dependencies=[AdminDep],
    status_code=201,
    responses={**CONFLICT, 201: {"headers": {"Location": {"schema": {"type": "string"}}}}},
)
def add_device(registry: WritableRegistryDep, body: NewDevice, response: Response) -> Registered:
    if body.device in registry:
        raise HTTPException(409, f"device {body.device!r} is already registered: use PUT")
    _put(registry, body.device, body.tags, "device")
    response.headers["Location"] = f"{router.prefix}/{body.device}"
    return Registered(device=body.device, tags=registry.get(body.device) or {}, created=True)


@router.put(
    "/{device_id}",
    summary="Register or update a device's tags (admin)",
    dependencies=[AdminDep],
    responses={**CONFLICT, 201: {"model": Registered, "description": "The device was new"}},
)
def put_device(
    registry: WritableRegistryDep, response: Response, device_id: DeviceId, body: DeviceTags
) -> Registered:
    created = _put(registry, device_id, body.tags, "device_id")
    if created:
        response.status_code = 201
        response.headers["Location"] = f"{router.prefix}/{device_id}"
    return Registered(device=device_id, tags=registry.get(device_id) or {}, created=created)


@router.delete(
    "/{device_id}",
    summary="Remove a device from the registry (admin); its points stay",
    dependencies=[AdminDep],
    status_code=204,
    responses=CONFLICT,
)
def remove_device(registry: WritableRegistryDep, device_id: DeviceId) -> Response:
    if device_id not in registry:
        raise HTTPException(404, f"device {device_id!r} is not registered")
    try:
        registry.remove(device_id)
    except OSError as error:
        raise HTTPException(503, f"the registry file cannot be written: {error}") from None
    return Response(status_code=204)
