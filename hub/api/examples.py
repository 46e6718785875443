"""OpenAPI examples generated from the response models, never written by hand.

:func:`example_of` builds an instance of a pydantic model from its fields: a field's own
``examples`` when it declares them, else a value of its type (a string is the field's name,
a number 1 or 0.5, a time 2024-05-01T00:00:00Z, a list one element, a nested model its own
example). The model validates it, so an example can never drift from the schema it
illustrates, and it is dumped as the API would send it (rounded by :mod:`hub.precision`).
:func:`add_examples` puts each route's example on its 200 response in the OpenAPI document.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = ["add_examples", "example_of"]

EXAMPLE_TIME = datetime(2024, 5, 1, tzinfo=UTC)
_JSON_MEDIA = ("application/json", "application/geo+json")


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    """A valid instance of ``model`` as JSON (see the module docstring)."""
    return model.model_validate(_fields(model)).model_dump(mode="json")


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    return {
        (field.alias or name): _field_value(name, field)
        for name, field in model.model_fields.items()
    }


def _field_value(name: str, field: FieldInfo) -> Any:
    if field.examples:
        return field.examples[0]
    if field.default is not None and isinstance(field.default, (str, enum.Enum)):
        return field.default  # a fixed tag such as a GeoJSON "type"
    return _sized(_value(name, field.annotation), field.metadata)


def _value(name: str, annotation: Any) -> Any:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _sized(_value(name, args[0]), args[1:])
    if origin in (Union, types.UnionType):
        chosen = [a for a in args if a is not type(None)]
        return _value(name, chosen[0]) if chosen else None
    if origin is Literal:
        return args[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _fields(annotation)
    if isinstance(annotation, type) and issubclass(annotation, tuple):  # a NamedTuple
        return [_value(n, a) for n, a in getattr(annotation, "__annotations__", {}).items()]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation)).value
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        return {"name": _value(name, args[1])} if len(args) == 2 else {}
    if origin is tuple:
        return [_value(name, a) for a in args if a is not Ellipsis]
    if origin is not None and isinstance(origin, type) and issubclass(origin, Sequence):
        return [_value(name, args[0])] if args else []
    return _scalar(name, annotation)


def _sized(value: Any, metadata: Sequence[Any]) -> Any:
    """A one-element list repeated up to a ``min_length`` constraint (a LineString: 2)."""
    least = max((getattr(m, "min_length", 0) or 0 for m in metadata), default=0)
    if isinstance(value, list) and value and len(value) < least:
        return value * least
    return value


def _scalar(name: str, annotation: Any) -> Any:
    if annotation is bool:
        return False
    if annotation is int:
        return 1
    if annotation is float:
        return 0.5
    if annotation is datetime:
        return EXAMPLE_TIME.isoformat().replace("+00:00", "Z")
    if annotation is date:
        return EXAMPLE_TIME.date().isoformat()
    if annotation is str:
        return name
    return None  # Any, object: no value is as good as a made-up one


def add_examples(openapi: dict[str, Any], routers: Sequence[APIRouter]) -> dict[str, Any]:
    """Each operation of ``routers`` in ``openapi`` with its response model's example on its
    200 JSON (or GeoJSON) response; operations are matched by their ``operationId``, the
    route's name (``hub.api.app``)."""
    models = {
        route.name: route.response_model
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and _is_model(route.response_model)
    }
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            model = models.get(operation.get("operationId", ""))
            content = operation.get("responses", {}).get("200", {}).get("content", {})
            if model is None:
                continue
            example = example_of(model)
            for media in _JSON_MEDIA:
                if media in content:
                    content[media]["example"] = example
    return openapi


def _is_model(model: Any) -> bool:
    return isinstance(model, type) and issubclass(model, BaseModel)
