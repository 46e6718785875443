"""The OCPP-J WebSocket gateway: a CSMS for telemetry (see :mod:`hub.gateways.ocpp.server`)."""

from hub.gateways.ocpp.server import OcppGateway

__all__ = ["OcppGateway"]
