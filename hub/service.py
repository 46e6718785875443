"""The hub assembled from settings: adapters, store, dead letters, pipeline, MQTT source.

Only wiring lives here; every part is testable on its own.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from hub.api.deps import ApiParts
from hub.contracts import Adapter, AdapterEnv, RefusedPoint
from hub.deadletters import DeadLetter, DeadLetterLog
from hub.devices import DeviceRegistry
from hub.ingest.mqtt import MqttSource
from hub.ingest.mqtt_process import MqttProcess
from hub.ingest.pipeline import BatchLimits, Pipeline, SeriesGuard
from hub.ingest.window import InflightWindow
from hub.mapping import load_mappings
from hub.metrics import HubMetrics
from hub.plugins import load_adapters
from hub.readiness import Readiness
from hub.settings import Settings
from hub.stores import open_influxdb, open_store
from hub.stores.adoption import SpoolAdopter
from hub.stores.duckdb import DuckDBStore
from hub.stores.duckdb_retention import RetentionSweeper
from hub.stores.influx_retention import PolicyKeeper
from hub.stores.spool import SpooledStore
from hub.timestamps import Clock, TimePolicy
from hub.topics import TopicRouter

if TYPE_CHECKING:
    from hub.gateways.feeds import FeedPollers
    from hub.gateways.ocpp import OcppGateway

__all__ = ["Hub"]

log = logging.getLogger(__name__)


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
            time=TimePolicy(
                zone=ZoneInfo(ingest.timezone),
                max_future_s=ingest.max_future_s,
                max_age_days=settings.retention.raw_days or None,
            ),
            devices=registry,
        )
        self.adapters: list[Adapter] = load_adapters(ingest.adapters, ingest.adapter_options, env)
        if ingest.mappings_file is not None:
            built_in = {adapter.name for adapter in self.adapters}
            self.adapters += load_mappings(ingest.mappings_file, env, built_in)
        router: TopicRouter[Adapter] = TopicRouter(
            ((a.topics, a) for a in self.adapters), name=lambda adapter: adapter.name
        )
        self.metrics = HubMetrics()
        self.deadletters = DeadLetterLog(
            settings.deadletter_path,
            keep_bytes=ingest.deadletter_payload_bytes,
            max_bytes=ingest.deadletter_max_bytes,
            max_age_s=ingest.deadletter_max_age_s,
            on_dropped=self._dead_letters_dropped,
            on_trim_failed=lambda _: self.metrics.store_errors.labels("deadletters").inc(),
        )
        self.store = open_store(settings, self._dead_letter_refused)
        self.sweeper: RetentionSweeper | None = None
        retention = settings.retention_policy()
        if isinstance(self.store, DuckDBStore) and (retention.raw_days or retention.rollup_days):
            self.sweeper = RetentionSweeper(self.store, retention, Clock())
        self.policies: PolicyKeeper | None = None
        if settings.store.backend == "influxdb" and settings.store.influx_api == "v1":
            self.policies = PolicyKeeper(
                lambda: open_influxdb(settings),
                settings.store.influx_bucket,
                retention,
                settings.store.influx_retention_policy,
            )
            self.policies.try_now()  # logged when InfluxDB is down or refuses (no admin)
        self.adopter: SpoolAdopter | None = None
        if isinstance(self.store, SpooledStore):
            spool = self.store
            self.adopter = SpoolAdopter(
                settings.spool_root,
                settings.spool_name,
                lambda: open_influxdb(settings),
                self._dead_letter_refused,
                interval_s=settings.store.spool_adopt_interval_s,
                max_bytes=settings.store.spool_max_bytes,
                own_status=spool.status,
            )
            self._watch_spool(spool, self.adopter)
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
        self.ocpp_gateway: OcppGateway | None = None
        if settings.ocpp.enabled:
            from hub.gateways.ocpp import OcppGateway

            self.ocpp_gateway = OcppGateway(
                settings.ocpp, settings.mqtt, registry, self.metrics, self._ingest_subscribed
            )
        self.feeds: FeedPollers | None = None
        if settings.feeds:
            from hub.gateways.feeds import FeedPollers

            self.feeds = FeedPollers(
                settings.feeds, settings.mqtt, self.metrics, self._ingest_subscribed
            )
        self.sessions_lost = 0
        self.last_session_lost: dict[str, object] | None = None
        self.mqtt: MqttSource | MqttProcess
        if settings.mqtt.client_process:
            self.mqtt = MqttProcess(
                settings.mqtt,
                router.filters,
                self.pipeline.submit,
                self.metrics,
                window_bytes=ingest.inflight_max_bytes,
                on_session_lost=self._session_lost,
            )
        else:
            self.mqtt = MqttSource(
                settings.mqtt,
                router.filters,
                self.pipeline.submit,
                self.metrics,
                on_session_lost=self._session_lost,
                window=InflightWindow(ingest.inflight_max_bytes, settings.mqtt.receive_maximum),
            )

    def _dead_letters_dropped(self, dropped: Counter[str]) -> None:
        for reason, count in dropped.items():
            self.metrics.dead_letters_dropped.labels(reason).inc(count)

    def _session_lost(self, away_s: float) -> None:
        """The broker had forgotten our session (it crashed before saving it)."""
        self.sessions_lost += 1
        self.last_session_lost = {"at": datetime.now(UTC).isoformat(), "away_s": round(away_s, 1)}
        self.metrics.sessions_lost.inc()

    def _watch_spool(self, spool: SpooledStore, adopter: SpoolAdopter) -> None:
        """Spool gauges computed at each scrape, so they are never stale."""
        self.metrics.spool_pending_bytes.set_function(
            lambda: spool.status().pending_bytes + adopter.pending_bytes()
        )
        self.metrics.spool_oldest_age.set_function(
            lambda: spool.status().oldest_pending_age_s or 0.0
        )
        self.metrics.spools_adopted.set_function(lambda: adopter.adopted)

    def _ingest_subscribed(self) -> bool:
        """Whether ingest holds its subscription (the gateways publish only then)."""
        return bool(self.mqtt.connected)

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
        if self.policies is not None:
            self.policies.start()  # retries while InfluxDB was unreachable at construction
        self.pipeline.start()
        self.mqtt.start()
        if self.sweeper is not None:
            self.sweeper.start()
        if self.adopter is not None:
            self.adopter.start()
        if self.ocpp_gateway is not None:
            self.ocpp_gateway.start()
        if self.feeds is not None:
            self.feeds.start()

    def stop(self) -> None:
        """Graceful: stop taking data in (gateways first), store and acknowledge what was
        received, then disconnect and close."""
        if self.feeds is not None:
            self.feeds.stop()
        if self.ocpp_gateway is not None:
            self.ocpp_gateway.stop()
        self.pipeline.stop()
        self.mqtt.stop()
        if self.adopter is not None:
            self.adopter.stop()
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.policies is not None:
            self.policies.stop()
        self.store.close()
        self.deadletters.close()
        log.info("stopped: received messages stored and acknowledged, broker disconnected")

    def readiness(self) -> Readiness:
        checks: dict[str, dict[str, object]] = {
            "mqtt": {"ok": self.mqtt.connected, "detail": self.mqtt.last_error or "connected"},
        }
        if self.last_session_lost is not None:  # reported, not failing: it subscribed again
            checks["mqtt"]["sessions_lost"] = self.sessions_lost
            checks["mqtt"]["last_session_lost"] = self.last_session_lost
        try:
            self.store.ping()
            checks["store"] = {"ok": True, "backend": self.settings.store.backend}
        except Exception as error:
            checks["store"] = {"ok": False, "detail": str(error)}
        if isinstance(self.store, SpooledStore):
            checks["spool"] = self._spool_check(self.store)
        checks["pipeline"] = self._pipeline_check()
        if self.ocpp_gateway is not None:
            gateway = self.ocpp_gateway
            checks["ocpp"] = {
                "ok": gateway.listening and gateway.publisher.connected,
                "url": gateway.url,
                "connections": gateway.connections,
                "detail": gateway.publisher.last_error or "listening, broker connected",
            }
        if self.feeds is not None:
            # A failing feed is reported, not made a readiness failure: the hub still ingests
            # everything else, and a load balancer must not take it out for an agency outage.
            checks["feeds"] = {"ok": True, "feeds": self.feeds.status()}
        return Readiness.of(checks)

    def api_parts(self) -> ApiParts:
        """What the API reads from, for ``create_app`` in the same process."""
        return ApiParts(
            store=self.store,
            registry=self.devices,
            readiness=self.readiness,
            deadletters=self.deadletters,
            metrics=self.metrics.registry,
            health=self.health,
        )

    def _pipeline_check(self) -> dict[str, object]:
        pipeline = self.pipeline
        check: dict[str, object] = {"ok": True, "pending": pipeline.pending}
        if pipeline.error is not None:
            check.update(ok=False, error=pipeline.error)
        stalled = pipeline.stalled(self.settings.ingest.stall_after_s)
        if stalled is not None:
            check.update(ok=False, stalled_s=round(stalled, 1))
        if not pipeline.alive:
            check.update(ok=False, error=pipeline.error or "the ingest worker is not running")
        return check

    def health(self) -> tuple[bool, dict[str, object]]:
        """Liveness of the ingest: ``False`` when its worker is gone, or when messages wait
        and no batch completed for ``CITYHUB_INGEST__STALL_AFTER_S`` (a store error that does
        not heal, or a worker stuck): a restart or an operator is needed."""
        check = self._pipeline_check()
        healthy = pipeline_ok = bool(check["ok"])
        if not pipeline_ok:  # an error being retried is not yet a dead hub
            healthy = self.pipeline.alive and "stalled_s" not in check
        return healthy, check

    def _spool_check(self, store: SpooledStore) -> dict[str, object]:
        """Unready when the spool is full or its oldest batch older than
        ``CITYHUB_STORE__SPOOL_MAX_AGE_S``: points acknowledged but not reaching the store."""
        spool = dataclasses.asdict(store.status())
        limits = self.settings.store
        age = spool["oldest_pending_age_s"]
        problems = []
        if spool["pending_bytes"] >= limits.spool_max_bytes:
            problems.append(
                f"spool full ({spool['pending_bytes']} of {limits.spool_max_bytes} bytes, "
                "CITYHUB_STORE__SPOOL_MAX_BYTES)"
            )
        if age is not None and age > limits.spool_max_age_s:
            problems.append(
                f"oldest spooled batch {age:.0f} s old, over CITYHUB_STORE__SPOOL_MAX_AGE_S="
                f"{limits.spool_max_age_s:g}"
            )
        check: dict[str, object] = {
            "ok": not problems,
            "name": self.settings.spool_name,
            "max_bytes": limits.spool_max_bytes,
            "max_age_s": limits.spool_max_age_s,
            **spool,
        }
        if problems:
            check["detail"] = "; ".join(problems)
        if self.adopter is not None:
            check["adoption"] = self.adopter.status()
        return check
