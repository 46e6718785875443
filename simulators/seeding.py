"""Deterministic randomness: every draw is a pure function of the seed and a key path.

Keys are hashed (BLAKE2b), never Python's ``hash`` (salted per process), so the same seed
gives the same city and the same messages in every run.
"""

from __future__ import annotations

import hashlib
import random

__all__ = ["hex_id", "rng", "unit"]

_SEPARATOR = "\x1f"


def _digest(keys: tuple[object, ...], size: int = 8) -> bytes:
    text = _SEPARATOR.join(str(key) for key in keys)
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


def rng(*keys: object) -> random.Random:
    """A random generator seeded by ``keys`` (seed first, then what it is for)."""
    return random.Random(int.from_bytes(_digest(keys), "big"))


def unit(*keys: object) -> float:
    """A uniform number in [0, 1) drawn from ``keys``: cheaper than :func:`rng` for one draw."""
    return int.from_bytes(_digest(keys, 7), "big") / 2**56


def hex_id(*keys: object, length: int = 12) -> str:
    """A hexadecimal string of ``length`` digits (lower case) drawn from ``keys``."""
    return _digest(keys, (length + 1) // 2).hex()[:length]
