"""The device table: registered devices and every device the store has points of, with first
and last seen, point counts and a stale flag."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, Field

from hub.insights.context import NS_PER_S, Context, utc

__all__ = ["DeviceList", "DeviceSeen", "device_table"]


class DeviceSeen(BaseModel):
    device: str
    registered: bool
    tags: dict[str, str] = Field(description="The registry's tags (CSV: `k=v;k=v`)")
    measurements: list[str] = Field(description="What it reported (CSV: `;`-separated)")
    first_seen: datetime | None
    last_seen: datetime | None
    points: int
    stale: bool


class DeviceList(BaseModel):
    rows_field: ClassVar[str] = "devices"
    devices: list[DeviceSeen]


def device_table(ctx: Context) -> dict[str, DeviceSeen]:
    """Every device by id, sorted. ``stale``: never seen, or silent for longer than
    ``CITYHUB_INSIGHTS__DEVICE_STALE_S``."""
    tags = ctx.registry.as_dict()
    measurements: dict[str, list[str]] = {device: [] for device in tags}
    points: dict[str, int] = dict.fromkeys(tags, 0)
    seen: dict[str, tuple[int, int]] = {}
    for info in ctx.store.catalog().devices:
        measurements.setdefault(info.device, []).append(info.measurement)
        points[info.device] = points.get(info.device, 0) + info.points
        first, last = seen.get(info.device, (info.first_seen_ns, info.last_seen_ns))
        seen[info.device] = (min(first, info.first_seen_ns), max(last, info.last_seen_ns))
    stale_ns = ctx.config.device_stale_s * NS_PER_S
    return {
        device: DeviceSeen(
            device=device,
            registered=device in tags,
            tags=tags.get(device, {}),
            measurements=sorted(measurements[device]),
            first_seen=utc(seen[device][0]) if device in seen else None,
            last_seen=utc(seen[device][1]) if device in seen else None,
            points=points[device],
            stale=device not in seen or ctx.now_ns - seen[device][1] > stale_ns,
        )
        for device in sorted(measurements)
    }
