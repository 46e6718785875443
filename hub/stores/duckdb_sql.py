"""SQL text shared by the DuckDB store's modules."""

from __future__ import annotations

__all__ = ["quote"]


def quote(name: str) -> str:
    """``name`` as a DuckDB identifier: double-quoted, inner quotes doubled (measurement,
    tag and field names come from devices)."""
    return '"' + name.replace('"', '""') + '"'
