"""OCPP-J EV chargers (1.6 and 2.0.1) bridged to MQTT on ``ocpp/cp/<charge_point_id>``."""

from adapters.ocpp.adapter import OcppAdapter

__all__ = ["OcppAdapter"]
