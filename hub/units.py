"""Unit normalization: the one place where a wire unit becomes a canonical one.

Canonical units (DESIGN.md): power W, energy Wh, reactive energy varh, apparent power VA,
reactive power var, voltage V, current A, frequency Hz, temperature °C (``Cel``), speed m/s,
distance m, state of charge and ratios %, angle degrees, durations s. Adapters never multiply
by 1000 themselves: they call :func:`to_canonical` with the unit the device sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hub.errors import Rejected

__all__ = ["CANONICAL_UNITS", "Conversion", "conversion_of", "to_canonical"]


@dataclass(frozen=True, slots=True)
class Conversion:
    """``canonical = value * scale + offset``."""

    unit: str
    scale: float = 1.0
    offset: float = 0.0

    def apply(self, value: float, sent_in: str, multiplier: int = 0) -> float:
        """``value * 10**multiplier``, sent in the unit ``sent_in``, in :attr:`unit`;
        ``not_finite`` when the result is not a finite number."""
        if multiplier:
            value = value * 10.0**multiplier
        canonical = value * self.scale + self.offset
        if not math.isfinite(canonical):
            raise Rejected("not_finite", f"value {value!r} {sent_in} is not a finite number")
        return canonical


# The conversion table. Keys are the unit strings devices really send (SenML, OCPP 1.6 and
# 2.0.1, Tasmota, Shelly, AVL systems), including OCPP's misspelt "Celcius".
CANONICAL_UNITS: dict[str, Conversion] = {
    "W": Conversion("W"),
    "kW": Conversion("W", 1e3),
    "MW": Conversion("W", 1e6),
    "Wh": Conversion("Wh"),
    "kWh": Conversion("Wh", 1e3),
    "MWh": Conversion("Wh", 1e6),
    "J": Conversion("Wh", 1 / 3600),
    "Wmin": Conversion("Wh", 1 / 60),  # Shelly Gen1 relay energy counters: watt-minutes
    "W·min": Conversion("Wh", 1 / 60),
    "varh": Conversion("varh"),
    "kvarh": Conversion("varh", 1e3),
    "var": Conversion("var"),
    "kvar": Conversion("var", 1e3),
    "VA": Conversion("VA"),
    "kVA": Conversion("VA", 1e3),
    "VAh": Conversion("VAh"),  # OCPP 2.0.1 Energy.Apparent.*
    "kVAh": Conversion("VAh", 1e3),
    "V": Conversion("V"),
    "kV": Conversion("V", 1e3),
    "A": Conversion("A"),
    "mA": Conversion("A", 1e-3),
    "Hz": Conversion("Hz"),
    "Cel": Conversion("Cel"),
    "Celsius": Conversion("Cel"),
    "Celcius": Conversion("Cel"),
    "K": Conversion("Cel", 1.0, -273.15),
    "Fahrenheit": Conversion("Cel", 5 / 9, -32 * 5 / 9),
    "m/s": Conversion("m/s"),
    "km/h": Conversion("m/s", 1 / 3.6),
    "mph": Conversion("m/s", 0.44704),
    "m": Conversion("m"),
    "km": Conversion("m", 1e3),
    "%": Conversion("%"),
    "Percent": Conversion("%"),
    "/": Conversion("%", 100.0),  # SenML ratio
    "ratio": Conversion("%", 100.0),  # a 0..1 share, as mappings name it
    "deg": Conversion("deg"),
    "RPM": Conversion("RPM"),
    "s": Conversion("s"),
    "min": Conversion("s", 60.0),
    "1": Conversion("1"),  # dimensionless ratio (UCUM "1"): OCPP Power.Factor, 0..1
}


def to_canonical(value: float, unit: str, multiplier: int = 0) -> tuple[float, str]:
    """Convert ``value * 10**multiplier`` in ``unit`` to the canonical unit.

    Raises :class:`Rejected` (``unknown_unit``, ``not_finite``) so an adapter never stores a
    number whose unit it does not understand.
    """
    conversion = CANONICAL_UNITS.get(unit)  # not conversion_of: a call less per value
    if conversion is None:
        raise _unknown(unit)
    return conversion.apply(value, unit, multiplier), conversion.unit


def conversion_of(unit: str) -> Conversion:
    """The conversion of ``unit`` (for an adapter that looks it up once and applies it to
    many values); ``unknown_unit`` when the hub does not convert it."""
    conversion = CANONICAL_UNITS.get(unit)
    if conversion is None:
        raise _unknown(unit)
    return conversion


def _unknown(unit: str) -> Rejected:
    return Rejected("unknown_unit", f"unit {unit!r} is not one the hub converts")
