"""Configuration: every setting documented, and a bad one stops start-up by name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from pydantic import BaseModel

from hub.errors import ConfigError
from hub.points import Point
from hub.query import AggregateQuery
from hub.settings import Settings, load_settings
from hub.stores import open_store

README = Path(__file__).resolve().parents[1] / "README.md"


def env_names(model: type[BaseModel], prefix: str = "CITYHUB_") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names += env_names(field.annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(prefix + name.upper())
    return names


def test_every_setting_is_in_the_readme_table() -> None:
    readme = README.read_text()
    missing = [name for name in env_names(Settings) if f"| `{name}` |" not in readme]
    assert missing == []


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CITYHUB_MQTT__PORT": "70000"}, "CITYHUB_MQTT__PORT"),
        ({"CITYHUB_INGEST__TIMEZONE": "Mars/Olympus"}, "CITYHUB_INGEST__TIMEZONE"),
        ({"CITYHUB_STORE__BACKEND": "sqlite"}, "CITYHUB_STORE__BACKEND"),
        (
            {"CITYHUB_ROLLUPS__INTERVALS": '{"building_energy": ["7m"]}'},
            "CITYHUB_ROLLUPS__INTERVALS",
        ),
        ({"CITYHUB_ROLLUPS__INTERVALS": '{"m": ["15m", "40m"]}'}, "CITYHUB_ROLLUPS__INTERVALS"),
        ({"CITYHUB_INGEST__BATCH_MAX_AGE_MS": "soon"}, "CITYHUB_INGEST__BATCH_MAX_AGE_MS"),
        ({"CITYHUB_STORE__DUCKDB_MEMORY_LIMIT": "lots"}, "CITYHUB_STORE__DUCKDB_MEMORY_LIMIT"),
        ({"CITYHUB_STORE__DUCKDB_THREADS": "-1"}, "CITYHUB_STORE__DUCKDB_THREADS"),
        ({"CITYHUB_OCPP__PORT": "-1"}, "CITYHUB_OCPP__PORT"),
        ({"CITYHUB_OCPP__TLS_CERT_FILE": "/etc/cert.pem"}, "CITYHUB_OCPP"),
        ({"CITYHUB_FEEDS": '[{"name": "metro", "url": "ftp://x"}]'}, "CITYHUB_FEEDS__0__URL"),
        (
            {
                "CITYHUB_FEEDS": '[{"name": "a", "url": "http://x"}, {"name": "a", "url": '
                '"http://y"}]'
            },
            "CITYHUB_FEEDS",
        ),
        ({"CITYHUB_RETENTION__RAW_DAYS": "-1"}, "CITYHUB_RETENTION__RAW_DAYS"),
        ({"CITYHUB_RETENTION__RAW_DAYS": "ninety"}, "CITYHUB_RETENTION__RAW_DAYS"),
        ({"CITYHUB_RETENTION__RAW_DAYS": "1.5"}, "CITYHUB_RETENTION__RAW_DAYS"),
        ({"CITYHUB_RETENTION__ROLLUP_DAYS": "-3"}, "CITYHUB_RETENTION__ROLLUP_DAYS"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    monkeypatch.setenv("CITYHUB_API__OPEN", "true")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.setting == named


def test_retention_defaults_and_the_tiers_kept_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYHUB_API__OPEN", "true")
    retention = load_settings().retention
    assert (retention.raw_days, retention.rollup_days) == (90, 0)  # 0: rollups kept forever
    monkeypatch.setenv("CITYHUB_RETENTION__RAW_DAYS", "0")  # raw points kept forever too
    assert load_settings().retention.raw_days == 0
    monkeypatch.setenv("CITYHUB_RETENTION__RAW_DAYS", "90")
    monkeypatch.setenv("CITYHUB_RETENTION__ROLLUP_DAYS", "30")
    with pytest.raises(ConfigError, match="CITYHUB_RETENTION__ROLLUP_DAYS=30 is not longer"):
        load_settings()
    monkeypatch.setenv("CITYHUB_RETENTION__ROLLUP_DAYS", "90")  # a daily row starts earlier
    with pytest.raises(ConfigError, match="at least a day longer"):
        load_settings()
    monkeypatch.setenv("CITYHUB_RETENTION__ROLLUP_DAYS", "730")
    policy = load_settings().retention_policy()
    # the plan's rollups, the daily one too, are kept as rollups; a raw name alike is not
    assert [policy.days(m) for m in ("building_energy_1h", "building_energy_1d")] == [730, 730]
    assert policy.days("building_energy") == policy.days("tram_1h") == 90
    # the status rollups too, and their sources are raw
    assert [policy.days(m) for m in ("charger_status_1h", "charger_status_1d")] == [730, 730]
    assert policy.days("charger_status") == policy.days("charger_session") == 90
    monkeypatch.setenv("CITYHUB_ROLLUPS__STATUS_INTERVALS", '["2h"]')
    assert load_settings().retention_policy().days("charger_status_2h") == 730
    monkeypatch.setenv("CITYHUB_ROLLUPS__STATUS_INTERVALS", '["7m"]')
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert refused.value.setting == "CITYHUB_ROLLUPS__STATUS_INTERVALS"


def test_raw_retention_shorter_than_the_insights_lookbacks_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CITYHUB_API__OPEN", "true")
    monkeypatch.setenv("CITYHUB_RETENTION__RAW_DAYS", "5")
    with pytest.raises(ConfigError, match=r"CITYHUB_RETENTION__RAW_DAYS=5 is shorter .* \(8 days"):
        load_settings()
    monkeypatch.setenv("CITYHUB_RETENTION__RAW_DAYS", "8")
    assert load_settings().retention.raw_days == 8
    monkeypatch.setenv("CITYHUB_INSIGHTS__STATUS_LOOKBACK_S", str(30 * 86400))
    with pytest.raises(ConfigError, match=r"\(30 days"):
        load_settings()


def test_production_refuses_to_start_without_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("CITYHUB_"):
            monkeypatch.delenv(key)
    with pytest.raises(ConfigError, match="CITYHUB_API__READ_KEYS"):
        load_settings()
    assert load_settings(mode="demo").api.read_keys == []
    assert load_settings(api={"open": True}).api.open is True


def test_secrets_do_not_show_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYHUB_API__READ_KEYS", '["very-secret-key"]')
    monkeypatch.setenv("CITYHUB_MQTT__PASSWORD", "broker-secret")
    settings = load_settings()
    assert "very-secret-key" not in repr(settings)
    assert "broker-secret" not in repr(settings)


def test_cityhub_run_exits_with_the_setting_named(tmp_path: Path) -> None:
    env = {**os.environ, "CITYHUB_API__OPEN": "true", "CITYHUB_MQTT__PORT": "-1"}
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "configuration error: CITYHUB_MQTT__PORT" in result.stderr


@pytest.mark.parametrize("threads", [0, 1, 3])
def test_the_duckdb_threads_reach_the_store(tmp_path: Path, threads: int) -> None:
    """``CITYHUB_STORE__DUCKDB_THREADS``: 0 keeps DuckDB's default (one per core), and the
    store answers as before on the threads it was given (1 and 3: one of them differs from
    the default on any machine)."""
    settings = Settings(mode="test", data_dir=tmp_path, store={"duckdb_threads": threads})  # type: ignore[arg-type]
    store = open_store(settings, on_refused=lambda _: None)
    with duckdb.connect() as plain:
        default = plain.execute("SELECT current_setting('threads')").fetchone()
    used = store._con.execute("SELECT current_setting('threads')").fetchone()  # type: ignore[attr-defined]
    assert used == ((threads,) if threads else default)
    second = 1_000_000_000
    assert (
        store.write([Point("m", {"d": "a"}, {"p": float(n)}, n * second) for n in range(9)]) == []
    )
    [series] = store.aggregate(AggregateQuery("m", "p", "sum", 0, 9 * second))
    assert series.buckets[0].value == 36.0
    store.close()
