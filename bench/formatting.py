"""Numbers as the benchmark reports print them."""

from __future__ import annotations

from typing import Any

__all__ = ["fmt"]


def fmt(value: Any, digits: int = 0) -> str:
    """``value`` for a Markdown table: thousands separated, ``digits`` decimals for a float,
    a list joined with " / ", ``—`` for none."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return " / ".join(fmt(v, digits) for v in value)
    return str(value)
