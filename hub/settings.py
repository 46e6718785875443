"""All configuration in one place: environment variables ``CITYHUB_*``, nested with ``__``.

``CITYHUB_MQTT__HOST=broker`` sets ``Settings().mqtt.host``. Every setting is listed in the
README's settings table. :func:`load_settings` turns a bad value into a :class:`ConfigError`
naming the environment variable, so the hub refuses to start instead of half-working.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigError
from hub.retention import Retention

if TYPE_CHECKING:
    from hub.rollups.plan import RollupPlan

__all__ = [
    "ApiSettings",
    "FeedSettings",
    "IngestSettings",
    "InsightsSettings",
    "MqttSettings",
    "OcppSettings",
    "RetentionSettings",
    "RollupSettings",
    "Settings",
    "StoreSettings",
    "UiSettings",
    "load_settings",
]

ENV_PREFIX = "CITYHUB_"
_MEMORY_SIZE = r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    protocol: Literal["5", "3.1.1"] = "5"  # 3.1.1 for brokers without v5 (NATS, amqtt)
    client_id: str = Field("cityhub", pattern=r"^[A-Za-z0-9._-]{1,64}$")
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    shared_group: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    session_expiry_s: int = Field(7 * 86400, ge=60)  # how long the broker keeps our backlog
    keepalive_s: int = Field(30, ge=5)
    # Reconnect backoff: doubling from min to max, each wait drawn with +-25 % jitter. Low, so
    # the hub is back within seconds of the broker (a crashed broker forgets sessions).
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(2.0, gt=0)
    receive_maximum: int = Field(10000, ge=1, le=65535)  # unacked QoS 1 messages in flight
    client_process: bool = True  # run the MQTT client in a process of its own (own GIL)
    # Mosquitto's pid file (its `pid_file` option), when the broker runs on this host and the
    # hub may signal it: on a new session the hub asks it to save at once (SIGUSR1) rather
    # than leave the session unsaved until its next autosave (a crash meanwhile forgets it).
    broker_pid_file: Path | None = None


class StoreSettings(BaseModel):
    backend: Literal["duckdb", "influxdb"] = "duckdb"
    duckdb_path: Path | None = None  # default: <data_dir>/cityhub.duckdb
    duckdb_memory_limit: str = Field("256MB", pattern=_MEMORY_SIZE)
    # WAL size that triggers a checkpoint into the database file (DuckDB's default).
    duckdb_checkpoint_threshold: str = Field("16MB", pattern=_MEMORY_SIZE)
    # DuckDB's worker threads; 0: DuckDB's own default, one per core. With 1, each query runs
    # on its caller's thread only: the rollup flush no longer takes a core the ingest needs.
    duckdb_threads: int = Field(0, ge=0)
    influx_url: str = "http://127.0.0.1:8086"
    influx_api: Literal["v2", "v1"] = "v2"
    influx_token: SecretStr | None = None
    influx_org: str = "cityhub"
    influx_bucket: str = "cityhub"  # v1: the database; InfluxQL queries use it as database
    influx_retention_policy: str | None = None
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    influx_timeout_s: float = Field(10.0, gt=0)
    spool_max_bytes: int = Field(1 << 30, ge=1 << 20)
    # <data_dir>/spool/<spool_name>, locked while the hub lives; default: the host name (a
    # container's id under compose). Two live hubs cannot share one.
    spool_name: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    spool_max_age_s: float = Field(900.0, gt=0)  # oldest unforwarded batch: older is unready
    spool_adopt_interval_s: float = Field(10.0, gt=0)  # how often orphan spools are looked for


class IngestSettings(BaseModel):
    batch_max_messages: int = Field(5000, ge=1)
    batch_max_age_ms: int = Field(20, ge=1)
    max_payload_bytes: int = Field(256 * 1024, ge=64)
    timezone: str = "UTC"  # for naive local timestamps (Tasmota, some chargers)
    max_future_s: float = Field(300.0, ge=0)
    registry_file: Path | None = None
    mappings_file: Path | None = None  # YAML declarative mappings (hub.mapping), one adapter each
    adapters: list[str] | None = None  # None: every installed adapter
    adapter_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    max_series_per_measurement: int = Field(100_000, ge=1)
    # The window between the MQTT client and the pipeline: received, not yet stored and
    # acknowledged. Bounded in bytes as well (a broker may ignore the Receive Maximum).
    inflight_max_bytes: int = Field(64 << 20, ge=1 << 20)
    # /health answers 503 when messages wait and no batch completed for this long.
    stall_after_s: float = Field(30.0, gt=0)
    # Dead letters keep the first bytes of a payload (plus its size and SHA-256), and the log
    # is bounded in total size and age; the oldest go first, counted per reason.
    deadletter_payload_bytes: int = Field(4096, ge=0)
    deadletter_max_bytes: int = Field(256 << 20, ge=1 << 20)
    deadletter_max_age_s: int = Field(30 * 86400, ge=60)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


class RetentionSettings(BaseModel):
    """How long points are kept, in whole days; 0 keeps them forever. Raw points are every
    measurement but the rollups (:meth:`hub.retention.Retention.is_rollup`). DuckDB deletes
    older points in the background; InfluxDB is given a retention policy (1.x) per tier."""

    raw_days: int = Field(90, ge=0)
    rollup_days: int = Field(0, ge=0)  # 0: forever

    def policy(self, rollups: frozenset[str] = frozenset()) -> Retention:
        """The policy, with ``rollups`` (the plan's measurement names) kept as rollups: use
        :meth:`Settings.retention_policy`, which knows them."""
        return Retention(self.raw_days, self.rollup_days, rollups)

    @model_validator(mode="after")
    def _rollups_outlive_raw(self) -> RetentionSettings:
        # A rollup is what answers once its raw points are gone: kept shorter, it never does.
        # And a day longer: a daily row starts up to a day before the raw points it holds, and
        # InfluxDB refuses a row older than its policy (the raw points' rollups would be lost).
        if self.rollup_days and (self.raw_days == 0 or self.rollup_days <= self.raw_days):
            raise ValueError(
                f"CITYHUB_RETENTION__ROLLUP_DAYS={self.rollup_days} is not longer than "
                f"CITYHUB_RETENTION__RAW_DAYS={self.raw_days or 'forever (0)'}: keep rollups "
                "at least a day longer than raw points (0 keeps them forever)"
            )
        return self


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    read_keys: list[SecretStr] = Field(default_factory=list)
    admin_keys: list[SecretStr] = Field(default_factory=list)
    open: bool = False  # explicitly serve without keys (never the default outside demo)
    max_buckets: int = Field(10_000, ge=1)
    max_points: int = Field(100_000, ge=1)  # raw points one request may read (tracks, sessions)

    @field_validator("read_keys", "admin_keys")
    @classmethod
    def _no_blank_key(cls, keys: list[SecretStr]) -> list[SecretStr]:
        # '[""]' would otherwise count as "keys are configured" while no request can use one.
        if any(not k.get_secret_value().strip() for k in keys):
            raise ValueError("an API key is empty or blank; every key must be a non-empty string")
        return keys


class InsightsSettings(BaseModel):
    """The operator answers built on the query primitives (carbon, staleness, history)."""

    grid_intensity_g_per_kwh: float = Field(250.0, ge=0)
    diesel_bus_g_per_km: float = Field(1300.0, ge=0)
    electric_bus_kwh_per_km: float = Field(1.2, ge=0)
    bus_stale_s: float = Field(120.0, gt=0)
    device_stale_s: float = Field(900.0, gt=0)
    status_lookback_s: int = Field(7 * 86400, ge=60)  # how far back "since when" looks
    session_lookback_s: int = Field(2 * 86400, ge=60)  # the longest charging session paired


class UiSettings(BaseModel):
    """The operator dashboard at ``/``. Without ``tile_url`` its map draws only the city's own
    data (bus positions and tracks) on a blank background, so it works offline."""

    enabled: bool = True
    tile_url: str | None = Field(None, pattern=r"^https?://\S*\{z\}\S*$")  # .../{z}/{x}/{y}.png
    tile_attribution: str = ""  # shown on the map, as the tile provider's terms ask


class OcppSettings(BaseModel):
    """The OCPP-J WebSocket gateway: charge points connect to ws://host:port/ocpp/<id>."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(9000, ge=0, le=65535)
    # Security profile 1/2: HTTP Basic auth. ``password_hashes`` maps a charge point id to a
    # hash made by ``cityhub ocpp-password`` (scrypt); ``passwords`` (plain, hashed at start)
    # is for tests and the demo. A charge point in neither connects without a password.
    passwords: dict[str, SecretStr] = Field(default_factory=dict)
    password_hashes: dict[str, str] = Field(default_factory=dict)
    require_password: bool = False  # refuse a charge point that has no password configured
    authorize_all: bool = True  # Authorize: accept every idTag, else only id_tags
    id_tags: list[str] = Field(default_factory=list)
    max_frame_bytes: int = Field(64 * 1024, ge=1024)
    heartbeat_interval_s: int = Field(300, ge=10)
    publish_timeout_s: float = Field(5.0, gt=0)  # wait for the broker's PUBACK, then CALLERROR
    tls_cert_file: Path | None = None  # wss:// when set (security profile 2)
    tls_key_file: Path | None = None

    @model_validator(mode="after")
    def _tls_pair(self) -> OcppSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("set both tls_cert_file and tls_key_file, or neither")
        return self


class RollupSettings(BaseModel):
    """Rollups the hub maintains as data lands (see :mod:`hub.rollups`): per measurement, the
    intervals (each a multiple of the finer ones, dividing one day). Aggregates whose windows
    are whole intervals read them; everything else reads raw points."""

    enabled: bool = True
    # DuckDB: how often the intervals written since are rolled up while data flows, beside the
    # ingest (a query reading rollups rolls them up first, so this trades CPU, not freshness),
    # at most: a costly flush spaces out the next ones, to a tenth of the time (FLUSH_DUTY in
    # hub/stores/duckdb.py); 0 rolls up after every batch, inside the write.
    flush_s: float = Field(5.0, ge=0)
    intervals: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "building_energy": ["15m", "1h", "1d"],
            "bus_position": ["1h", "1d"],  # mean speed, odometer and path per hour
        }
    )
    # Per connector, seconds in each status (hub.rollups.status): charger_status_1h, _1d.
    status_intervals: list[str] = Field(default_factory=lambda: ["1h", "1d"])

    @field_validator("intervals")
    @classmethod
    def _valid_plan(cls, intervals: dict[str, list[str]]) -> dict[str, list[str]]:
        from hub.rollups.plan import RollupPlan

        RollupPlan.from_labels(intervals)  # ValueError names the measurement and interval
        return intervals

    @field_validator("status_intervals")
    @classmethod
    def _valid_status_plan(cls, intervals: list[str]) -> list[str]:
        from hub.rollups.plan import RollupPlan

        RollupPlan.from_labels({}, intervals)  # ValueError names the interval
        return intervals

    def plan(self) -> RollupPlan:
        from hub.rollups.plan import RollupPlan

        if not self.enabled:
            return RollupPlan({})
        return RollupPlan.from_labels(self.intervals, self.status_intervals)


class FeedSettings(BaseModel):
    """One GTFS-Realtime VehiclePositions feed the hub polls."""

    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,64}$")
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, SecretStr] = Field(default_factory=dict)  # API keys
    interval_s: float = Field(15.0, ge=1)
    timeout_s: float = Field(10.0, gt=0)
    max_backoff_s: float = Field(300.0, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", env_ignore_empty=True
    )

    mode: Literal["production", "demo", "test"] = "production"
    data_dir: Path = Path("data")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    mqtt: MqttSettings = MqttSettings()
    store: StoreSettings = StoreSettings()
    ingest: IngestSettings = IngestSettings()
    api: ApiSettings = ApiSettings()
    insights: InsightsSettings = InsightsSettings()
    ui: UiSettings = UiSettings()
    ocpp: OcppSettings = OcppSettings()
    rollups: RollupSettings = RollupSettings()
    feeds: list[FeedSettings] = Field(default_factory=list)
    retention: RetentionSettings = RetentionSettings()

    def retention_policy(self) -> Retention:
        """How long each measurement is kept: the rollups the plan names as rollups."""
        return self.retention.policy(self.rollups.plan().names)

    @field_validator("feeds")
    @classmethod
    def _unique_feed_names(cls, feeds: list[FeedSettings]) -> list[FeedSettings]:
        names = [feed.name for feed in feeds]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise ValueError(f"feed name {duplicate!r} is used twice")
        return feeds

    @model_validator(mode="after")
    def _secure_outside_demo(self) -> Settings:
        if self.mode == "production" and not self.api.open and not self.api.read_keys:
            raise ValueError(
                "no API keys: set CITYHUB_API__READ_KEYS (and CITYHUB_API__ADMIN_KEYS), "
                "or CITYHUB_API__OPEN=true to serve the API without authentication"
            )
        return self

    @model_validator(mode="after")
    def _raw_outlives_lookbacks(self) -> Settings:
        # The insights read raw points back this far (the week-on-week comparison of a day,
        # the charger status and session lookbacks): a shorter retention would turn the
        # operator pages into errors, not only the old questions.
        days = self.retention.raw_days
        needed_s = max(8 * 86400, self.insights.status_lookback_s, self.insights.session_lookback_s)
        if days and days * 86400 < needed_s:
            raise ValueError(
                f"CITYHUB_RETENTION__RAW_DAYS={days} is shorter than what the insights read "
                f"back ({-(-needed_s // 86400)} days: the week-on-week comparison, "
                "CITYHUB_INSIGHTS__STATUS_LOOKBACK_S, CITYHUB_INSIGHTS__SESSION_LOOKBACK_S); "
                "use 0 (keep forever) or more days"
            )
        return self

    @property
    def duckdb_path(self) -> Path:
        return self.store.duckdb_path or self.data_dir / "cityhub.duckdb"

    @property
    def spool_root(self) -> Path:
        """The folder of every hub's spool folder (shared by hubs sharing ``data_dir``)."""
        return self.data_dir / "spool"

    @property
    def spool_name(self) -> str:
        if self.store.spool_name:
            return self.store.spool_name
        name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:64].strip(".-")
        return name or "hub"

    @property
    def deadletter_path(self) -> Path:
        return self.data_dir / "deadletters.sqlite"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and ``overrides``), or a ``ConfigError`` naming the
    offending ``CITYHUB_`` variable."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        location = "__".join(str(part) for part in first["loc"]).upper()
        setting = ENV_PREFIX + location if location else "settings"
        raise ConfigError(setting, first["msg"]) from None
