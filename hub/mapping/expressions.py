"""JMESPath expressions compiled once at start-up, with a fast path for plain key chains.

Most device mappings read ``power`` or ``aenergy.total``: a chain of object keys. For those
the compiled reader is a loop of ``dict.get`` (what JMESPath's interpreter does for them, less
its per-call set-up), so a mapped message costs no more than a hand-written adapter's; any
other expression (filters, projections, functions) runs through ``jmespath`` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

__all__ = ["Reader", "compile_path", "single_key"]

Reader = Callable[[Any], Any]


def compile_path(expression: str) -> Reader:
    """A function reading ``expression`` from decoded JSON; raises ``ValueError`` (with the
    parser's message) when the expression is not valid JMESPath."""
    try:
        compiled = jmespath.compile(expression)
    except JMESPathError as error:
        raise ValueError(str(error).replace("\n", " ")) from None
    keys = _key_chain(compiled.parsed)
    if keys is None:
        return compiled.search
    if len(keys) == 1:
        (key,) = keys
        return lambda data: data.get(key) if type(data) is dict else None

    if len(keys) == 2:
        outer, inner = keys

        def read_two(data: Any) -> Any:
            if type(data) is dict:
                value = data.get(outer)
                if type(value) is dict:
                    return value.get(inner)
            return None

        return read_two

    def read(data: Any) -> Any:
        for key in keys:
            if type(data) is not dict:
                return None
            data = data.get(key)
        return data

    return read


def single_key(expression: str) -> str | None:
    """The object key ``expression`` reads when it is one plain key (``power``), else None."""
    keys = _key_chain(jmespath.compile(expression).parsed)
    return keys[0] if keys is not None and len(keys) == 1 else None


def _key_chain(node: dict[str, Any]) -> tuple[str, ...] | None:
    if node["type"] == "field":
        return (node["value"],)
    if node["type"] == "subexpression":
        parts = [_key_chain(child) for child in node["children"]]
        if all(part is not None for part in parts):
            return tuple(key for part in parts if part is not None for key in part)
    return None
