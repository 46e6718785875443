"""What a charge point's meter measures at a connector: register, power, current, voltage,
SoC. Shared by both OCPP encoders."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.charging.model import ChargePoint, ConnectorSpec
from simulators.charging.sessions import Session, register_wh
from simulators.seeding import unit

__all__ = ["ConnectorSample", "sample"]

AC_PHASE_VOLTAGE_V = 230.0
SINGLE_PHASE_MAX_W = 7_400.0  # vehicles drawing more charge on three phases


@dataclass(frozen=True, slots=True)
class ConnectorSample:
    """A connector's meter at ``time_s``. ``phases`` is 1 or 3 on AC (currents per phase),
    0 on DC (one DC current and voltage); ``soc_pct`` only on DC (the vehicle reports it)."""

    time_s: int
    register_wh: float
    power_w: float
    voltage_v: float
    current_a: float
    phases: int
    soc_pct: float | None


def sample(
    cp: ChargePoint, connector: ConnectorSpec, session: Session | None, time_s: int
) -> ConnectorSample:
    """The meter of ``connector`` at ``time_s``, during ``session`` or idle."""
    register = register_wh(cp, connector, time_s)
    power_w = session.power_w(time_s) if session else 0.0
    wobble = unit(cp.seed, cp.cp_id, connector.connector_id, "v", time_s) - 0.5
    if connector.current == "DC":
        soc = session.soc_at(time_s) if session else None
        voltage_v = 360 + 60 * (soc if soc is not None else 0.5) + wobble
        soc_pct = None if soc is None else soc * 100
        return ConnectorSample(
            time_s, register, power_w, voltage_v, power_w / voltage_v, 0, soc_pct
        )
    phases = 3 if session and session.max_power_w > SINGLE_PHASE_MAX_W else 1
    voltage_v = AC_PHASE_VOLTAGE_V + 3 * wobble
    current_a = power_w / (phases * voltage_v)
    return ConnectorSample(time_s, register, power_w, voltage_v, current_a, phases, None)
