"""Prometheus metrics of one hub instance (its own registry, so several can live in a test)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["HubMetrics"]


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "cityhub_messages",
            "MQTT messages processed, by adapter and outcome (stored, ignored, dead, partial: "
            "stored with some of its readings dead-lettered)",
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
        self.dead_letters_dropped = Counter(
            "cityhub_dead_letters_dropped",
            "Dead letters deleted from the log to keep it within its size and age bounds "
            "(CITYHUB_INGEST__DEADLETTER_MAX_BYTES, _MAX_AGE_S), oldest first, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.store_errors = Counter(
            "cityhub_store_errors",
            "Failed attempts to store a batch, retried with backoff, by part: store (the "
            "points), deadletters (the dead-letter log), worker (anything else)",
            ["part"],
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
        self.sessions_lost = Counter(
            "cityhub_mqtt_sessions_lost",
            "Reconnections on which the broker had forgotten the hub's session (it crashed "
            "before saving it): messages published meanwhile were dropped by the broker",
            registry=self.registry,
        )
        self.spool_pending_bytes = Gauge(
            "cityhub_spool_pending_bytes",
            "Bytes spooled (acknowledged to the broker) and not yet forwarded to the store, "
            "this hub's own spool plus an orphan spool it is adopting",
            registry=self.registry,
        )
        self.spool_oldest_age = Gauge(
            "cityhub_spool_oldest_age_seconds",
            "Age of the oldest batch in this hub's spool not yet forwarded (0: none)",
            registry=self.registry,
        )
        self.spools_adopted = Gauge(
            "cityhub_spools_adopted",
            "Orphan spools (of hubs that are gone) this hub drained and removed",
            registry=self.registry,
        )
        self.mqtt_connected = Gauge(
            "cityhub_mqtt_connected", "1 while connected to the broker", registry=self.registry
        )
        self.ocpp_connections = Gauge(
            "cityhub_ocpp_connections",
            "Charge points connected to the OCPP gateway",
            registry=self.registry,
        )
        self.ocpp_frames = Counter(
            "cityhub_ocpp_frames",
            "CALLs answered by the OCPP gateway, by action and outcome (accepted: on the broker "
            "and answered; publish_failed: answered InternalError; error, malformed: CALLERROR)",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.ocpp_reply_seconds = Histogram(
            "cityhub_ocpp_reply_seconds",
            "From a charger's frame to the gateway's reply (including the broker's PUBACK)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
            registry=self.registry,
        )
        self.feed_fetches = Counter(
            "cityhub_feed_fetches",
            "GTFS-Realtime feed fetches, by feed and outcome (published, not_modified, "
            "unchanged, failed)",
            ["feed", "outcome"],
            registry=self.registry,
        )
        self.feed_last_success = Gauge(
            "cityhub_feed_last_success_timestamp_seconds",
            "When a feed was last fetched successfully (Unix time)",
            ["feed"],
            registry=self.registry,
        )
