"""Points encoded as InfluxDB line protocol, and the points it cannot carry.

The line protocol is encoded here (see :func:`encode_line`) because ``influxdb_client.Point``
gets three of our cases wrong: it writes a Python ``int`` as an ``i`` integer (a field must stay
float), silently drops NaN/Infinity fields (a point could vanish without a trace), and escapes a
newline in a tag value as ``\\n``, which InfluxDB stores as a literal backslash-n. Tag values
holding a backslash or a line break cannot be carried unambiguously by line protocol (1.x keeps
``\\\\`` as two backslashes, a trailing backslash escapes the separator): such points are
refused with a reason (:func:`point_problem`) rather than stored mangled. Empty tag values are
omitted (InfluxDB does not distinguish an empty tag from a missing one).

Pure functions, no I/O: the store (:mod:`hub.stores.influxdb`) sends the lines.
"""

from __future__ import annotations

import math

from hub.points import FieldValue, Point, naming_problem

__all__ = ["encode_line", "point_problem"]

_RESERVED = frozenset({"time"})
_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})
_UNCARRIABLE = ("\\", "\n", "\r")


def _field_text(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.translate(_STRING_ESCAPES) + '"'
    return repr(float(value))  # never an ``i`` integer: 2 is written 2.0


def point_problem(point: Point) -> str | None:
    """Why ``point`` cannot be written as line protocol, or ``None``."""
    problem = naming_problem(point, _RESERVED)
    if problem:
        return problem
    for key, tag_value in point.tags.items():
        if any(character in tag_value for character in _UNCARRIABLE):
            return f"tag {key!r} holds a backslash or line break, which line protocol cannot carry"
    for name, value in point.fields.items():
        if isinstance(value, float) and not math.isfinite(value):
            return f"field {name!r} is {value}, not a finite number"
        if not isinstance(value, bool | str | float | int):
            return f"field {name!r} has unsupported type {type(value).__name__}"
    return None


def encode_line(point: Point) -> str:
    """One line of line protocol (nanosecond time) for a point :func:`point_problem` accepts."""
    tags = "".join(
        f",{key.translate(_KEY_ESCAPES)}={value.translate(_KEY_ESCAPES)}"
        for key, value in sorted(point.tags.items())
        if value
    )
    fields = ",".join(
        f"{name.translate(_KEY_ESCAPES)}={_field_text(value)}"
        for name, value in sorted(point.fields.items())
    )
    return f"{point.measurement.translate(_MEASUREMENT_ESCAPES)}{tags} {fields} {point.time_ns}"
