"""Shelly Gen2+ relays with power metering (``<prefix>/status/switch:<id>``)."""

from adapters.shelly.adapter import ShellyAdapter

__all__ = ["ShellyAdapter"]
