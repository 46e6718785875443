"""The places the answers are about: districts (of buildings) and charging sites."""

from __future__ import annotations

from collections import defaultdict
from typing import ClassVar

from pydantic import BaseModel

from hub.insights.context import Context
from hub.query import LatestQuery

__all__ = ["DistrictList", "SiteList", "district_list", "site_list"]


class District(BaseModel):
    district: str
    buildings: int
    sites: int


class DistrictList(BaseModel):
    rows_field: ClassVar[str] = "districts"
    districts: list[District]


class Site(BaseModel):
    site: str
    district: str | None
    charge_points: int


class SiteList(BaseModel):
    rows_field: ClassVar[str] = "sites"
    sites: list[Site]


def _tags(ctx: Context, measurement: str) -> list[dict[str, str]]:
    """The tags of every registered device and of every series of ``measurement``."""
    return [
        *ctx.registry.as_dict().values(),
        *({**r.tags} for r in ctx.store.latest(LatestQuery(measurement))),
    ]


def _devices_by(ctx: Context, measurement: str, tag: str) -> dict[str, set[str]]:
    members: dict[str, set[str]] = defaultdict(set)
    for device, tags in ctx.registry.as_dict().items():
        if tags.get(tag):
            members[tags[tag]].add(device)
    for row in ctx.store.latest(LatestQuery(measurement)):
        if row.tags.get(tag):
            members[row.tags[tag]].add(row.tags.get("device", ""))
    return members


def site_list(ctx: Context) -> SiteList:
    """Charging sites, from the registry and the chargers' status reports."""
    district_of: dict[str, str] = {}
    for tags in _tags(ctx, "charger_status"):
        if tags.get("site") and tags.get("district"):
            district_of.setdefault(tags["site"], tags["district"])
    charge_points = _devices_by(ctx, "charger_status", "site")
    return SiteList(
        sites=[
            Site(site=site, district=district_of.get(site), charge_points=len(devices - {""}))
            for site, devices in sorted(charge_points.items())
        ]
    )


def district_list(ctx: Context) -> DistrictList:
    """Districts with how many buildings and charging sites they hold."""
    buildings: dict[str, set[str]] = defaultdict(set)
    sites: dict[str, set[str]] = defaultdict(set)
    for tags in _tags(ctx, "building_energy"):
        if tags.get("district") and tags.get("building"):
            buildings[tags["district"]].add(tags["building"])
    for tags in _tags(ctx, "charger_status"):
        if tags.get("district") and tags.get("site"):
            sites[tags["district"]].add(tags["site"])
    return DistrictList(
        districts=[
            District(district=d, buildings=len(buildings[d]), sites=len(sites[d]))
            for d in sorted(set(buildings) | set(sites))
        ]
    )
