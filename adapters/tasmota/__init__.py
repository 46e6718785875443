"""Tasmota energy monitoring plugs and relays (``tele/<device>/SENSOR``)."""

from adapters.tasmota.adapter import TasmotaAdapter

__all__ = ["TasmotaAdapter"]
