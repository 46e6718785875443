"""HFP v2 payloads (Digitransit "High-frequency positioning", message format).

A payload is one JSON object with one key, the event type in upper case (``VP``, ``DEP``...),
whose value holds the fields below. Any field may be null: a vehicle without a GPS fix sends
``lat``/``long`` null, one without an odometer ``odo`` null.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, RootModel

from hub.validation import WireModel

__all__ = ["HfpFields", "HfpMessage"]


class HfpFields(WireModel):
    desi: str | None = None  # route short name as shown to passengers ("81", "550")
    dir: str | None = None  # "1" or "2" (GTFS direction_id 0 or 1)
    oper: int | None = None
    veh: int | None = None
    tst: str | None = None  # RFC 3339 UTC, milliseconds
    tsi: int | None = None  # epoch seconds
    spd: Annotated[float | None, Field(ge=0, le=150)] = None  # m/s
    hdg: Annotated[int | None, Field(ge=0, le=360)] = None  # degrees clockwise from north
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    long: Annotated[float | None, Field(ge=-180, le=180)] = None
    acc: float | None = None  # m/s²
    dl: int | None = None  # seconds off schedule; negative: behind schedule (late)
    odo: float | None = None  # m
    drst: int | None = None  # doors: 0 closed, 1 open
    oday: str | None = None  # operating day, YYYY-MM-DD
    jrn: int | None = None
    line: int | None = None
    start: str | None = None  # scheduled start of the journey, HH:mm (may pass 24:00)
    loc: str | None = None  # GPS, ODO, MAN, DR, N/A
    stop: int | str | None = None
    route: str | None = None  # route id, as in HSL's GTFS
    occu: Annotated[int | None, Field(ge=0, le=100)] = None  # %


class HfpMessage(RootModel[dict[str, HfpFields]]):
    """``{"VP": {...}}``: the event name and its fields."""
