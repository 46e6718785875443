"""Gateways: the hub meeting devices where they are, ahead of the MQTT durable path.

Each gateway speaks a device's own protocol (OCPP-J over WebSocket, GTFS-Realtime over HTTP)
and publishes what it receives to the broker at QoS 1, so it enters ingest exactly like a
message a device published itself.
"""
