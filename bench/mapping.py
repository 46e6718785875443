"""Mapped vs hand-written adapters: the cost per message of ``parse``, side by side.

The same recorded payloads go through a built-in adapter and through a declarative mapping
that yields the same points (checked before timing: a mapping that is fast because it reads
less would prove nothing). A third row runs the same mapping with every expression written so
that it cannot take the key-chain fast path (``a | b`` instead of ``a.b``: same meaning), which
shows what the full JMESPath interpreter costs. ``python -m bench --only mapping``.

In-process and CPU only (no MQTT, no store): this is the part of the hub's work per message
that a mapping replaces. Best of ``rounds`` runs of ``messages`` parses each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.shelly import ShellyAdapter
from adapters.tasmota import TasmotaAdapter
from hub.contracts import Adapter, AdapterEnv
from hub.devices import DeviceRegistry
from hub.mapping import load_mappings
from hub.timestamps import FixedClock, TimePolicy

__all__ = ["CASES", "build_pairs", "run_mapping"]

NOW_NS = 1_722_480_000 * 1_000_000_000
REGISTRY = {"shellyplus1pm-a8032ab12345": {"building": "b-1"}, "pow-7": {"building": "b-1"}}

SHELLY_TOPIC = "shellyplus1pm-a8032ab12345/status/switch:0"
SHELLY_PAYLOAD = (
    b'{"id":0,"source":"timer","output":true,"apower":1834.2,"voltage":229.8,"freq":50.0,'
    b'"current":8.012,"pf":0.99,"aenergy":{"total":86712.345,"by_minute":[30241.101,'
    b'30567.921,30502.216],"minute_ts":1722472740},"ret_aenergy":{"total":0.000,"by_minute":'
    b'[0.000,0.000,0.000],"minute_ts":1722472740},"temperature":{"tC":48.3,"tF":118.9}}'
)
SHELLY_MAPPING = """
mappings:
  - name: shelly_switch_mapped
    topic: "{device}/status/switch:0"
    measurement: building_energy
    device: "{device}"
    tags: {channel: "0"}
    time: {path: aenergy.minute_ts, format: epoch_s}
    fields:
      power_w: {path: apower, unit: W}
      voltage_v: {path: voltage, unit: V}
      current_a: {path: current, unit: A}
      frequency_hz: {path: freq, unit: Hz}
      power_factor_pct: {path: pf, unit: ratio}
      energy_import_wh: {path: aenergy.total, unit: Wh}
      energy_export_wh: {path: ret_aenergy.total, unit: Wh}
      temperature_c: {path: temperature.tC, unit: Cel}
"""
TASMOTA_TOPIC = "tele/pow-7/SENSOR"
TASMOTA_PAYLOAD = (
    b'{"Time":"2024-07-15T14:30:00","ENERGY":{"TotalStartTime":"2023-11-02T09:12:44",'
    b'"Total":123.456,"Yesterday":2.345,"Today":1.250,"Period":8,"Power":512,'
    b'"ApparentPower":540,"ReactivePower":172,"Factor":0.95,"Voltage":231,"Current":2.338}}'
)
TASMOTA_MAPPING = """
mappings:
  - name: tasmota_mapped
    topic: "tele/{device}/SENSOR"
    measurement: building_energy
    device: "{device}"
    time: {path: Time, format: local}
    fields:
      energy_import_wh: {path: ENERGY.Total, unit: kWh}
      energy_today_wh: {path: ENERGY.Today, unit: kWh}
      power_w: {path: ENERGY.Power, unit: W}
      apparent_power_va: {path: ENERGY.ApparentPower, unit: VA}
      reactive_power_var: {path: ENERGY.ReactivePower, unit: var}
      power_factor_pct: {path: ENERGY.Factor, unit: ratio}
      voltage_v: {path: ENERGY.Voltage, unit: V}
      current_a: {path: ENERGY.Current, unit: A}
"""
# (label, topic, payload, hand-written adapter class, mapping YAML)
CASES: list[tuple[str, str, bytes, Any, str]] = [
    ("Shelly Gen2 switch status", SHELLY_TOPIC, SHELLY_PAYLOAD, ShellyAdapter, SHELLY_MAPPING),
    ("Tasmota SENSOR (POW R2)", TASMOTA_TOPIC, TASMOTA_PAYLOAD, TasmotaAdapter, TASMOTA_MAPPING),
]


def _interpreted(mapping: str) -> str:
    """The same mapping with each ``a.b`` path as ``a | b``: same value, no fast path."""
    lines = []
    for line in mapping.splitlines():
        if "{path: " in line and "." in line.split("{path: ", 1)[1].split(",", 1)[0]:
            head, rest = line.split("{path: ", 1)
            path, tail = rest.split(",", 1) if "," in rest else rest.split("}", 1)
            separator = "," if "," in rest else "}"
            line = f"{head}{{path: '{path.replace('.', ' | ')}'{separator}{tail}"
        lines.append(line)
    return "\n".join(lines).replace("_mapped", "_interpreted")


def build_pairs(workdir: Path) -> list[tuple[str, str, bytes, list[tuple[str, Adapter]]]]:
    """Per case: the hand-written adapter, the mapping and the interpreted mapping, each
    checked to give the hand-written adapter's points for the payload."""
    env = AdapterEnv(time=TimePolicy(clock=FixedClock(NOW_NS)), devices=DeviceRegistry(REGISTRY))
    workdir.mkdir(parents=True, exist_ok=True)
    pairs = []
    for index, (label, topic, payload, adapter_class, mapping) in enumerate(CASES):
        contenders: list[tuple[str, Adapter]] = [("hand-written", adapter_class({}, env))]
        for kind, text in (("mapped", mapping), ("mapped, full JMESPath", _interpreted(mapping))):
            path = workdir / f"mapping-{index}-{len(contenders)}.yaml"
            path.write_text(text)
            (adapter,) = load_mappings(path, env)
            contenders.append((kind, adapter))
        expected = contenders[0][1].parse(topic, payload)
        for kind, adapter in contenders[1:]:
            got = adapter.parse(topic, payload)
            if got != expected:
                raise AssertionError(f"{label}: {kind} gives {got}, not {expected}")
        pairs.append((label, topic, payload, contenders))
    return pairs


def _seconds(parse: Callable[[str, bytes], object], topic: str, payload: bytes,
             messages: int) -> float:  # fmt: skip
    started = time.perf_counter()
    for _ in range(messages):
        parse(topic, payload)
    return time.perf_counter() - started


def run_mapping(workdir: Path, messages: int = 20_000, rounds: int = 5) -> list[dict[str, Any]]:
    """One row per case and contender: µs per message (best round) and the ratio to the
    hand-written adapter. Rounds interleave the contenders, so a change of machine load
    during the run touches them alike."""
    rows = []
    for label, topic, payload, contenders in build_pairs(workdir):
        best = [float("inf")] * len(contenders)
        for _ in range(rounds):
            for index, (_, adapter) in enumerate(contenders):
                best[index] = min(best[index], _seconds(adapter.parse, topic, payload, messages))
        for (kind, adapter), seconds in zip(contenders, best, strict=True):
            rows.append(
                {
                    "case": label,
                    "adapter": f"{kind} ({adapter.name})",
                    "us_per_message": round(seconds / messages * 1e6, 2),
                    "ratio_to_hand_written": round(seconds / best[0], 2),
                    "messages": messages,
                    "rounds": rounds,
                }
            )
    return rows
