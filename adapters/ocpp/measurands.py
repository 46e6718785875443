"""OCPP sampled values → canonical ``charger_meter`` fields: the mapping tables.

A field name is ``<measurand field><phase suffix><location suffix>``: ``current_a_l1``,
``voltage_v_l1_n``, ``energy_import_wh_inlet``. Outlet is what the connector delivers (and
the OCPP default), EV is where SoC is measured and Body where the station's temperature is, so
those three add no suffix; Inlet (grid side) and Cable readings of the same measurand would
otherwise collide with the outlet's, so they carry one.

A sampled value without a unit is read in its measurand's own unit. For the default measurand
(``Energy.Active.Import.Register``) that is the standard's default ``Wh``; for measurands that
have no unit in OCPP 1.6 (Frequency, Power.Factor, RPM) or whose unit a charger leaves out,
``Wh`` would be meaningless (OCPP 2.0.1 says so: "Wh if the measurand is an Energy type").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from hub.errors import Rejected
from hub.units import Conversion, conversion_of

__all__ = ["LOCATION_SUFFIX", "MEASURANDS", "PHASE_SUFFIX", "Measurand", "canonical_sample"]


@dataclass(frozen=True, slots=True)
class Measurand:
    field: str  # canonical field name, with its unit
    unit: str  # the canonical unit (hub.units) the wire unit must convert to


MEASURANDS: dict[str, Measurand] = {
    "Energy.Active.Import.Register": Measurand("energy_import_wh", "Wh"),
    "Energy.Active.Export.Register": Measurand("energy_export_wh", "Wh"),
    "Energy.Reactive.Import.Register": Measurand("reactive_energy_import_varh", "varh"),
    "Energy.Reactive.Export.Register": Measurand("reactive_energy_export_varh", "varh"),
    "Energy.Active.Import.Interval": Measurand("energy_import_interval_wh", "Wh"),
    "Energy.Active.Export.Interval": Measurand("energy_export_interval_wh", "Wh"),
    "Energy.Reactive.Import.Interval": Measurand("reactive_energy_import_interval_varh", "varh"),
    "Energy.Reactive.Export.Interval": Measurand("reactive_energy_export_interval_varh", "varh"),
    "Energy.Active.Net": Measurand("energy_net_wh", "Wh"),  # 2.0.1
    "Energy.Reactive.Net": Measurand("reactive_energy_net_varh", "varh"),  # 2.0.1
    "Energy.Apparent.Net": Measurand("apparent_energy_net_vah", "VAh"),  # 2.0.1
    "Energy.Apparent.Import": Measurand("apparent_energy_import_vah", "VAh"),  # 2.0.1
    "Energy.Apparent.Export": Measurand("apparent_energy_export_vah", "VAh"),  # 2.0.1
    "Power.Active.Import": Measurand("power_w", "W"),
    "Power.Active.Export": Measurand("power_export_w", "W"),
    "Power.Offered": Measurand("power_offered_w", "W"),
    "Power.Reactive.Import": Measurand("reactive_power_import_var", "var"),
    "Power.Reactive.Export": Measurand("reactive_power_export_var", "var"),
    "Power.Factor": Measurand("power_factor", "1"),
    "Current.Import": Measurand("current_a", "A"),
    "Current.Export": Measurand("current_export_a", "A"),
    "Current.Offered": Measurand("current_offered_a", "A"),
    "Voltage": Measurand("voltage_v", "V"),
    "Frequency": Measurand("frequency_hz", "Hz"),
    "Temperature": Measurand("temperature_c", "Cel"),  # 1.6
    "SoC": Measurand("soc_pct", "%"),
    "RPM": Measurand("fan_speed_rpm", "RPM"),  # 1.6: fan speed
}

PHASE_SUFFIX: dict[str | None, str] = {
    None: "",  # no phase: the overall value
    "L1": "_l1",
    "L2": "_l2",
    "L3": "_l3",
    "N": "_n",
    "L1-N": "_l1_n",
    "L2-N": "_l2_n",
    "L3-N": "_l3_n",
    "L1-L2": "_l1_l2",
    "L2-L3": "_l2_l3",
    "L3-L1": "_l3_l1",
}

LOCATION_SUFFIX: dict[str, str] = {
    "Outlet": "",
    "EV": "",
    "Body": "",
    "Inlet": "_inlet",
    "Cable": "_cable",
}


def canonical_sample(
    measurand_name: str,
    phase: str | None,
    location: str,
    value: float,
    unit: str | None,
    multiplier: int = 0,
) -> tuple[str, float]:
    """The canonical field name and value of one sampled value (``unknown_unit``;
    ``not_finite``; ``unit_mismatch`` when the wire unit is not one of the measurand's
    quantity, e.g. a power in ``Wh``)."""
    field, conversion, sent_in, mismatch = _sample_rule(measurand_name, phase, location, unit)
    converted = conversion.apply(value, sent_in, multiplier)
    if mismatch is not None:  # after the value's own check, so that reasons keep their order
        raise Rejected("unit_mismatch", mismatch)
    return field, converted


@functools.lru_cache(maxsize=1024)
def _sample_rule(
    measurand_name: str, phase: str | None, location: str, unit: str | None
) -> tuple[str, Conversion, str, str | None]:
    """What reading a sampled value of this kind takes, worked out once per combination (a
    charger sends the same few kinds in every message): its field name, the conversion of its
    unit, that unit, and why the unit does not fit the measurand (None: it fits). The models
    bound measurand, phase and location to their enumerations and a unit to 20 characters;
    the cache is bounded all the same, as 2.0.1 units are free text."""
    measurand = MEASURANDS[measurand_name]
    sent_in = unit or measurand.unit
    conversion = conversion_of(sent_in)
    mismatch = None
    if conversion.unit != measurand.unit:
        mismatch = f"{measurand_name} in {unit!r} is not a {measurand.unit} quantity"
    field = measurand.field + PHASE_SUFFIX[phase] + LOCATION_SUFFIX[location]
    return field, conversion, sent_in, mismatch
