"""Loading a mappings file: every check that can be made before the first message.

A mapping error stops start-up with a :class:`ConfigError` naming the setting, the file, the
mapping and the key (``CITYHUB_INGEST__MAPPINGS_FILE: mappings.yaml: mapping 'plug':
fields.power_w.unit: unit 'kW/h' is not one the hub converts``): a bad JMESPath expression, an
unknown unit, a unit of the wrong kind for a canonical field (kWh into ``power_w``), a field a
known measurement does not have, a topic level name used but not defined, two mappings with
one name. Topics claimed by two adapters with equal specificity are refused by the router.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hub.contracts import AdapterEnv
from hub.devices import check_id
from hub.errors import ConfigError, Rejected
from hub.mapping.adapter import FieldReader, MappedAdapter, TextSource, TimeReader
from hub.mapping.expressions import compile_path, single_key
from hub.mapping.spec import FieldSpec, MappingFile, MappingSpec, ValueSpec
from hub.measurements import canonical_unit, is_canonical
from hub.points import NAME
from hub.topics import TopicFilter
from hub.units import CANONICAL_UNITS

__all__ = ["SETTING", "load_mappings"]

SETTING = "CITYHUB_INGEST__MAPPINGS_FILE"
_NAMED_LEVEL = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_RESERVED_TAGS = frozenset({"device"})


class _MappingError(Exception):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")


def load_mappings(
    path: Path, env: AdapterEnv, taken_names: Collection[str] = ()
) -> list[MappedAdapter]:
    """The adapters of the mappings in ``path`` (and the files it includes), in file order.
    ``taken_names`` are the built-in adapters' names, which a mapping may not reuse."""
    adapters: list[MappedAdapter] = []
    seen: dict[str, Path] = {}
    for file, spec in _read_all(path, []):
        where = f"{file}: mapping {spec.name!r}"
        if spec.name in taken_names or spec.name in seen:
            other = "a built-in adapter" if spec.name in taken_names else str(seen[spec.name])
            raise ConfigError(SETTING, f"{where}: name: already used by {other}")
        seen[spec.name] = file
        try:
            adapters.append(_build(spec, env))
        except _MappingError as error:
            raise ConfigError(SETTING, f"{where}: {error}") from None
    return adapters


def _read_all(path: Path, chain: list[Path]) -> list[tuple[Path, MappingSpec]]:
    resolved = path.resolve()
    if resolved in chain:
        raise ConfigError(SETTING, f"{path}: include: includes itself through {chain[-1]}")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(SETTING, f"{path}: cannot be read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ConfigError(SETTING, f"{path}: not YAML: {error}".replace("\n", " ")) from None
    try:
        parsed = MappingFile.model_validate(document or {})
    except ValidationError as error:
        raise ConfigError(SETTING, f"{path}: {_describe(error, document)}") from None
    found: list[tuple[Path, MappingSpec]] = []
    for include in parsed.include:
        found += _read_all(path.parent / include, [*chain, resolved])
    found += [(path, spec) for spec in parsed.mappings]
    return found


def _describe(error: ValidationError, document: Any) -> str:
    """The first problem, named by mapping and key (``mapping 'plug': fields.power_w.unt``)."""
    problem = error.errors(include_url=False)[0]
    location = list(problem["loc"])
    prefix = ""
    if len(location) >= 2 and location[0] == "mappings" and isinstance(location[1], int):
        index = location[1]
        try:
            name = document["mappings"][index]["name"]
            prefix = f"mapping {name!r}: "
        except (KeyError, TypeError, IndexError):
            prefix = f"mapping #{index + 1}: "
        location = location[2:]
    key = ".".join(str(part) for part in location) or "document"
    return f"{prefix}{key}: {problem['msg']}"


def _build(spec: MappingSpec, env: AdapterEnv) -> MappedAdapter:
    topic, levels = _topic(spec.topic)
    has_each = spec.each is not None
    context = set(levels) | ({"index"} if has_each else set())
    device = _text_source("device", spec.device, context, has_each)
    tags = []
    for tag, source in spec.tags.items():
        if not NAME.fullmatch(tag) or tag in _RESERVED_TAGS:
            raise _MappingError(f"tags.{tag}", "not a valid tag name (or a reserved one)")
        tags.append((tag, _text_source(f"tags.{tag}", source, context, has_each)))
    fields = [_field(spec.measurement, name, field) for name, field in spec.fields.items()]
    clash = set(spec.tags) & set(spec.fields)
    if clash:
        raise _MappingError(f"tags.{sorted(clash)[0]}", "is also a field")
    time = None
    if spec.time is not None:
        expression, from_item = _one_path("time", spec.time, has_each)
        time = TimeReader(expression, _compile("time", expression), spec.time.format, from_item)
    each = (spec.each, _compile("each", spec.each)) if spec.each is not None else None
    return MappedAdapter(
        name=spec.name,
        topic=topic,
        levels=levels,
        measurement=spec.measurement,
        device=device,
        registry=spec.registry,
        time=time,
        each=each,
        fields=fields,
        tags=tags,
        env=env,
    )


def _topic(pattern: str) -> tuple[TopicFilter, dict[str, int]]:
    levels: dict[str, int] = {}
    plain = []
    for index, level in enumerate(pattern.split("/")):
        named = _NAMED_LEVEL.fullmatch(level)
        if named:
            if named.group(1) in levels or named.group(1) == "index":
                raise _MappingError("topic", f"level name {named.group(1)!r} is used twice")
            levels[named.group(1)] = index
            plain.append("+")
        elif "{" in level or "}" in level:
            raise _MappingError("topic", f"level {level!r}: a named level is a whole {{name}}")
        else:
            plain.append(level)
    try:
        return TopicFilter("/".join(plain)), levels
    except ConfigError as error:
        raise _MappingError("topic", error.message) from None


def _compile(key: str, expression: str) -> Any:
    try:
        return compile_path(expression)
    except ValueError as error:
        raise _MappingError(key, f"bad JMESPath expression {expression!r}: {error}") from None


def _one_path(key: str, value: ValueSpec, has_each: bool) -> tuple[str, bool]:
    if (value.path is None) == (value.item is None):
        raise _MappingError(key, "give exactly one of path (the payload) or item (the element)")
    if value.item is not None and not has_each:
        raise _MappingError(f"{key}.item", "item reads the element of 'each'; there is no each")
    return (value.path or value.item or ""), value.item is not None


def _text_source(key: str, value: str | ValueSpec, context: set[str], has_each: bool) -> TextSource:
    if isinstance(value, ValueSpec):
        expression, from_item = _one_path(key, value, has_each)
        return TextSource(key, expression=expression, read=_compile(key, expression),
                          from_item=from_item)  # fmt: skip
    names = set(_NAMED_LEVEL.findall(value))
    unknown = names - context
    if unknown:
        raise _MappingError(
            key, f"{{{sorted(unknown)[0]}}} is not a named topic level ({sorted(context)})"
        )
    if not names:
        try:
            check_id(value, key)
        except Rejected as error:
            raise _MappingError(key, error.detail) from None
        return TextSource(key, constant=value)
    if _NAMED_LEVEL.fullmatch(value):
        return TextSource(key, template=value, level=value[1:-1])
    try:
        value.format_map(dict.fromkeys(names, "x"))
    except (ValueError, KeyError) as error:
        raise _MappingError(key, f"template {value!r}: {error}") from None
    return TextSource(key, template=value)


def _field(measurement: str, name: str, spec: FieldSpec) -> FieldReader:
    key = f"fields.{name}"
    if not NAME.fullmatch(name):
        raise _MappingError(key, "not a valid field name")
    expected = canonical_unit(measurement, name) if is_canonical(measurement) else None
    if is_canonical(measurement) and expected is None:
        raise _MappingError(key, f"{measurement} has no field {name!r} (see hub.measurements)")
    read = _compile(f"{key}.path", spec.path)
    if spec.type != "number":
        if spec.unit is not None:
            raise _MappingError(f"{key}.unit", f"a {spec.type} field has no unit")
        if expected:  # a canonical numeric field
            raise _MappingError(f"{key}.type", f"{name} is a number in {measurement}")
        return FieldReader(
            name, spec.path, read, spec.type, 1.0, 0.0, spec.optional, single_key(spec.path)
        )
    if spec.unit is None:
        raise _MappingError(f"{key}.unit", "a number needs the unit the device sends it in")
    conversion = CANONICAL_UNITS.get(spec.unit)
    if conversion is None:
        raise _MappingError(f"{key}.unit", f"unit {spec.unit!r} is not one the hub converts")
    if expected is not None and conversion.unit != expected:
        raise _MappingError(
            f"{key}.unit", f"{spec.unit!r} converts to {conversion.unit}, {name} is in {expected}"
        )
    return FieldReader(
        name,
        spec.path,
        read,
        "number",
        spec.scale * conversion.scale,
        conversion.offset,
        spec.optional,
        single_key(spec.path),
    )
