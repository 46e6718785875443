"""The hub assembled from settings: adapters, store, dead letters, pipeline, MQTT source.

Only wiring lives here; every part is testable on its own.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.contracts import Adapter, AdapterEnv, RefusedPoint
from hub.deadletters import DeadLetter, DeadLetterLog
from hub.devices import DeviceRegistry
from hub.ingest.mqtt import MqttSource
from hub.ingest.mqtt_process import MqttProcess
from hub.ingest.pipeline import BatchLimits, Pipeline, SeriesGuard
from hub.metrics import HubMetrics
from hub.plugins import load_adapters
from hub.settings import Settings
from hub.stores import open_store
from hub.timestamps import TimePolicy
from hub.topics import TopicRouter

__all__ = ["Hub", "Readiness"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, dict[str, object]]


class Hub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        ingest = settings.ingest
        registry = (
            DeviceRegistry.from_file(ingest.registry_file)
            if ingest.registry_file
            else DeviceRegistry()
        )
        self.devices = registry
        env = AdapterEnv(
            time=TimePolicy(zone=ZoneInfo(ingest.timezone), max_future_s=ingest.max_future_s),
            devices=registry,
        )
        self.adapters: list[Adapter] = load_adapters(ingest.adapters, ingest.adapter_options, env)
        router: TopicRouter[Adapter] = TopicRouter((a.topics, a) for a in self.adapters)
        self.metrics = HubMetrics()
        self.deadletters = DeadLetterLog(settings.deadletter_path)
        self.store = open_store(settings, self._dead_letter_refused)
        self.pipeline = Pipeline(
            router,
            self.store,
            self.deadletters,
            self._acknowledge,
            limits=BatchLimits(
                max_messages=ingest.batch_max_messages,
                max_age_s=ingest.batch_max_age_ms / 1000,
                max_payload_bytes=ingest.max_payload_bytes,
            ),
            guard=SeriesGuard(ingest.max_series_per_measurement),
            metrics=self.metrics,
        )
        source = MqttProcess if settings.mqtt.client_process else MqttSource
        self.mqtt: MqttSource | MqttProcess = source(
            settings.mqtt, router.filters, self.pipeline.submit, self.metrics
        )

    def _acknowledge(self, messages: Sequence) -> None:
        self.mqtt.acknowledge(messages)

    def _dead_letter_refused(self, refused: Sequence[RefusedPoint]) -> None:
        """Points a remote store refused after their batch was spooled and acknowledged."""
        self.deadletters.append(
            [
                DeadLetter(
                    topic="",
                    payload=json.dumps(r.point.as_dict()).encode(),
                    adapter="",
                    reason="store_refused",
                    detail=r.reason,
                    received_ns=r.point.time_ns,
                )
                for r in refused
            ]
        )

    def start(self) -> None:
        self.pipeline.start()
        self.mqtt.start()

    def stop(self) -> None:
        """Graceful: store and acknowledge what was received, then disconnect and close."""
        self.pipeline.stop()
        self.mqtt.stop()
        self.store.close()
        self.deadletters.close()
        log.info("stopped: received messages stored and acknowledged, broker disconnected")

    def readiness(self) -> Readiness:
        checks: dict[str, dict[str, object]] = {
            "mqtt": {"ok": self.mqtt.connected, "detail": self.mqtt.last_error or "connected"},
        }
        try:
            self.store.ping()
            checks["store"] = {"ok": True, "backend": self.settings.store.backend}
        except Exception as error:
            checks["store"] = {"ok": False, "detail": str(error)}
        status = getattr(self.store, "status", None)  # a spooled remote store reports depth
        if callable(status):
            spool = dataclasses.asdict(status())
            spool_max = self.settings.store.spool_max_bytes
            checks["spool"] = {"ok": spool["pending_bytes"] < spool_max, "max_bytes": spool_max}
            checks["spool"].update(spool)
        checks["pipeline"] = {"ok": True, "pending": self.pipeline.pending}
        return Readiness(all(bool(c["ok"]) for c in checks.values()), checks)
