"""Binary GTFS-Realtime: protobuf bytes → the dict the wire models validate.

The bytes are a ``FeedMessage`` or a single ``FeedEntity``, and nothing in them says which
(both start with field 1, length-delimited). protobuf parses leniently: a FeedMessage read as
a FeedEntity "succeeds" with the header bytes as its id. So: a FeedMessage is tried first and
accepted only with ``header.gtfs_realtime_version`` (required by the spec, and impossible
to produce from an entity's bytes whose id is a valid id); else a FeedEntity, which must have
an ``id``.
"""

from __future__ import annotations

from typing import Any, Literal

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.transit import gtfs_realtime_pb2 as pb

from hub.errors import Rejected

__all__ = ["decode"]


def decode(payload: bytes) -> tuple[Literal["feed", "entity"], dict[str, Any]]:
    """Which message ``payload`` is, and its fields as a dict (proto names, enums as numbers)."""
    feed = pb.FeedMessage()
    try:
        feed.ParseFromString(payload)
    except DecodeError as error:
        feed_problem = str(error)
    else:
        if feed.header.HasField("gtfs_realtime_version"):
            return "feed", _to_dict(feed)
        feed_problem = "no header.gtfs_realtime_version"
    entity = pb.FeedEntity()
    try:
        entity.ParseFromString(payload)
    except DecodeError:
        raise Rejected("invalid_protobuf", f"not a FeedMessage ({feed_problem})") from None
    if not entity.HasField("id"):
        raise Rejected(
            "invalid_protobuf",
            f"neither a FeedMessage ({feed_problem}) nor a FeedEntity (no id)",
        )
    return "entity", _to_dict(entity)


def _to_dict(message: Message) -> dict[str, Any]:
    """Set fields only (proto2 presence), extensions left out. Unlike ``json_format``'s
    ``MessageToDict`` this keeps NaN a float (so it is refused as ``not_finite``)."""
    fields: dict[str, Any] = {}
    for field, value in message.ListFields():
        name, repeated, kind = _FIELD_KINDS.get(field) or _field_kind(field)
        if kind is _EXTENSION:
            continue
        if repeated:
            fields[name] = [_to_value(field, kind, item) for item in value]
        else:
            fields[name] = _to_value(field, kind, value)
    return fields


def _to_value(field: FieldDescriptor, kind: str, value: Any) -> Any:
    if kind is _MESSAGE:
        return _to_dict(value)
    if kind is _STRING and isinstance(value, bytes):
        # proto2 strings are not UTF-8-checked on parse; upb hands back the raw bytes
        raise Rejected("invalid_protobuf", f"{field.full_name} is not valid UTF-8")
    return value


# What _to_dict needs of a field, read from its descriptor once (the descriptor's attributes
# are looked up in C each time, several per field of every message): name, repeated, kind.
_MESSAGE, _STRING, _EXTENSION, _SCALAR = "message", "string", "extension", "scalar"
_FIELD_KINDS: dict[FieldDescriptor, tuple[str, bool, str]] = {}


def _field_kind(field: FieldDescriptor) -> tuple[str, bool, str]:
    if field.is_extension:
        kind = _EXTENSION
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        kind = _MESSAGE
    elif field.type == FieldDescriptor.TYPE_STRING:
        kind = _STRING
    else:
        kind = _SCALAR
    _FIELD_KINDS[field] = found = (field.name, field.is_repeated, kind)
    return found
