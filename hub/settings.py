"""All configuration in one place: environment variables ``CITYHUB_*``, nested with ``__``.

``CITYHUB_MQTT__HOST=broker`` sets ``Settings().mqtt.host``. Every setting is listed in the
README's settings table. :func:`load_settings` turns a bad value into a :class:`ConfigError`
naming the environment variable, so the hub refuses to start instead of half-working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigError

__all__ = [
    "ApiSettings",
    "IngestSettings",
    "InsightsSettings",
    "MqttSettings",
    "Settings",
    "StoreSettings",
    "load_settings",
]

ENV_PREFIX = "CITYHUB_"
_MEMORY_SIZE = r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"


class MqttSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    protocol: Literal["5", "3.1.1"] = "5"  # 3.1.1 only for brokers without v5 (amqtt)
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
    reconnect_min_s: int = Field(1, ge=1)
    reconnect_max_s: int = Field(30, ge=1)
    receive_maximum: int = Field(10000, ge=1, le=65535)  # unacked QoS 1 messages in flight
    client_process: bool = True  # run the MQTT client in a process of its own (own GIL)


class StoreSettings(BaseModel):
    backend: Literal["duckdb", "influxdb"] = "duckdb"
    duckdb_path: Path | None = None  # default: <data_dir>/cityhub.duckdb
    duckdb_memory_limit: str = Field("256MB", pattern=_MEMORY_SIZE)
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


class IngestSettings(BaseModel):
    batch_max_messages: int = Field(5000, ge=1)
    batch_max_age_ms: int = Field(20, ge=1)
    max_payload_bytes: int = Field(256 * 1024, ge=64)
    timezone: str = "UTC"  # for naive local timestamps (Tasmota, some chargers)
    max_future_s: float = Field(300.0, ge=0)
    registry_file: Path | None = None
    adapters: list[str] | None = None  # None: every installed adapter
    adapter_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    max_series_per_measurement: int = Field(100_000, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    read_keys: list[SecretStr] = Field(default_factory=list)
    admin_keys: list[SecretStr] = Field(default_factory=list)
    open: bool = False  # explicitly serve without keys (never the default outside demo)
    max_buckets: int = Field(10_000, ge=1)
    max_points: int = Field(100_000, ge=1)  # raw points one request may read (tracks, sessions)


class InsightsSettings(BaseModel):
    """The operator answers built on the query primitives (carbon, staleness, history)."""

    grid_intensity_g_per_kwh: float = Field(250.0, ge=0)
    diesel_bus_g_per_km: float = Field(1300.0, ge=0)
    electric_bus_kwh_per_km: float = Field(1.2, ge=0)
    bus_stale_s: float = Field(120.0, gt=0)
    device_stale_s: float = Field(900.0, gt=0)
    status_lookback_s: int = Field(7 * 86400, ge=60)  # how far back "since when" looks
    session_lookback_s: int = Field(2 * 86400, ge=60)  # the longest charging session paired


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

    @model_validator(mode="after")
    def _secure_outside_demo(self) -> Settings:
        if self.mode == "production" and not self.api.open and not self.api.read_keys:
            raise ValueError(
                "no API keys: set CITYHUB_API__READ_KEYS (and CITYHUB_API__ADMIN_KEYS), "
                "or CITYHUB_API__OPEN=true to serve the API without authentication"
            )
        return self

    @property
    def duckdb_path(self) -> Path:
        return self.store.duckdb_path or self.data_dir / "cityhub.duckdb"

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
