"""``python -m bench.autosave``: what Mosquitto's save settings cost, beside NATS.

Mosquitto writes its whole in-memory store (sessions, subscriptions, queued and in-flight
messages) to ``mosquitto.db`` at every save. The chaos suite measures what each setting loses
in a broker crash (``python -m chaos --only broker_crash_...``); this measures what it costs,
once per setting, and for ``nats``: the compose stack's broker (NATS Server,
``deploy/nats/nats.conf``), which writes each QoS 1 message to its JetStream files before the
PUBACK, so a crash loses nothing acknowledged:

- *live*: a real hub drains a numbered QoS 1 stream offered at ``--rate`` msg/s; the broker's
  CPU time and bytes written (``/proc/<pid>/stat`` and ``io``), how many messages the broker
  acknowledged (PUBACK) and how fast, and when the hub had stored them all;
- *backlog*: ``--backlog`` messages of 300 bytes queued as fast as a QoS 1 publisher can for
  a hub that is away (its persistent session offline): messages accepted per second over the
  first and the last thousand (a save rewrites the whole queue).

``--session-window`` measures instead how long the hub's session stays unsaved: a
persistent session subscribes, the broker is SIGKILLed ``--delays`` seconds after the SUBACK
(no other traffic) and restarted, and the session reconnects: how often did the broker forget
it? Results in ``bench/results/autosave-session.{json,md}``.

Results go to ``bench/results/autosave.{json,md}``. No timing is asserted anywhere; the
machine is shared, so read the figures as an order of magnitude.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from chaos.harness import Broker, Hub, NumberedPublisher, hour_start, registry, settled_count
from hub.broker import Mosquitto
from hub.ingest.mqtt import ask_broker_to_save

HERE = Path(__file__).resolve().parent
METERS = 50
# name -> the options replaced in the shipped configuration (None: the shipped file as is)
SETTINGS: dict[str, dict[str, str] | None] = {
    "every_1s": {"autosave_on_changes": "false", "autosave_interval": "1"},
    "on_changes_1": {"autosave_on_changes": "true", "autosave_interval": "1"},
    "on_changes_100": {"autosave_on_changes": "true", "autosave_interval": "100"},
    "on_changes_1000": {"autosave_on_changes": "true", "autosave_interval": "1000"},
    "every_60s": {"autosave_on_changes": "false", "autosave_interval": "60"},
    "no_persistence": {"persistence": "false"},
}
NATS = "nats"  # the compose stack's broker, deploy/nats/nats.conf as shipped


def _broker_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, bytes written to storage) of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    written = 0
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            written = int(line.split()[1])
    return cpu_s, written


def _setup(workdir: Path, name: str, seed: int) -> tuple[Broker, Hub, NumberedPublisher, int]:
    """The setting's broker (started), a hub on it (not started), a numbered publisher
    (connected) and the hour its readings start at."""
    workdir.mkdir(parents=True, exist_ok=True)
    broker = Broker(workdir / "broker", SETTINGS.get(name), nats=name == NATS).start()
    env = {
        "CITYHUB_INGEST__REGISTRY_FILE": str(registry(workdir / "registry.json", METERS)),
        **broker.hub_env,
    }
    hub = Hub(workdir, broker.port, **env)
    t0 = hour_start(seed)
    return broker, hub, NumberedPublisher(broker.port, t0, METERS, **broker.publisher_options), t0


def measure(workdir: Path, name: str, rate: float, messages: int, seed: int) -> dict[str, object]:
    broker, hub, publisher, t0 = _setup(workdir, name, seed)
    try:
        hub.start()
        cpu_before, written_before = _broker_usage(broker.pid)
        started = time.monotonic()
        sender = threading.Thread(target=publisher.stream, args=(messages, rate))
        sender.start()
        sender.join()
        acked = publisher.settle(messages)
        acked_s = time.monotonic() - started
        count, _total = settled_count([hub], t0, messages)
        done_s = time.monotonic() - started
        cpu_after, written_after = _broker_usage(broker.pid)
        return {
            "setting": name,
            "options": broker.config,
            "messages": messages,
            "acked": acked,
            "stored": count,
            "offered_rate": rate,
            "acked_per_s": round(acked / acked_s),
            "stored_after_s": round(done_s, 1),
            "broker_cpu_s": round(cpu_after - cpu_before, 2),
            "broker_cpu_us_per_msg": round((cpu_after - cpu_before) / messages * 1e6, 1),
            "broker_written_mb": round((written_after - written_before) / 2**20, 1),
        }
    finally:
        publisher.close()
        hub.stop()
        broker.stop()


def _away_session(broker: Broker) -> None:
    """A persistent session subscribed to the stream, then offline (a hub that is down)."""
    v5 = not broker.hub_env  # NATS: MQTT 3.1.1 and the stack's hub account
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="hub-away",
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        clean_session=None if v5 else False,
    )
    if not v5:
        client.username_pw_set("hub", broker.hub_env["CITYHUB_MQTT__PASSWORD"])
    subscribed = threading.Event()
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_connect = lambda c, *_: c.subscribe("senml/+", qos=1)
    properties = None
    if v5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 3600
    client.connect(
        "127.0.0.1",
        broker.port,
        clean_start=False if v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
        properties=properties,
    )
    client.loop_start()
    subscribed.wait(10)
    client.disconnect()
    client.loop_stop()


def backlog(workdir: Path, name: str, messages: int) -> dict[str, object]:
    """Messages per second the broker accepts while queueing them for an offline session."""
    broker = Broker(workdir / "broker", SETTINGS.get(name), nats=name == NATS).start()
    try:
        _away_session(broker)
        publisher = NumberedPublisher(broker.port, 0, **broker.publisher_options)
        payload = b"x" * 300
        rates = []
        for _ in range(0, messages, 1000):
            started = time.monotonic()
            infos = [publisher.client.publish("senml/m-0", payload, qos=1) for _ in range(1000)]
            for info in infos:
                info.wait_for_publish(600)
            rates.append(round(1000 / (time.monotonic() - started)))
        publisher.close()
        return {"queued": messages, "first_1000_per_s": rates[0], "last_1000_per_s": rates[-1]}
    finally:
        broker.stop()


def drain(workdir: Path, name: str, messages: int, seed: int) -> dict[str, object]:
    """A backlog of ``messages`` numbered readings queued for the hub while it is stopped,
    then the hub started: how fast it drains them from this broker."""
    broker, hub, publisher, t0 = _setup(workdir, name, seed)
    try:
        hub.start()
        hub.stop()  # its session stays, and the messages queue for it
        publisher.publish(range(messages))
        publisher.settle(messages)
        started = time.monotonic()
        ready_s = hub.start()
        count, _total = settled_count([hub], t0, messages, quiet_s=1.0)
        drained_s = time.monotonic() - started
        return {
            "queued": messages,
            "stored": count,
            "hub_ready_s": round(ready_s, 1),
            "drained_s": round(drained_s, 1),
            "drain_per_s": round(messages / max(drained_s - ready_s, 1e-3)),
        }
    finally:
        publisher.close()
        hub.stop()
        broker.stop()


def _session_present(port: int, subscribe: bool, save_pid_file: Path | None = None) -> bool:
    """Connect as the persistent session ``hub-window`` (subscribing if asked); whether the
    broker still had the session. With ``save_pid_file``, once subscribed, ask the broker to
    save as the hub does with ``CITYHUB_MQTT__BROKER_PID_FILE`` (the hub's own code)."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="hub-window", protocol=MQTTProtocolVersion.MQTTv5
    )
    done, present = threading.Event(), [False]

    def on_connect(c: mqtt.Client, _u: object, flags: Any, _r: object, _p: object) -> None:
        present[0] = flags.session_present
        if subscribe:
            c.subscribe("senml/#", qos=1)
        else:
            done.set()

    def on_subscribe(*_: object) -> None:
        if save_pid_file is not None:
            ask_broker_to_save(save_pid_file)  # the hub's own request
        done.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)
    client.loop_start()
    done.wait(10)
    client.loop_stop()  # no DISCONNECT: the broker is killed (or stopped) with it connected
    return present[0]


def session_window(
    workdir: Path, name: str, delays: list[float], tries: int, hub_save: bool = False
) -> dict:
    """For each delay: in how many of ``tries`` crashes the broker forgot the session;
    ``hub_save``: the session asks the broker to save once subscribed, as the hub does."""
    forgotten = {}
    for delay in delays:
        lost = 0
        for attempt in range(tries):
            broker = Broker(workdir / f"{delay:g}-{attempt}", SETTINGS[name]).start()
            try:
                time.sleep(0.3 + 0.37 * attempt % 1)  # vary the phase against the save clock
                assert isinstance(broker.server, Mosquitto)
                pid_file = broker.server.pid_file if hub_save else None
                _session_present(broker.port, subscribe=True, save_pid_file=pid_file)
                time.sleep(delay)
                broker.kill()
                broker.start()
                lost += not _session_present(broker.port, subscribe=False)
            finally:
                broker.stop()
        forgotten[f"{delay:g}"] = lost
    return {
        "setting": name + (" + hub asks to save" if hub_save else ""),
        "options": SETTINGS[name],
        "tries": tries,
        "forgotten": forgotten,
    }


def render_window(run: dict) -> str:
    delays = list(run["results"][0]["forgotten"])
    lines = [
        "# Mosquitto save settings: how long a new session stays unsaved",
        "",
        f"`python -m bench.autosave --session-window --delays {','.join(delays)} "
        f"--tries {run['tries']}{run.get('flags', '')}`, {run['started']}, "
        f"Mosquitto {run['mosquitto']}: a "
        "persistent session subscribes, the broker is SIGKILLed that many seconds after the "
        "SUBACK and restarted; sessions the broker had forgotten, of "
        f"{run['tries']} tries.",
        "",
        "| setting | options | " + " | ".join(f"{d} s" for d in delays) + " |",
        "|---|---|" + "---:|" * len(delays),
    ]
    for r in run["results"]:
        counts = " | ".join(str(r["forgotten"][d]) for d in delays)
        lines.append(f"| {r['setting']} | `{json.dumps(r['options'])}` | {counts} |")
    return "\n".join(lines) + "\n"


def render(run: dict) -> str:
    lines = [
        "# Mosquitto save settings, and NATS, at a steady QoS 1 rate",
        "",
        f"`python -m bench.autosave --rate {run['rate']:g} --messages {run['messages']} "
        f"--backlog {run['backlog']} --drain {run.get('drain', 0)}`, "
        f"{run['started']}, Mosquitto {run['mosquitto']}, NATS Server {run.get('nats', '?')}, "
        "a real hub draining into DuckDB.",
        "",
        "| setting | options | acked of sent | acked msg/s | all stored after (s) "
        "| broker CPU (µs/msg) | broker wrote (MB) | backlog: msg/s first / last 1000 "
        "| hub drains backlog (msg/s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in run["results"]:
        options = r["options"] if isinstance(r["options"], str) else json.dumps(r["options"])
        options = f"`{options}`" if r["setting"] != NATS else options
        queued = r["backlog"]
        lines.append(
            f"| {r['setting']} | {options} | {r['acked']} / {r['messages']} "
            f"| {r['acked_per_s']} | {r['stored_after_s']} | {r['broker_cpu_us_per_msg']} "
            f"| {r['broker_written_mb']} "
            f"| {queued['first_1000_per_s']} / {queued['last_1000_per_s']} "
            f"| {r['drain']['drain_per_s'] if 'drain' in r else '—'} |"
        )
    lines += [
        "",
        f"Offered {run['rate']:g} msg/s; the backlog column queues {run['backlog']} messages "
        f"for an offline session; the last column, {run.get('drain', 0)} numbered readings "
        "queued for a stopped hub, then drained by it (from its start to the last stored, "
        "less its start-up). A crash loses nothing acknowledged only with nats (chaos "
        "suite, `broker_crash_*_nats`); with every Mosquitto setting but on_changes_1 it loses "
        "what arrived since the last save.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.autosave", description=__doc__)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument(
        "--drain", type=int, default=50_000, help="readings queued for the hub to drain (0: no)"
    )
    parser.add_argument(
        "--only", help=f"settings, comma-separated (default: all, and {NATS} but with the window)"
    )
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    parser.add_argument("--session-window", action="store_true")
    parser.add_argument("--delays", default="0,0.5,1,2,3", help="session window: seconds")
    parser.add_argument("--tries", type=int, default=4, help="session window: per delay")
    parser.add_argument(
        "--hub-save",
        action="store_true",
        help="session window: each setting also with the "
        "session asking the broker to save once subscribed (CITYHUB_MQTT__BROKER_PID_FILE)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cityhub-autosave-"))
    version = os.popen("mosquitto -h 2>/dev/null | head -1").read().split()
    if args.only is None:
        args.only = ",".join([*SETTINGS] if args.session_window else [*SETTINGS, NATS])
    if args.session_window:
        if NATS in args.only.split(","):
            parser.error("--session-window measures Mosquitto's saves: leave nats out of --only")
        delays = [float(d) for d in args.delays.split(",")]
        window = {
            "tries": args.tries,
            "flags": (f" --only {args.only}" if args.only != ",".join(SETTINGS) else "")
            + (" --hub-save" if args.hub_save else ""),
            "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "mosquitto": version[-1] if version else "?",
            "results": [
                session_window(workdir / f"{name}-{save}", name, delays, args.tries, save)
                for name in args.only.split(",")
                for save in ((False, True) if args.hub_save else (False,))
            ],
        }
        args.results_dir.mkdir(parents=True, exist_ok=True)
        (args.results_dir / "autosave-session.json").write_text(json.dumps(window, indent=2))
        (args.results_dir / "autosave-session.md").write_text(render_window(window))
        print(render_window(window))
        shutil.rmtree(workdir, ignore_errors=True)
        return
    results = []
    for index, name in enumerate(args.only.split(",")):
        result = measure(workdir / name, name, args.rate, args.messages, args.seed + index)
        result["backlog"] = backlog(workdir / f"{name}-backlog", name, args.backlog)
        if args.drain:
            result["drain"] = drain(workdir / f"{name}-drain", name, args.drain, args.seed)
        print(json.dumps(result), flush=True)
        results.append(result)
    run = {
        "rate": args.rate,
        "messages": args.messages,
        "backlog": args.backlog,
        "drain": args.drain,
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "mosquitto": version[-1] if version else "?",
        "nats": (os.popen("nats-server --version 2>/dev/null").read().split() or ["?"])[-1],
        "results": results,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "autosave.json").write_text(json.dumps(run, indent=2) + "\n")
    (args.results_dir / "autosave.md").write_text(render(run))
    print(render(run))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
