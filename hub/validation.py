"""Validating wire payloads with pydantic, and turning its errors into rejection reasons.

Adapters call :func:`validate_json` (or :func:`validate_python` for decoded protobuf) with the
pydantic model of their wire format. A failure becomes :class:`hub.errors.Rejected` whose
``reason`` is one stable code per kind of problem, so operators can count them apart:

=================  ===============================================================
``invalid_json``   not JSON at all, truncated, or nested deeper than the parser allows
``not_finite``     NaN or ±Infinity where a number belongs
``wrong_type``     a string where a number belongs, an object where a list belongs...
``missing_field``  a required field is absent
``out_of_range``   a number outside its physical range (latitude 200)
``bad_value``      a value outside its enumeration or pattern
=================  ===============================================================
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from hub.errors import Rejected

__all__ = ["WireModel", "rejection", "validate_json", "validate_python"]

M = TypeVar("M", bound=BaseModel)

_REASONS = {
    "json_invalid": "invalid_json",
    "json_type": "invalid_json",
    "recursion_loop": "invalid_json",
    "finite_number": "not_finite",
    "missing": "missing_field",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "too_long": "out_of_range",
    "too_short": "out_of_range",
    "literal_error": "bad_value",
    "enum": "bad_value",
    "string_pattern_mismatch": "bad_value",
    "value_error": "bad_value",
}


class WireModel(BaseModel):
    """Base of wire-format models: immutable, strict (``"12"`` or ``true`` is not a number),
    NaN/Infinity refused, unknown keys ignored (devices add keys with firmware updates; what we
    read is checked, the rest is not ours)."""

    model_config = ConfigDict(frozen=True, strict=True, allow_inf_nan=False, extra="ignore")


def rejection(error: ValidationError) -> Rejected:
    """The ``Rejected`` for a pydantic error: the first problem's reason, every problem listed."""
    problems = error.errors(include_url=False, include_input=False)
    kind = problems[0]["type"]
    reason = _REASONS.get(kind) or ("wrong_type" if kind.endswith(("_type", "_parsing")) else kind)
    detail = "; ".join(
        f"{'.'.join(str(p) for p in problem['loc']) or 'payload'}: {problem['msg']}"
        for problem in problems[:5]
    )
    return Rejected(reason, detail)


def validate_json(model: type[M], payload: bytes) -> M:
    try:
        return model.model_validate_json(payload)
    except ValidationError as error:
        raise rejection(error) from None


def validate_python(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise rejection(error) from None
