"""The generic query primitives over HTTP: aggregate, latest, catalog."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response

from hub.api.deps import HubDep, ReadDep, SettingsDep, format_time, parse_time
from hub.api.params import OutputDep
from hub.query import FUNCTIONS, AggregateQuery, LatestQuery, PointsQuery, parse_duration_ns

router = APIRouter(prefix="/api/v1", tags=["query"], dependencies=[ReadDep])

WhereParam = Annotated[
    list[str],
    Query(
        description="Tag filter `tag:value`; repeatable (several values of a tag: any of them)",
        examples=["building:b-001"],
    ),
]


def parse_where(items: list[str]) -> dict[str, tuple[str, ...]]:
    where: dict[str, tuple[str, ...]] = {}
    for item in items:
        tag, sep, value = item.partition(":")
        if not sep or not tag or not value:
            raise HTTPException(400, f"where={item!r}: use tag:value, e.g. where=building:b-001")
        where[tag] = (*where.get(tag, ()), value)
    return where


@router.get("/aggregate", summary="Aggregate one field over time windows, grouped by tags")
def aggregate(
    hub: HubDep,
    settings: SettingsDep,
    measurement: Annotated[str, Query(examples=["building_energy"])],
    field: Annotated[str, Query(examples=["energy_import_wh"])],
    fn: Annotated[str, Query(description=f"One of {', '.join(FUNCTIONS)}")] = "mean",
    every: Annotated[str | None, Query(description="Window, e.g. 15m, 1h, 1d")] = None,
    start: Annotated[str | None, Query(description="RFC 3339 or relative (-24h)")] = None,
    end: Annotated[str | None, Query(description="RFC 3339 or relative; default now")] = None,
    group_by: Annotated[list[str], Query(description="Tag to group by; repeatable")] = [],  # noqa: B006
    where: WhereParam = [],  # noqa: B006
    p: Annotated[float | None, Query(description="Percentile for fn=percentile")] = None,
) -> dict[str, Any]:
    now = time.time_ns()
    end_ns = parse_time(end, now, "end")
    start_ns = parse_time(start, end_ns - 86_400 * 10**9, "start")
    try:
        every_ns = parse_duration_ns(every) if every else None
    except ValueError as error:
        raise HTTPException(400, f"every: {error}") from None
    if every_ns and (end_ns - start_ns) // every_ns > settings.api.max_buckets:
        raise HTTPException(
            400,
            f"{(end_ns - start_ns) // every_ns} windows of {every} is more than the limit of "
            f"{settings.api.max_buckets}: shorten the range or widen every",
        )
    try:
        query = AggregateQuery(
            measurement=measurement,
            field=field,
            function=fn,  # type: ignore[arg-type]
            start_ns=start_ns,
            end_ns=end_ns,
            every_ns=every_ns,
            group_by=tuple(group_by),
            where=parse_where(where),
            percentile=p,
        )
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
    series = hub.store.aggregate(query)
    return {
        "measurement": measurement,
        "field": field,
        "fn": fn,
        "every": every,
        "start": format_time(start_ns),
        "end": format_time(end_ns),
        "series": [
            {
                "tags": s.tags,
                "points": [{"time": format_time(b.time_ns), "value": b.value} for b in s.buckets],
            }
            for s in series
        ],
    }


@router.get("/latest", summary="The latest value of each field for every series")
def latest(
    hub: HubDep,
    measurement: Annotated[str, Query(examples=["bus_position"])],
    fields: Annotated[list[str], Query(description="Fields to return; default all")] = [],  # noqa: B006
    where: WhereParam = [],  # noqa: B006
) -> dict[str, Any]:
    try:
        query = LatestQuery(measurement, tuple(fields), parse_where(where))
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
    rows = hub.store.latest(query)
    now = time.time_ns()
    return {
        "measurement": measurement,
        "rows": [
            {
                "tags": row.tags,
                "time": format_time(row.time_ns),
                "age_s": round((now - row.time_ns) / 1e9, 3),
                "fields": row.fields,
            }
            for row in rows
        ],
    }


@router.get(
    "/points",
    summary="Raw points of a measurement in time order (JSON, or CSV for export)",
    response_model=None,
)
def points(
    hub: HubDep,
    settings: SettingsDep,
    output: OutputDep,
    measurement: Annotated[str, Query(examples=["charger_status"])],
    fields: Annotated[list[str], Query(description="Fields to return; default all")] = [],  # noqa: B006
    start: Annotated[str | None, Query(description="RFC 3339 or relative (-1h)")] = None,
    end: Annotated[str | None, Query(description="RFC 3339 or relative; default now")] = None,
    where: WhereParam = [],  # noqa: B006
    limit: Annotated[int | None, Query(ge=1, description="Rows at most")] = None,
) -> Response:
    end_ns = parse_time(end, time.time_ns(), "end")
    start_ns = parse_time(start, end_ns - 3_600 * 10**9, "start")
    most = settings.api.max_points
    if limit is not None and limit > most:
        raise HTTPException(400, f"limit={limit} is more than CITYHUB_API__MAX_POINTS ({most})")
    try:
        query = PointsQuery(
            measurement,
            start_ns,
            end_ns,
            fields=tuple(fields),
            where=parse_where(where),
            limit=(limit or most) + 1,
        )
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
    found = hub.store.points(query)
    truncated = len(found) > query.limit - 1
    rows = [
        {"time": format_time(p.time_ns), **p.tags, **p.fields} for p in found[: query.limit - 1]
    ]
    columns = ["time", *sorted({k for p in found for k in p.tags}),
               *sorted({k for p in found for k in p.fields})]  # fmt: skip
    payload = {
        "measurement": measurement,
        "start": format_time(start_ns),
        "end": format_time(end_ns),
        "truncated": truncated,
        "points": [
            {"time": format_time(p.time_ns), "tags": p.tags, "fields": p.fields}
            for p in found[: query.limit - 1]
        ],
    }
    return output.render(payload, rows, columns)


@router.get("/catalog", summary="Measurements, fields, tags and devices with last-seen")
def catalog(hub: HubDep) -> dict[str, Any]:
    result = hub.store.catalog()

    def when(ns: int | None) -> str | None:
        return format_time(ns) if ns is not None else None

    return {
        "measurements": [
            {
                "name": m.name,
                "fields": m.fields,
                "tags": m.tag_keys,
                "series": m.series,
                "points": m.points,
                "first": when(m.first_ns),
                "last": when(m.last_ns),
            }
            for m in result.measurements
        ],
        "devices": [
            {
                "device": d.device,
                "measurement": d.measurement,
                "first_seen": when(d.first_seen_ns),
                "last_seen": when(d.last_seen_ns),
                "points": d.points,
            }
            for d in result.devices
        ],
    }
