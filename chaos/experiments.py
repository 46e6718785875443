"""The experiments: each one builds its system (broker, hubs), runs a numbered stream, injects
one fault, and reads back what was stored. Sizes come from ``Scale`` (full or quick); every
random choice (kill moments) comes from the seed, so a run is reproducible from it.
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from chaos.clockjump import stepped_env
from chaos.harness import (
    ADMIN_KEY,
    HOUR_NS,
    Broker,
    Hub,
    NumberedPublisher,
    Result,
    hour_start,
    registry,
    settled_count,
    stored,
    wait_for,
)
from chaos.proxy import FaultyProxy
from hub.broker import Mosquitto
from hub.servers import ServerMissing, start_influxd, stop_server

__all__ = ["EXPERIMENTS", "Scale"]

METERS = 50


@dataclass(frozen=True)
class Scale:
    rate: float = 2000.0  # messages per second of the numbered stream
    hub_kills: int = 5
    hub_kill_messages: int = 60_000
    crash_after_s: tuple[float, ...] = (5.0, 20.0, 70.0)
    broker_down_s: float = 40.0
    partition_s: float = 20.0
    flood_messages: int = 10_000
    backlog_messages: int = 1_500
    shared_kills: int = 4
    shared_messages: int = 40_000
    disk_messages: int = 20_000
    influx_messages: int = 30_000
    influx_error_s: float = 20.0  # InfluxDB answering 500 to every write
    influx_slow_s: float = 30.0  # then holding every write 10 s
    clock_messages: int = 30_000
    clock_phase_s: float = 10.0  # each clock position held this long during the stream


QUICK = Scale(
    rate=1000.0,
    hub_kills=1,
    hub_kill_messages=5_000,
    crash_after_s=(5.0,),
    broker_down_s=8.0,
    partition_s=5.0,
    flood_messages=500,
    backlog_messages=100,
    shared_kills=1,
    shared_messages=4_000,
    disk_messages=3_000,
    influx_messages=6_000,
    influx_error_s=4.0,
    influx_slow_s=12.0,
    clock_messages=4_000,
    clock_phase_s=2.0,
)


def _senml_env(workdir: Path) -> dict[str, str]:
    return {"CITYHUB_INGEST__REGISTRY_FILE": str(registry(workdir / "registry.json", METERS))}


def _finish(
    result: Result,
    publisher: NumberedPublisher,
    hubs: list[Hub],
    t0: int,
    n: int,
    broker: Broker | None = None,
) -> None:
    acked = publisher.settle(n)
    # the count may stand still until the broker sends a killed hub's messages again
    quiet_s = 3.0 + (broker.redelivery_s if broker else 0.0)
    settling = time.monotonic()
    count, total = settled_count(hubs, t0, n, quiet_s=quiet_s)
    if count == n:  # how long after the last acknowledgement the last message was stored
        result.details["all_stored_after_s"] = round(time.monotonic() - settling, 1)
    result.settle(n, count, total, float(sum(range(n))))  # doubled: a count above n
    if acked < n:
        result.ok = False
        result.details["never_acknowledged"] = n - acked
    if publisher.no_subscribers:
        result.details["puback_no_matching_subscribers"] = publisher.no_subscribers


def hub_sigkill(*, nats: bool = False) -> Experiment:
    """The hub SIGKILLed at random moments during a stream, restarted each time (on the
    compose stack's NATS with ``nats``: what the hub had not acknowledged comes back from a
    JetStream consumer)."""

    def run(workdir: Path, scale: Scale, seed: int) -> Result:
        rng = random.Random(seed)
        result = Result(
            "hub_sigkill" + ("_nats" if nats else ""),
            f"hub SIGKILLed {scale.hub_kills} times mid-stream" + (" (NATS)" if nats else ""),
        )
        t0, n = hour_start(seed), scale.hub_kill_messages
        broker = Broker(workdir / "broker", nats=nats).start()
        hub = Hub(workdir, broker.port, **_senml_env(workdir), **broker.hub_env)
        hub.start()
        publisher = NumberedPublisher(broker.port, t0, METERS, **broker.publisher_options)
        sender = threading.Thread(target=publisher.stream, args=(n, scale.rate))
        sender.start()
        duration = n / scale.rate
        moments = sorted(rng.uniform(0.1, 0.9) * duration for _ in range(scale.hub_kills))
        started, recoveries = time.monotonic(), []
        try:
            for moment in moments:
                time.sleep(max(0.0, started + moment - time.monotonic()))
                hub.kill()
                recoveries.append(hub.start())
            sender.join()
            _finish(result, publisher, [hub], t0, n, broker)
            result.recovery_s = max(recoveries) if recoveries else None
            result.details["ready_after_restart_s"] = [round(r, 2) for r in recoveries]
        finally:
            publisher.close()
            hub.stop()
            broker.stop()
        return result

    return run


def broker_crash(
    after_s: float,
    config: dict[str, str] | None = None,
    label: str = "shipped",
    since: str = "start",
    *,
    save_new_session: bool = False,
    nats: bool = False,
):
    """The broker SIGKILLed ``after_s`` seconds after it started (``since="start"``) or after
    the hub's session was made (``"subscribed"``: the hub ready, its subscription acknowledged,
    the stream just begun: the worst moment for a session not yet saved), restarted at once,
    while a stream runs; with the shipped configuration or a variant. ``save_new_session``:
    the hub may signal the broker (``CITYHUB_MQTT__BROKER_PID_FILE``, as in the demo) and asks
    it to save a new session at once. ``nats``: the compose stack's broker instead (NATS,
    whose JetStream files hold every message it acknowledged)."""

    def run(workdir: Path, scale: Scale, seed: int) -> Result:
        moment = f"{after_s:g}s" if since == "start" else f"{after_s:g}s_after_subscribe"
        name = f"broker_crash_{moment}".replace(".", "_") + (
            "" if label == "shipped" else f"_{label}"
        )
        when = "start" if since == "start" else "the hub subscribed"
        if nats:
            setup = "NATS, the compose stack's config"
        elif save_new_session:
            setup = "shipped config, the hub asks it to save a new session"
        else:
            setup = f"{label} config"
        result = Result(name, f"broker SIGKILLed {after_s:g} s after {when} ({setup})")
        t0 = hour_start(seed)
        n = int((after_s + 10) * scale.rate)
        broker = Broker(workdir / "broker", config, nats=nats).start()
        env = {**_senml_env(workdir), **broker.hub_env}
        if save_new_session:
            assert isinstance(broker.server, Mosquitto)
            env["CITYHUB_MQTT__BROKER_PID_FILE"] = str(broker.server.pid_file)
        hub = Hub(workdir, broker.port, **env)
        hub.start()
        subscribed = time.monotonic()
        publisher = NumberedPublisher(broker.port, t0, METERS, **broker.publisher_options)
        sender = threading.Thread(target=publisher.stream, args=(n, scale.rate))
        sender.start()
        try:
            origin = broker.started_at if since == "start" else subscribed
            time.sleep(max(0.0, origin + after_s - time.monotonic()))
            before = stored([hub], t0)[0]
            broker.kill()
            broker.start()
            back = time.monotonic()
            waited = wait_for(lambda: stored([hub], t0)[0] > before and hub.ready() == 200, 60)
            result.recovery_s = round(time.monotonic() - back, 2) if waited else None
            sender.join()
            _finish(result, publisher, [hub], t0, n, broker)
            result.details["sessions_lost"] = hub.metric("cityhub_mqtt_sessions_lost_total")
            result.details["config"] = broker.config
            result.details["hub_asks_broker_to_save"] = save_new_session
        finally:
            publisher.close()
            hub.stop()
            broker.stop()
        return result

    return run


def broker_crash_while_hub_away(*, nats: bool = False) -> Experiment:
    """The hub stopped (an upgrade, a restart) while devices go on publishing: 10 s of
    traffic wait in the broker for the hub's session; then the broker is SIGKILLed, restarted,
    and the hub started. Everything the broker acknowledged must still be there: Mosquitto
    loses what arrived since its last save, NATS wrote each message before acknowledging it."""

    def run(workdir: Path, scale: Scale, seed: int) -> Result:
        setup = "NATS, the compose stack's config" if nats else "shipped config"
        result = Result(
            "broker_crash_while_hub_away" + ("_nats" if nats else ""),
            f"broker SIGKILLed with 10 s of traffic queued for the stopped hub ({setup})",
        )
        t0, n = hour_start(seed), int(10 * scale.rate)
        broker = Broker(workdir / "broker", nats=nats).start()
        hub = Hub(workdir, broker.port, **_senml_env(workdir), **broker.hub_env)
        hub.start()  # its session and subscriptions
        hub.stop()  # away; the session stays
        publisher = NumberedPublisher(broker.port, t0, METERS, **broker.publisher_options)
        try:
            publisher.stream(n, scale.rate)
            wait_for(lambda: len(publisher.acked) >= n, 60)
            broker.kill()
            broker.start()
            result.recovery_s = round(hub.start(), 2)
            _finish(result, publisher, [hub], t0, n, broker)
            result.details["config"] = broker.config
        finally:
            publisher.close()
            hub.stop()
            broker.stop()
        return result

    return run


def broker_down(workdir: Path, scale: Scale, seed: int) -> Result:
    """The broker stopped for a while and started again: how soon is the hub consuming?"""
    result = Result("broker_down", f"broker down {scale.broker_down_s:g} s")
    t0, n = hour_start(seed), 2000
    broker = Broker(workdir / "broker").start()
    hub = Hub(workdir, broker.port, **_senml_env(workdir))
    hub.start()
    publisher = NumberedPublisher(broker.port, t0, METERS)
    try:
        publisher.publish(range(n // 2))
        wait_for(lambda: stored([hub], t0)[0] >= n // 2, 60)
        broker.stop()
        time.sleep(scale.broker_down_s)
        broker.start()
        back = time.monotonic()
        publisher.publish(range(n // 2, n))
        waited = wait_for(lambda: stored([hub], t0)[0] > n // 2, 60, 0.05)
        result.recovery_s = round(time.monotonic() - back, 2) if waited else None
        _finish(result, publisher, [hub], t0, n)
        result.ok = result.ok and result.recovery_s is not None and result.recovery_s <= 5
        result.details["target_s"] = 5
    finally:
        publisher.close()
        hub.stop()
        broker.stop()
    return result


def partition(workdir: Path, scale: Scale, seed: int) -> Result:
    """The broker frozen (SIGSTOP: its port open, nothing answers) during a stream."""
    result = Result("partition", f"broker frozen (kill -STOP) {scale.partition_s:g} s")
    t0 = hour_start(seed)
    n = int((scale.partition_s + 10) * scale.rate)
    broker = Broker(workdir / "broker").start()
    hub = Hub(workdir, broker.port, **_senml_env(workdir))
    hub.start()
    publisher = NumberedPublisher(broker.port, t0, METERS)
    sender = threading.Thread(target=publisher.stream, args=(n, scale.rate))
    sender.start()
    try:
        time.sleep(3)
        broker.pause()
        time.sleep(scale.partition_s)
        before = stored([hub], t0)[0]
        broker.resume()
        back = time.monotonic()
        waited = wait_for(lambda: stored([hub], t0)[0] > before, 90, 0.05)
        result.recovery_s = round(time.monotonic() - back, 2) if waited else None
        sender.join()
        _finish(result, publisher, [hub], t0, n)
    finally:
        publisher.close()
        hub.stop()
        broker.stop()
    return result


def shared_subscription(workdir: Path, scale: Scale, seed: int) -> Result:
    """Two hubs on one shared subscription (each its own DuckDB file), one SIGKILLed again
    and again: together they must hold every message once."""
    rng = random.Random(seed)
    result = Result("shared_subscription", f"2 hubs sharing, one SIGKILLed {scale.shared_kills}x")
    t0, n = hour_start(seed), scale.shared_messages
    broker = Broker(workdir / "broker").start()
    env = {**_senml_env(workdir), "CITYHUB_MQTT__SHARED_GROUP": "hubs"}
    hubs = [
        Hub(workdir, broker.port, "hub-a", CITYHUB_MQTT__CLIENT_ID="hub-a", **env),
        Hub(workdir, broker.port, "hub-b", CITYHUB_MQTT__CLIENT_ID="hub-b", **env),
    ]
    for hub in hubs:
        hub.start()
    publisher = NumberedPublisher(broker.port, t0, METERS)
    sender = threading.Thread(target=publisher.stream, args=(n, scale.rate))
    sender.start()
    duration = n / scale.rate
    recoveries = []
    try:
        started = time.monotonic()
        for moment in sorted(rng.uniform(0.1, 0.9) * duration for _ in range(scale.shared_kills)):
            time.sleep(max(0.0, started + moment - time.monotonic()))
            hubs[1].kill()
            recoveries.append(hubs[1].start())
        sender.join()
        _finish(result, publisher, hubs, t0, n)
        result.recovery_s = max(recoveries) if recoveries else None
        result.details["per_hub"] = [stored([h], t0)[0] for h in hubs]
    finally:
        publisher.close()
        for hub in hubs:
            hub.stop()
        broker.stop()
    return result


def _mount(path: Path, size_mb: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _chattr(path: Path, flag: str) -> bool:
    """``chattr -R`` (``+i``: nothing may write, create, rename or delete there, root too)."""
    done = subprocess.run(["chattr", "-R", flag, str(path)], capture_output=True, check=False)
    return done.returncode == 0


def _fill(path: Path) -> Path:
    filler = path / "filler"
    with filler.open("ab", buffering=0) as out:  # unbuffered: nothing left to flush
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def disk_fault(kind: str):
    """The hub's data folder on a small disk that fills up (``full``), or made immutable
    (``readonly``: ``chattr -R +i`` on the folder and its files, since root ignores ``chmod``
    and a file system with files open for writing cannot be remounted read-only) during a
    stream, then given back; the hub must report it and heal by itself."""

    def run(workdir: Path, scale: Scale, seed: int) -> Result:
        label = "disk full then freed" if kind == "full" else "store folder read-only (chattr +i)"
        result = Result(f"disk_{kind}", label)
        disk = workdir / "disk"
        if kind == "readonly":
            disk.mkdir(parents=True, exist_ok=True)
            if os.geteuid() != 0 or not _chattr(disk, "+i") or not _chattr(disk, "-i"):
                result.details["skipped"] = "chattr +i needs root and ext2/3/4, xfs or btrfs"
                return result
        elif os.geteuid() != 0 or not _mount(disk, 64):
            result.details["skipped"] = "mounting a tmpfs needs root"
            return result
        t0, n = hour_start(seed), scale.disk_messages
        broker = Broker(workdir / "broker").start()
        hub = Hub(workdir, broker.port, CITYHUB_DATA_DIR=str(disk / "hub"), **_senml_env(workdir))
        publisher = NumberedPublisher(broker.port, t0, METERS)
        try:
            hub.start()
            publisher.publish(range(n // 3))
            wait_for(lambda: stored([hub], t0)[0] >= n // 3, 60)
            faulted = time.monotonic()
            if kind == "full":
                filler = _fill(disk)
            else:
                _chattr(disk / "hub", "+i")
            publisher.publish(range(n // 3, n))
            seen = wait_for(hub.pipeline_error, 60)
            result.details["error"] = str(seen)[:200] if seen else None
            result.details["reported_after_s"] = (
                round(time.monotonic() - faulted, 2) if seen else None
            )
            result.details["store_errors"] = hub.metric("cityhub_store_errors_total")
            time.sleep(5)
            if kind == "full":
                filler.unlink()
            else:
                _chattr(disk / "hub", "-i")
            back = time.monotonic()
            before = stored([hub], t0)[0]
            waited = wait_for(lambda: stored([hub], t0)[0] > before, 60, 0.05)
            result.recovery_s = round(time.monotonic() - back, 2) if waited else None
            _finish(result, publisher, [hub], t0, n)
            result.ok = result.ok and bool(seen) and result.details["store_errors"] > 0
        finally:
            publisher.close()
            hub.stop()
            broker.stop()
            if kind == "readonly":
                _chattr(disk, "-i")
            else:
                subprocess.run(["umount", "-l", str(disk)], check=False, capture_output=True)
        return result

    return run


INFLUX_TIMEOUT_S = 5.0  # the hub's InfluxDB write timeout in this experiment
INFLUX_DELAY_S = 10.0  # how long a slow InfluxDB holds each write: longer than the timeout


def influx_faults(workdir: Path, scale: Scale, seed: int) -> Result:
    """The hub on InfluxDB (a real ``influxd`` behind :class:`chaos.proxy.FaultyProxy`): writes
    answered 500 for a while, then held 10 s each (twice the hub's write timeout, set to 5 s
    here, so the hub gives up on every write while InfluxDB still applies it), then served
    again. The spool must take it all
    (the broker keeps acknowledging) and forward it once InfluxDB is well: count and sum exact."""
    result = Result(
        "influx_500_then_slow",
        f"InfluxDB writes 500 for {scale.influx_error_s:g} s, then {INFLUX_DELAY_S:g} s each "
        f"(write timeout {INFLUX_TIMEOUT_S:g} s) for {scale.influx_slow_s:g} s",
    )
    try:
        influx = start_influxd(workdir / "influxd", "chaos")
    except ServerMissing as missing:
        result.details["skipped"] = str(missing)
        return result
    proxy = FaultyProxy(influx.url, delay_s=INFLUX_DELAY_S).start()
    t0, n = hour_start(seed), scale.influx_messages
    broker = Broker(workdir / "broker").start()
    hub = Hub(
        workdir,
        broker.port,
        CITYHUB_STORE__BACKEND="influxdb",
        CITYHUB_STORE__INFLUX_API="v1",
        CITYHUB_STORE__INFLUX_URL=proxy.url,
        CITYHUB_STORE__INFLUX_BUCKET="chaos",
        CITYHUB_STORE__INFLUX_TIMEOUT_S=str(INFLUX_TIMEOUT_S),
        **_senml_env(workdir),
    )
    publisher = NumberedPublisher(broker.port, t0, METERS)
    third = n // 3
    try:
        hub.start()
        publisher.publish(range(third))
        wait_for(lambda: stored([hub], t0)[0] >= third, 60)
        proxy.mode = "error"
        faulted = time.monotonic()
        # the rest of the stream spans both faults: numbers third..n, paced over both phases
        rate = (n - third) / (scale.influx_error_s + scale.influx_slow_s)
        sender = threading.Thread(target=_stream_range, args=(publisher, third, n, rate))
        sender.start()
        time.sleep(scale.influx_error_s)
        result.details["during_500"] = _spool_view(hub)
        proxy.mode = "slow"
        time.sleep(scale.influx_slow_s)
        result.details["during_slow"] = _spool_view(hub)
        sender.join()
        acked = publisher.settle(n)  # every message acknowledged while InfluxDB was failing
        result.details["acked_during_fault"] = acked
        result.details["writes_faulted"] = proxy.faulted
        proxy.mode = "pass"
        back = time.monotonic()
        waited = wait_for(lambda: stored([hub], t0)[0] >= n, 180, 0.2)
        result.recovery_s = round(time.monotonic() - back, 2) if waited else None
        result.details["fault_s"] = round(back - faulted, 1)
        _finish(result, publisher, [hub], t0, n)
        result.details["spool_after"] = _spool_view(hub)
    finally:
        publisher.close()
        hub.stop()
        broker.stop()
        proxy.stop()
        stop_server(influx)
    return result


CLOCK_STEPS_S = (0.0, 3600.0, -3600.0, 0.0)  # +1 h, then 2 h back, then right again


def clock_jumps(workdir: Path, scale: Scale, seed: int) -> Result:
    """The hub's wall clock (its processes', by :mod:`chaos.clockjump`) stepped during a
    stream: 1 h forward, 2 h back, then right. The readings carry their own times (2 h old or
    more, so none turns "in the future" even at -1 h): nothing may be lost or doubled. Records
    what each step does to ``/ready``, ``/health`` and the time-based metrics (ingest lag)."""
    result = Result("clock_jumps", "hub wall clock stepped +1 h, -2 h, +1 h mid-stream")
    t0, n = hour_start(seed), scale.clock_messages
    offset = workdir / "clock-offset"
    workdir.mkdir(parents=True, exist_ok=True)
    offset.write_text("0\n")
    broker = Broker(workdir / "broker").start()
    hub = Hub(workdir, broker.port, **_senml_env(workdir))
    hub.env = stepped_env(offset, hub.env)  # the hub and its MQTT client process
    publisher = NumberedPublisher(broker.port, t0, METERS)
    rate = n / (scale.clock_phase_s * len(CLOCK_STEPS_S))
    phases: list[dict[str, object]] = []
    try:
        hub.start()
        sender = threading.Thread(target=publisher.stream, args=(n, rate))
        sender.start()
        for step in CLOCK_STEPS_S:
            offset.write_text(f"{step}\n")
            lag_sum, lag_count = (
                hub.metric(f"cityhub_ingest_lag_seconds_{k}") for k in ("sum", "count")
            )
            time.sleep(scale.clock_phase_s)
            lag = hub.metric("cityhub_ingest_lag_seconds_sum") - lag_sum
            batches = hub.metric("cityhub_ingest_lag_seconds_count") - lag_count
            phases.append(
                {
                    "offset_s": step,
                    "ready": hub.ready(),
                    "health": hub.health().status_code,
                    "mean_ingest_lag_s": round(lag / batches, 3) if batches else None,
                }
            )
        sender.join()
        fixed = time.monotonic()
        _finish(result, publisher, [hub], t0, n)
        result.recovery_s = round(time.monotonic() - fixed, 2)
        result.details["phases"] = phases
        result.details["dead_letters"] = hub.metric("cityhub_dead_letters_total")
        result.details["note"] = (
            "the hub and its MQTT client process are stepped together, as one machine's clock"
        )
        result.ok = result.ok and all(p["ready"] == 200 for p in phases)
    finally:
        publisher.close()
        hub.stop()
        broker.stop()
    return result


def clock_back_beyond_future(workdir: Path, scale: Scale, seed: int) -> Result:
    """The hub's clock stepped back 2 h during a stream of readings about 1 h old, so for a
    while they are about 1 h "in the future" to the hub, beyond ``CITYHUB_INGEST__MAX_FUTURE_S``
    (5 min): they must be dead-lettered as ``future_timestamp`` (kept, counted, listed), not
    stored with a time the hub cannot check and not lost; once the clock is right, readings are
    stored again. ``lost`` counts messages neither stored nor dead-lettered."""
    result = Result(
        "clock_back_beyond_future", "hub wall clock stepped back 2 h (readings 1 h old)"
    )
    t0, n = (time.time_ns() // HOUR_NS - 1) * HOUR_NS, scale.clock_messages
    offset = workdir / "clock-offset"
    workdir.mkdir(parents=True, exist_ok=True)
    offset.write_text("0\n")
    broker = Broker(workdir / "broker").start()
    hub = Hub(workdir, broker.port, **_senml_env(workdir))
    hub.env = stepped_env(offset, hub.env)
    publisher = NumberedPublisher(broker.port, t0, METERS)
    phases = (0.0, -7200.0, 0.0)
    rate = n / (scale.clock_phase_s * len(phases))
    seen: list[dict[str, object]] = []
    try:
        hub.start()
        sender = threading.Thread(target=publisher.stream, args=(n, rate))
        sender.start()
        for step in phases:
            offset.write_text(f"{step}\n")
            time.sleep(scale.clock_phase_s)
            seen.append({"offset_s": step, "ready": hub.ready(), "stored": stored([hub], t0)[0]})
        sender.join()
        fixed = time.monotonic()
        acked = publisher.settle(n)
        count, total = settled_count([hub], t0, n)
        result.recovery_s = round(time.monotonic() - fixed, 2)
        reasons = httpx.get(
            f"{hub.base_url}/api/v1/dead-letters/counts",
            headers={"X-API-Key": ADMIN_KEY},
            timeout=10,
        ).json()["counts"]
        future = reasons.get("future_timestamp", 0)
        result.sent, result.stored = n, count
        result.lost = max(0, n - count - future)
        result.doubled = max(0, count + future - n)
        result.details.update(
            dead_lettered_future=future,
            dead_letters=reasons,
            phases=seen,
            never_acknowledged=n - acked,
            stored_after_clock_fixed=seen[-1]["stored"] != seen[-2]["stored"],
        )
        result.ok = (
            acked == n
            and result.lost == 0
            and result.doubled == 0
            and future > 0
            and bool(result.details["stored_after_clock_fixed"])
            and all(p["ready"] == 200 for p in seen)
        )
        result.details["sum_exact"] = None if future else total == float(sum(range(n)))
    finally:
        publisher.close()
        hub.stop()
        broker.stop()
    return result


def _stream_range(publisher: NumberedPublisher, first: int, end: int, rate: float) -> None:
    started = time.monotonic()
    for k, i in enumerate(range(first, end)):
        publisher.publish([i])
        ahead = k / rate - (time.monotonic() - started)
        if ahead > 0.01:
            time.sleep(ahead)


def _spool_view(hub: Hub) -> dict[str, object]:
    """What the hub says about its spool and readiness at this moment."""
    try:
        # /ready's store probe is a write: under a slow InfluxDB it takes the write timeout
        asked = time.monotonic()
        ready = httpx.get(f"{hub.base_url}/ready", timeout=INFLUX_DELAY_S + INFLUX_TIMEOUT_S)
        return {
            "ready": ready.status_code,
            "ready_answered_in_s": round(time.monotonic() - asked, 1),
            "pending_bytes": hub.metric("cityhub_spool_pending_bytes"),
            "oldest_s": round(hub.metric("cityhub_spool_oldest_age_seconds"), 1),
        }
    except httpx.HTTPError as error:
        return {"error": repr(error)[:200]}


BACKLOG_BROKER = {"max_queued_bytes": "0", "memory_limit": "0", "autosave_interval": "600"}


def flood_and_backlog(workdir: Path, scale: Scale, seed: int) -> Result:
    """Invalid 200 kB payloads from one publisher, then a backlog of 1 MB messages queued
    while the hub was down: the dead-letter log within its bound, the hub under 500 MB."""
    result = Result(
        "flood_and_backlog",
        f"{scale.flood_messages} invalid 200 kB payloads, {scale.backlog_messages} x 1 MB backlog",
    )
    # A broker that holds the whole 1.5 GB backlog: the shipped one bounds a client's queue at
    # 1 GiB (and would drop the rest), and saving every second it would rewrite the whole
    # backlog every second (README, "Broker durability"); what is measured here is the hub.
    broker = Broker(workdir / "broker", BACKLOG_BROKER).start()
    bound = 16 << 20
    env = {"CITYHUB_INGEST__DEADLETTER_MAX_BYTES": str(bound)}
    hub = Hub(workdir, broker.port, **env)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], hub.rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    publisher = NumberedPublisher(broker.port, 0)
    try:
        hub.start()
        invalid = b"{" + b"x" * 199_999
        for start in range(0, scale.flood_messages, 200):
            infos = [
                publisher.client.publish("senml/m-1", invalid, qos=1)
                for _ in range(min(200, scale.flood_messages - start))
            ]
            for info in infos:
                info.wait_for_publish(60)
        wait_for(lambda: hub.metric("cityhub_dead_letters_total") >= scale.flood_messages, 300, 0.5)
        flood_peak = peak[0]
        # the counter starts again at 0 in the restarted hub: keep this incarnation's drops
        dropped_before_restart = hub.metric("cityhub_dead_letters_dropped_total")
        hub.stop()
        large = b"y" * 1_000_000
        for start in range(0, scale.backlog_messages, 100):
            infos = [
                publisher.client.publish("senml/m-2", large, qos=1)
                for _ in range(min(100, scale.backlog_messages - start))
            ]
            for info in infos:
                info.wait_for_publish(60)
        back = time.monotonic()
        hub.start(300)
        drained = wait_for(
            lambda: hub.metric("cityhub_dead_letters_total") >= scale.backlog_messages, 300, 0.5
        )
        result.recovery_s = round(time.monotonic() - back, 2) if drained else None
        dropped = dropped_before_restart + hub.metric("cityhub_dead_letters_dropped_total")
        log_bytes = sum(p.stat().st_size for p in hub.data_dir.glob("deadletters.sqlite*"))
        counts = httpx.get(
            f"{hub.base_url}/api/v1/dead-letters/counts", headers={"X-API-Key": ADMIN_KEY}
        ).json()
        total = scale.flood_messages + scale.backlog_messages
        result.sent = total
        result.stored = int(counts["total"] + dropped)  # kept + dropped: every one accounted
        result.lost = max(0, total - result.stored)
        result.details.update(
            flood_peak_rss_mb=round(flood_peak / 2**20),
            peak_rss_mb=round(peak[0] / 2**20),
            deadletter_log_mb=round(log_bytes / 2**20, 1),
            deadletter_bound_mb=bound >> 20,
            dropped=dropped,
            kept=counts["total"],
            broker=BACKLOG_BROKER,
        )
        result.ok = peak[0] < 500 * 2**20 and log_bytes < 2 * bound and result.lost == 0
    finally:
        stop.set()
        publisher.close()
        hub.stop()
        broker.stop()
    return result


Experiment = Callable[[Path, Scale, int], Result]
# Mosquitto 2.0's save after every change (each message in or out, each subscription)
ON_CHANGES = {"autosave_on_changes": "true", "autosave_interval": "1"}


def experiments(scale: Scale) -> dict[str, Experiment]:
    found: dict[str, Experiment] = {
        "hub_sigkill": hub_sigkill(),
        "hub_sigkill_nats": hub_sigkill(nats=True),
    }
    for after in scale.crash_after_s:
        found[f"broker_crash_{int(after)}s"] = broker_crash(after)
    # right after the hub's session was made (the window a save every second leaves), with
    # the shipped configuration and with the one that closes it (its cost: README)
    found["broker_crash_0_5s_after_subscribe"] = broker_crash(0.5, since="subscribed")
    found["broker_crash_0_5s_after_subscribe_on_changes"] = broker_crash(
        0.5, ON_CHANGES, "on_changes", "subscribed"
    )
    # the shipped configuration, the hub allowed to signal the broker (the demo's set-up)
    found["broker_crash_0_5s_after_subscribe_saved_by_hub"] = broker_crash(
        0.5, since="subscribed", label="saved_by_hub", save_new_session=True
    )
    # the compose stack's broker (NATS): the same crashes, and the worst moment for a session
    for after in scale.crash_after_s:
        found[f"broker_crash_{int(after)}s_nats"] = broker_crash(after, label="nats", nats=True)
    found["broker_crash_0_5s_after_subscribe_nats"] = broker_crash(
        0.5, label="nats", since="subscribed", nats=True
    )
    found["broker_crash_while_hub_away"] = broker_crash_while_hub_away()
    found["broker_crash_while_hub_away_nats"] = broker_crash_while_hub_away(nats=True)
    found["broker_crash_20s_autosave60"] = broker_crash(
        20.0, {"autosave_interval": "60"}, "autosave60"
    )
    found.update(
        broker_down=broker_down,
        partition=partition,
        disk_full=disk_fault("full"),
        disk_readonly=disk_fault("readonly"),
        influx_500_then_slow=influx_faults,
        clock_jumps=clock_jumps,
        clock_back_beyond_future=clock_back_beyond_future,
        flood_and_backlog=flood_and_backlog,
        shared_subscription=shared_subscription,
    )
    return found


EXPERIMENTS = experiments(Scale())
