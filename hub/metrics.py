"""Prometheus metrics of one hub instance (its own registry, so several can live in a test)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["HubMetrics"]


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "cityhub_messages",
            "MQTT messages processed, by adapter and outcome (stored, ignored, dead)",
            ["adapter", "outcome"],
            registry=self.registry,
        )
        self.points = Counter(
            "cityhub_points_written",
            "Points written to the store, by measurement",
            ["measurement"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "cityhub_dead_letters", "Dead letters, by reason", ["reason"], registry=self.registry
        )
        self.store_errors = Counter(
            "cityhub_store_errors",
            "Batch writes that failed and were retried",
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "cityhub_batch_seconds",
            "Time to parse, store and acknowledge one batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.ingest_lag = Histogram(
            "cityhub_ingest_lag_seconds",
            "From receipt of a batch's first message to its acknowledgement (durable)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "cityhub_queue_depth", "Messages received and not yet processed", registry=self.registry
        )
        self.mqtt_connected = Gauge(
            "cityhub_mqtt_connected", "1 while connected to the broker", registry=self.registry
        )
