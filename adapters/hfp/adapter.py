"""HFP v2 (high-frequency positioning): what Helsinki Region Transport publishes for every
bus, tram, train, metro and ferry, about once a second, on MQTT topics of the form::

    /hfp/v2/journey/ongoing/<event>/<mode>/<operator>/<vehicle>/<route>/<direction>/
        <headsign>/<start_time>/<next_stop>/<geohash_level>/<geohash>/...

This is a built-in adapter, not a mapping: the topic carries more than a dozen levels of
meaning and the events need different measurements. The vehicle is ``<operator>:<vehicle>``
as the topic writes them (``0022:00792``): HFP's own notation ``<operator>/<vehicle>`` cannot be
a device id, whose ``/`` would be a topic level and a URL path segment.

- ``VP`` (vehicle position) becomes a ``bus_position`` point, like a GTFS-RT VehiclePosition:
  latitude, longitude, ``speed_mps`` (``spd``), ``bearing_deg`` (``hdg``), ``odometer_m``
  (``odo``), ``occupancy_pct`` (``occu``), ``delay_s``, ``doors_open`` (``drst``),
  ``route_short_name`` (``desi``), ``direction_id`` (GTFS 0/1 from HFP's 1/2),
  ``start_date``/``start_time`` (GTFS ``YYYYMMDD``/``HH:MM:SS``, with ``trip`` from them the
  served GTFS-RT feed can name the journey), ``stop_id`` (``stop``, the next stop).
- ``DUE``, ``ARR``, ``DEP``, ``PDE``, ``PAS`` (at a stop: due, arrived, departed, about to
  depart, passed without stopping) become ``bus_stop_event`` points tagged with the ``event``.
- The other events (doors, traffic lights, logins...) carry nothing the hub answers with: they
  are acknowledged and skipped, not dead-lettered.

**Delay sign.** HFP's ``dl`` is positive when the vehicle is *ahead* of schedule; GTFS-RT and
every punctuality report count *late* as positive. ``delay_s`` is ``-dl``, in GTFS-RT's sense.

Time is ``tst``. Tags: ``device``, ``route`` (the route id, as in the city's GTFS), ``mode``,
and the registry's tags when the vehicle is registered (option ``require_registered``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapters.hfp.models import HfpFields, HfpMessage
from hub.adapter_options import RegisteredOptions, read_options
from hub.contracts import AdapterEnv
from hub.devices import check_id
from hub.errors import Rejected
from hub.points import FieldValue, Point
from hub.topics import TopicFilter
from hub.units import to_canonical
from hub.validation import validate_json

__all__ = ["POSITION", "SKIPPED_EVENTS", "STOP_EVENT", "STOP_EVENTS", "HfpAdapter"]

POSITION = "bus_position"
STOP_EVENT = "bus_stop_event"
STOP_EVENTS = frozenset({"DUE", "ARR", "DEP", "PDE", "PAS", "ARS"})
# Documented HFP events that carry no position or stop passage we answer with.
SKIPPED_EVENTS = frozenset(
    {"DOO", "DOC", "TLR", "TLA", "DA", "DOUT", "BA", "BOUT", "VJA", "VJOUT", "WAIT"}
)
MODES = frozenset({"bus", "tram", "train", "metro", "ferry", "ubus", "robot"})
_PREFIX = ("", "hfp", "v2", "journey", "ongoing")
_ROUTE_LEVEL = 9


class HfpAdapter:
    """:class:`hub.contracts.Adapter` for HFP v2. Option ``require_registered`` (bool,
    default false): reject vehicles not in the registry."""

    name = "hfp"
    topics: Sequence[TopicFilter] = (TopicFilter("/hfp/v2/journey/ongoing/#"),)

    def __init__(self, options: Mapping[str, object], env: AdapterEnv) -> None:
        chosen = read_options(RegisteredOptions, self.name, options)
        self._require_registered = chosen.require_registered
        self._env = env

    def parse(self, topic: str, payload: bytes) -> list[Point]:
        levels = topic.split("/")
        if len(levels) <= _ROUTE_LEVEL or tuple(levels[:5]) != _PREFIX:
            raise Rejected(
                "bad_topic",
                f"{topic[:120]!r} is not /hfp/v2/journey/ongoing/<event>/<mode>/<operator>/"
                "<vehicle>/<route>/...",
            )
        event = levels[5].upper()
        if event in SKIPPED_EVENTS:
            return []
        if event != "VP" and event not in STOP_EVENTS:
            raise Rejected("unsupported_event", f"HFP event {levels[5][:20]!r} is not one we read")
        message = validate_json(HfpMessage, payload).root
        if list(message) != [event]:
            raise Rejected(
                "bad_value", f"payload keys {sorted(message)[:3]} are not the topic's {event!r}"
            )
        fields = message[event]
        mode = levels[6]
        if mode not in MODES:
            raise Rejected("bad_value", f"transport mode {mode[:20]!r} is not one HFP defines")
        device = check_id(f"{levels[7]}:{levels[8]}", "vehicle id")
        registered = self._require_registered or device in self._env.devices
        tags = {**(self._env.devices.lookup(device) if registered else {}), "device": device}
        tags["mode"] = mode
        route = fields.route or levels[_ROUTE_LEVEL]
        if route:
            tags["route"] = check_id(route, "route id")
        if fields.tst is None:
            raise Rejected("missing_field", f"{event}.tst: the event has no time")
        time_ns = self._env.time.to_ns(fields.tst)
        values = _journey_fields(fields)
        if event == "VP":
            if fields.lat is None or fields.long is None:
                raise Rejected("no_position", "VP without lat/long (no GPS fix)")
            return [Point(POSITION, tags, values, time_ns)]
        return [Point(STOP_EVENT, {**tags, "event": event}, values, time_ns)]


def _journey_fields(fields: HfpFields) -> dict[str, FieldValue]:
    values: dict[str, FieldValue] = {}
    for name, value, unit in (
        ("latitude", fields.lat, "deg"),
        ("longitude", fields.long, "deg"),
        ("speed_mps", fields.spd, "m/s"),
        ("bearing_deg", fields.hdg, "deg"),
        ("odometer_m", fields.odo, "m"),
        ("occupancy_pct", fields.occu, "%"),
        ("delay_s", None if fields.dl is None else -fields.dl, "s"),
    ):
        if value is not None:
            values[name] = to_canonical(value, unit)[0]
    if fields.drst is not None:
        values["doors_open"] = fields.drst == 1
    if fields.desi:
        values["route_short_name"] = fields.desi
    if fields.dir in ("1", "2"):
        values["direction_id"] = float(int(fields.dir) - 1)
    if fields.oday and len(fields.oday) == 10:
        values["start_date"] = fields.oday.replace("-", "")
    if fields.start and len(fields.start) == 5:
        values["start_time"] = fields.start + ":00"
    if fields.stop is not None:
        values["stop_id"] = str(fields.stop)
    return values
