"""Distances on the WGS-84 sphere: shared by the stores' rollups (path length inside an
interval) and the insights (bus-km, tracks)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

__all__ = ["EARTH_RADIUS_M", "haversine_m", "path_length_m"]

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points (degrees)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def path_length_m(points: Sequence[tuple[float, float]]) -> float:
    """Length in metres of a path of (latitude, longitude) points."""
    return sum(haversine_m(*a, *b) for a, b in itertools.pairwise(points))
