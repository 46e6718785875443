"""``GET /gtfs-rt/vehicle-positions``: the hub as a GTFS-Realtime source for trip planners."""

from __future__ import annotations

from email.utils import formatdate
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from google.protobuf import json_format

from hub.api.deps import ReadDep, StoreDep
from hub.api.problems import PROBLEMS
from hub.insights.feed_out import vehicle_positions_feed

__all__ = ["router"]

router = APIRouter(tags=["gtfs-realtime"], dependencies=[ReadDep], responses=PROBLEMS)

PROTOBUF = "application/x-protobuf"


@router.get(
    "/gtfs-rt/vehicle-positions",
    summary="GTFS-Realtime VehiclePositions: the newest fix of every vehicle",
    response_class=Response,
    responses={
        200: {
            "description": "A GTFS-Realtime FeedMessage (the schema is gtfs-realtime.proto)",
            "content": {
                PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "protobuf's canonical JSON mapping of the FeedMessage",
                    }
                },
            },
        },
        304: {"description": "Not modified since the ETag in If-None-Match"},
    },
)
def get_gtfs_rt_vehicle_positions(
    store: StoreDep,
    format: Annotated[
        Literal["protobuf", "json"], Query(description="protobuf (default) or json")
    ] = "protobuf",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A `FeedMessage` (FULL_DATASET): one entity per vehicle with trip, route, position,
    occupancy and timestamp, whatever format the fix arrived in. `?format=json` gives
    protobuf's canonical JSON mapping. The header timestamp is the newest fix's; send the
    `ETag` back in `If-None-Match` to get 304 until a vehicle moves."""
    feed = vehicle_positions_feed(store)
    etag = feed.etag if format == "protobuf" else feed.etag[:-1] + '-json"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if feed.timestamp_s:
        headers["Last-Modified"] = formatdate(feed.timestamp_s, usegmt=True)
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    if format == "json":
        body = json_format.MessageToJson(feed.message, indent=None).encode()
        return Response(body, media_type="application/json", headers=headers)
    return Response(
        feed.message.SerializeToString(deterministic=True), media_type=PROTOBUF, headers=headers
    )
