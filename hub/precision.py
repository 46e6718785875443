"""How many decimals a number of each unit deserves, in one table.

Answers are sums and differences of floats, which carry noise (``14941.235741999728`` kWh);
a meter's register resolves 0.1 Wh, so a kWh figure deserves three decimals and no more.
Each answer model types its numbers with one of these aliases, and pydantic rounds them when
the model is built, so JSON, CSV and the OpenAPI document agree.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

__all__ = [
    "DECIMALS",
    "Coordinate",
    "Kg",
    "Km",
    "Kmh",
    "Kw",
    "Kwh",
    "M",
    "Mps",
    "S",
    "Share",
    "W",
    "Wh",
]

DECIMALS = {
    "Wh": 1,
    "kWh": 3,
    "W": 1,
    "kW": 4,
    "kg": 3,
    "km": 3,
    "m": 2,
    "m/s": 3,
    "km/h": 3,
    "s": 3,
    "share": 6,  # 0..1: a ppm of an hour is 3.6 ms
    "degree": 6,  # WGS-84 coordinates: 0.1 m
}


def _rounded(unit: str) -> AfterValidator:
    digits = DECIMALS[unit]

    def to_precision(value: float) -> float:
        return round(value, digits)

    return AfterValidator(to_precision)


Wh = Annotated[float, _rounded("Wh")]
Kwh = Annotated[float, _rounded("kWh")]
W = Annotated[float, _rounded("W")]
Kw = Annotated[float, _rounded("kW")]
Kg = Annotated[float, _rounded("kg")]
Km = Annotated[float, _rounded("km")]
M = Annotated[float, _rounded("m")]
Mps = Annotated[float, _rounded("m/s")]
Kmh = Annotated[float, _rounded("km/h")]
S = Annotated[float, _rounded("s")]
Share = Annotated[float, _rounded("share")]
Coordinate = Annotated[float, _rounded("degree")]
