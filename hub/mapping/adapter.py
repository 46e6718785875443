"""A mapping at run time: one :class:`hub.contracts.Adapter` per mapping of the file.

Everything that can be checked without a message was checked by the loader, and every
expression compiled there; ``parse`` only reads. A value that is missing or of the wrong type
rejects the message with the mapping's name, the key and the expression that failed, so the
dead letter tells the operator which line of the file to look at.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import from_json

from hub.contracts import AdapterEnv, Parsed
from hub.devices import check_id
from hub.errors import Rejected
from hub.mapping.expressions import Reader
from hub.points import FieldValue, Point
from hub.timestamps import NS_PER_S, iso_to_ns, to_ns
from hub.topics import TopicFilter

__all__ = ["FieldReader", "MappedAdapter", "TextSource", "TimeReader"]


@dataclass(frozen=True, slots=True)
class TextSource:
    """Where a device id or a tag value comes from: a constant, a template over the named
    topic levels, or a JMESPath on the payload (``from_item``: on the element of ``each``)."""

    key: str  # the file's key, for messages: "device", "tags.channel"
    constant: str | None = None
    template: str | None = None
    level: str | None = None  # the template is exactly one named level: "{device}"
    expression: str | None = None
    read: Reader | None = None
    from_item: bool = False


@dataclass(frozen=True, slots=True)
class FieldReader:
    field: str
    expression: str
    read: Reader
    kind: str  # number | string | bool
    scale: float  # canonical = (value * scale) * conversion.scale + conversion.offset
    offset: float
    optional: bool
    key: str | None = None  # the expression is this one object key: read it inline


@dataclass(frozen=True, slots=True)
class TimeReader:
    expression: str
    read: Reader
    format: str
    from_item: bool


def decode(payload: bytes) -> Any:
    """JSON without NaN/Infinity; too deep, not UTF-8 or not JSON is ``invalid_json``.

    pydantic-core's parser (the one the hand-written adapters' models use) rather than the
    standard library's: a third of the cost on a device payload, and NaN refused by the
    parser instead of by a callback."""
    try:
        return from_json(payload, allow_inf_nan=False)
    except ValueError as error:
        raise Rejected("invalid_json", f"payload is not JSON: {str(error)[:160]}") from None


class MappedAdapter:
    """The adapter one mapping of the mappings file describes (built by the loader)."""

    def __init__(
        self,
        *,
        name: str,
        topic: TopicFilter,
        levels: dict[str, int],
        measurement: str,
        device: TextSource,
        registry: str,
        time: TimeReader | None,
        each: tuple[str, Reader] | None,
        fields: Sequence[FieldReader],
        tags: Sequence[tuple[str, TextSource]],
        env: AdapterEnv,
    ) -> None:
        self.name = name
        self.topics: Sequence[TopicFilter] = (topic,)
        self.measurement = measurement
        self._levels = tuple(levels.items())
        self._device = device
        self._registry = registry
        self._time = time
        self._each = each
        self._fields = tuple(fields)
        # Constant tags were checked at load; only the others are read and checked per point.
        self._constant_tags = {t: s.constant for t, s in tags if s.constant is not None}
        self._tags = tuple((t, s) for t, s in tags if s.constant is None)
        self._env = env

    def _fail(self, reason: str, key: str, expression: str | None, problem: str) -> Rejected:
        where = f"{key} {expression!r}" if expression else key
        return Rejected(reason, f"mapping {self.name!r}: {where} {problem}")

    def parse(self, topic: str, payload: bytes) -> list[Point]:
        levels = topic.split("/")
        named = {name: levels[index] for name, index in self._levels}
        data = decode(payload)
        received_ns = self._env.time.clock.now_ns() if self._time is None else 0
        if self._each is None:
            return [self._point(named, data, data, received_ns)]
        expression, read_each = self._each
        elements = read_each(data)
        if not isinstance(elements, list):
            raise self._fail("missing_field", "each", expression, "did not yield a list")
        if not elements:
            raise self._fail("empty", "each", expression, "yielded an empty list")
        # One point per element; an element that cannot be read is refused on its own (its
        # dead letter names it) and the others are stored, as the built-in adapters do.
        points: list[Point] = []
        rejects: list[Rejected] = []
        for index, element in enumerate(elements, start=1):
            try:
                points.append(
                    self._point({**named, "index": str(index)}, data, element, received_ns)
                )
            except Rejected as error:
                ours = f"mapping {self.name!r}: "
                detail = error.detail.removeprefix(ours)  # device id, registry: not prefixed
                rejects.append(Rejected(error.reason, f"{ours}element {index}: {detail}"))
        if not points:
            raise rejects[0]
        return Parsed(points, rejects) if rejects else points

    def _point(self, context: dict[str, str], data: Any, element: Any, received_ns: int) -> Point:
        device = check_id(self._text(self._device, context, data, element), "device id")
        if self._registry == "required" or (
            self._registry == "optional" and device in self._env.devices
        ):
            tags = {**self._env.devices.lookup(device), "device": device}
        else:
            tags = {"device": device}
        if self._constant_tags:
            tags.update(self._constant_tags)
        for tag, source in self._tags:
            tags[tag] = check_id(self._text(source, context, data, element), f"tag {tag}")
        fields = self._read_fields(element)
        if self._time is None:
            time_ns = self._env.time.check(received_ns)
        else:
            time_ns = self._read_time(data, element)
        return Point(self.measurement, tags, fields, time_ns)

    def _text(self, source: TextSource, context: dict[str, str], data: Any, element: Any) -> str:
        if source.constant is not None:
            return source.constant
        if source.level is not None:
            return context[source.level]
        if source.template is not None:
            return source.template.format_map(context)
        assert source.read is not None
        value = source.read(element if source.from_item else data)
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if value is None:
            raise self._fail("missing_field", source.key, source.expression, "found nothing")
        raise self._fail(
            "wrong_type", source.key, source.expression, f"gave {type(value).__name__}, not a text"
        )

    def _read_fields(self, element: Any) -> dict[str, FieldValue]:
        # The hot loop of a mapped message: one dict.get per plain key, one multiply-add per
        # number; anything unusual goes to _field_problem, which says what is wrong.
        fields: dict[str, FieldValue] = {}
        is_object = type(element) is dict
        for spec in self._fields:
            key = spec.key
            value = element.get(key) if key is not None and is_object else spec.read(element)
            if spec.kind == "number":
                kind = type(value)
                if kind is float or kind is int:
                    try:
                        number = value * spec.scale + spec.offset
                    except OverflowError:  # an integer beyond float range
                        number = math.inf
                    if number - number == 0.0:  # finite: inf - inf and nan - nan are nan
                        fields[spec.field] = number
                        continue
            elif spec.kind == "string":
                if type(value) is str:
                    fields[spec.field] = value
                    continue
            elif type(value) is bool:
                fields[spec.field] = value
                continue
            if value is None and spec.optional:
                continue
            raise self._field_problem(spec, value)
        if not fields:
            raise self._fail("empty", "fields", None, "found none of the optional fields")
        return fields

    def _field_problem(self, spec: FieldReader, value: Any) -> Rejected:
        key = f"fields.{spec.field}"
        if value is None:
            return self._fail("missing_field", key, spec.expression, "found nothing")
        if spec.kind == "number" and type(value) in (float, int):
            return self._fail("not_finite", key, spec.expression, "is not finite")
        wanted = {"number": "a number", "string": "a text", "bool": "a boolean"}[spec.kind]
        return self._fail(
            "wrong_type",
            key,
            spec.expression,
            f"gave {type(value).__name__} {str(value)[:40]!r}, not {wanted}",
        )

    def _read_time(self, data: Any, element: Any) -> int:
        spec = self._time
        assert spec is not None
        value = spec.read(element if spec.from_item else data)
        if value is None:
            raise self._fail("missing_field", "time", spec.expression, "found nothing")
        try:
            time_ns = _TIME_FORMATS[spec.format](value, self._env)
        except Rejected as error:
            raise self._fail(error.reason, "time", spec.expression, error.detail) from None
        return self._env.time.check(time_ns)


def _number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected("wrong_type", f"gave {str(value)[:40]!r}, not an epoch number")
    if not math.isfinite(value) or value < 0:
        raise Rejected("bad_timestamp", f"gave {value!r}, not a positive finite time")
    return value


def _scaled(scale: int) -> Callable[[Any, AdapterEnv], int]:
    def convert(value: Any, env: AdapterEnv) -> int:
        number = _number(value)
        if isinstance(number, int):
            return number * scale
        # float epochs: round at the microsecond, as hub.timestamps does
        return round(number * scale / 1000) * 1000 if scale > 1000 else round(number * scale)

    return convert


def _text_time(value: Any) -> str:
    if not isinstance(value, str):
        raise Rejected("wrong_type", f"gave {str(value)[:40]!r}, not a text time")
    return value


def _rfc3339(value: Any, env: AdapterEnv) -> int:
    text = _text_time(value).strip()
    if not (text.endswith(("Z", "z")) or (text[-6:-5] in ("+", "-") and text[-3:-2] == ":")):
        raise Rejected("bad_timestamp", f"gave {text[:40]!r}, an RFC 3339 time needs an offset")
    return iso_to_ns(text, env.time.zone)


def _auto(value: Any, env: AdapterEnv) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Rejected("wrong_type", f"gave {str(value)[:40]!r}, not a time")
    return to_ns(value, env.time.zone)


_TIME_FORMATS: dict[str, Callable[[Any, AdapterEnv], int]] = {
    "auto": _auto,
    "epoch_s": _scaled(NS_PER_S),
    "epoch_ms": _scaled(1_000_000),
    "epoch_ns": _scaled(1),
    "rfc3339": _rfc3339,
    "local": lambda value, env: iso_to_ns(_text_time(value), env.time.zone),
}
TIME_FORMATS = frozenset(_TIME_FORMATS)
