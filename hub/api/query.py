"""The generic query primitives over HTTP: aggregate, latest, points, catalog."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from hub.api.deps import ClockDep, ReadDep, SettingsDep, StoreDep
from hub.api.params import check_windows, parse_duration, parse_time
from hub.api.problems import PROBLEMS, BadParameter
from hub.api.render import OutputDep, tabular_responses
from hub.insights.context import NS_PER_S, utc
from hub.points import FieldValue
from hub.precision import S
from hub.query import FUNCTIONS, AggregateQuery, LatestQuery, PointsQuery

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["query"], dependencies=[ReadDep], responses=PROBLEMS)

WhereParam = Annotated[
    list[str],
    Query(
        description="Tag filter `tag:value`; repeatable (several values of a tag: any of them)",
        examples=["building:b-001"],
    ),
]
FieldsParam = Annotated[list[str], Query(description="Fields to return; default all")]


def parse_where(items: list[str]) -> dict[str, tuple[str, ...]]:
    where: dict[str, tuple[str, ...]] = {}
    for item in items:
        tag, sep, value = item.partition(":")
        if not sep or not tag or not value:
            raise BadParameter("where", f"where={item!r}: use tag:value, e.g. where=building:b-001")
        where[tag] = (*where.get(tag, ()), value)
    return where


class AggregatePoint(BaseModel):
    time: datetime
    value: float | None


class AggregateSeries(BaseModel):
    tags: dict[str, str]
    points: list[AggregatePoint]


class Aggregate(BaseModel):
    measurement: str
    field: str
    fn: str
    every: str | None
    start: datetime
    end: datetime
    series: list[AggregateSeries]


@router.get("/aggregate", summary="Aggregate one field over time windows, grouped by tags")
def aggregate(
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    measurement: Annotated[str, Query(examples=["building_energy"])],
    field: Annotated[str, Query(examples=["energy_import_wh"])],
    fn: Annotated[str, Query(description=f"One of {', '.join(FUNCTIONS)}")] = "mean",
    every: Annotated[str | None, Query(description="Window, e.g. 15m, 1h, 1d")] = None,
    start: Annotated[str | None, Query(description="RFC 3339 or relative (-24h)")] = None,
    end: Annotated[str | None, Query(description="RFC 3339 or relative; default now")] = None,
    group_by: Annotated[list[str], Query(description="Tag to group by; repeatable")] = [],  # noqa: B006
    where: WhereParam = [],  # noqa: B006
    p: Annotated[
        float | None, Query(ge=0, le=100, description="Percentile for fn=percentile")
    ] = None,
) -> Aggregate:
    now = clock.now_ns()
    end_ns = parse_time(end, now, "end", now)
    start_ns = parse_time(start, end_ns - 86_400 * NS_PER_S, "start", now)
    every_ns = parse_duration(every, "every") if every else None
    if every_ns:
        check_windows(start_ns, end_ns, every_ns, settings.api.max_buckets, "every")
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
        raise BadParameter(
            "fn" if "function" in str(error) else "measurement", str(error)
        ) from None
    return Aggregate(
        measurement=measurement,
        field=field,
        fn=fn,
        every=every,
        start=utc(start_ns),
        end=utc(end_ns),
        series=[
            AggregateSeries(
                tags=s.tags,
                points=[AggregatePoint(time=utc(b.time_ns), value=b.value) for b in s.buckets],
            )
            for s in store.aggregate(query)
        ],
    )


class LatestValues(BaseModel):
    tags: dict[str, str]
    time: datetime
    age_s: S
    fields: dict[str, FieldValue]


class Latest(BaseModel):
    measurement: str
    rows: list[LatestValues]


@router.get("/latest", summary="The latest value of each field for every series")
def latest(
    store: StoreDep,
    clock: ClockDep,
    measurement: Annotated[str, Query(examples=["bus_position"])],
    fields: FieldsParam = [],  # noqa: B006
    where: WhereParam = [],  # noqa: B006
) -> Latest:
    try:
        query = LatestQuery(measurement, tuple(fields), parse_where(where))
    except ValueError as error:
        raise BadParameter("measurement", str(error)) from None
    now = clock.now_ns()
    return Latest(
        measurement=measurement,
        rows=[
            LatestValues(
                tags=row.tags,
                time=utc(row.time_ns),
                age_s=(now - row.time_ns) / NS_PER_S,
                fields=row.fields,
            )
            for row in store.latest(query)
        ],
    )


class RawPoint(BaseModel):
    time: datetime
    tags: dict[str, str]
    fields: dict[str, FieldValue]


class Points(BaseModel):
    rows_field: ClassVar[str] = "points"
    measurement: str
    start: datetime
    end: datetime
    truncated: bool
    points: list[RawPoint]


@router.get(
    "/points",
    summary="Raw points of a measurement in time order (JSON, or CSV for export)",
    response_model=Points,
    responses=tabular_responses(Points),
)
def points(
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    output: OutputDep,
    measurement: Annotated[str, Query(examples=["charger_status"])],
    fields: FieldsParam = [],  # noqa: B006
    start: Annotated[str | None, Query(description="RFC 3339 or relative (-1h)")] = None,
    end: Annotated[str | None, Query(description="RFC 3339 or relative; default now")] = None,
    where: WhereParam = [],  # noqa: B006
    limit: Annotated[int | None, Query(ge=1, description="Rows at most")] = None,
) -> Response:
    """CSV has one column per tag and field found (`time` first), as an export wants."""
    now = clock.now_ns()
    end_ns = parse_time(end, now, "end", now)
    start_ns = parse_time(start, end_ns - 3_600 * NS_PER_S, "start", now)
    most = settings.api.max_points
    if limit is not None and limit > most:
        raise BadParameter("limit", f"limit={limit} is more than CITYHUB_API__MAX_POINTS ({most})")
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
        raise BadParameter("measurement", str(error)) from None
    found = store.points(query)
    kept = found[: query.limit - 1]
    answer = Points(
        measurement=measurement,
        start=utc(start_ns),
        end=utc(end_ns),
        truncated=len(found) > len(kept),
        points=[RawPoint(time=utc(p.time_ns), tags=p.tags, fields=p.fields) for p in kept],
    )
    return output.render_flat(answer)


class MeasurementSummary(BaseModel):
    name: str
    fields: dict[str, str]
    tags: list[str]
    series: int
    points: int
    first: datetime | None
    last: datetime | None


class DeviceSummary(BaseModel):
    device: str
    measurement: str
    first_seen: datetime | None
    last_seen: datetime | None
    points: int


class CatalogAnswer(BaseModel):
    measurements: list[MeasurementSummary]
    devices: list[DeviceSummary]


@router.get("/catalog", summary="Measurements, fields, tags and devices with last-seen")
def catalog(store: StoreDep) -> CatalogAnswer:
    result = store.catalog()

    def when(ns: int | None) -> datetime | None:
        return utc(ns) if ns is not None else None

    return CatalogAnswer(
        measurements=[
            MeasurementSummary(
                name=m.name,
                fields=m.fields,
                tags=m.tag_keys,
                series=m.series,
                points=m.points,
                first=when(m.first_ns),
                last=when(m.last_ns),
            )
            for m in result.measurements
        ],
        devices=[
            DeviceSummary(
                device=d.device,
                measurement=d.measurement,
                first_seen=when(d.first_seen_ns),
                last_seen=when(d.last_seen_ns),
                points=d.points,
            )
            for d in result.devices
        ],
    )
