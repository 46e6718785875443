"""The MQTT client in a process of its own, beside the pipeline.

paho-mqtt spends about as much CPU per message as the hub's whole pipeline (route, parse,
store): in one process they take turns on one GIL, and the hub drains at under half the rate
of a bare client. Here the client (:class:`hub.ingest.mqtt.MqttSource`, unchanged) runs in a
child process; received messages cross to the hub in batches over a pipe and the
acknowledgements come back over another, so the network loop and the pipeline use two cores.

The reliability contract is untouched: the child acknowledges only what the hub tells it to,
which the hub does only after the batch is durable. Connection numbers carry the child's
incarnation, so an acknowledgement meant for a connection of an earlier child is never sent on
a later one. The child exits when its parent goes away (the acknowledgement pipe closes),
so a SIGKILLed hub leaves no client behind to fight its successor for the session; and if the
child dies, the hub starts another (the broker redelivers what was not acknowledged).

Memory is bounded by bytes: the child hands messages over through an
:class:`~hub.ingest.window.InflightWindow` (``window_bytes``, and the Receive Maximum as a
message count) that the hub's acknowledgements release, so a backlog of large messages waits
in the broker, not in either process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from hub.ingest.mqtt import MqttSource
from hub.ingest.pipeline import Inbound
from hub.ingest.window import InflightWindow
from hub.metrics import HubMetrics
from hub.settings import MqttSettings
from hub.topics import TopicFilter

__all__ = ["MqttProcess"]

log = logging.getLogger(__name__)

_BATCH_MESSAGES = 1000  # messages per transfer at most
_BATCH_BYTES = 1 << 20  # payload bytes per transfer at most (then it is sent at once)
_BATCH_SECONDS = 0.002  # and at the latest this long after the first
_INCARNATION_STRIDE = 1 << 32  # connection numbers of child n start at n * stride
_STOP = "stop"


class MqttProcess:
    """Same surface as :class:`MqttSource`, with the client in a child process."""

    def __init__(
        self,
        settings: MqttSettings,
        filters: Sequence[TopicFilter],
        deliver: Callable[[Inbound], None],
        metrics: HubMetrics | None = None,
        *,
        window_bytes: int = 64 << 20,
        on_session_lost: Callable[[float], None] | None = None,
    ) -> None:
        self._settings = settings
        self._window_bytes = window_bytes
        self._on_session_lost = on_session_lost
        self._filters = [f.value for f in filters]
        self._deliver = deliver
        self._metrics = metrics or HubMetrics()
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._send_lock = threading.Lock()
        self._incarnation = 0
        self._process: Any = None
        self._acks: Connection | None = None
        self._receiver: threading.Thread | None = None
        self.last_error = "not connected yet"
        self.client_id = settings.client_id

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def start(self) -> None:
        self._spawn()
        self._receiver = threading.Thread(
            target=self._receive, name="cityhub-mqtt-receiver", daemon=True
        )
        self._receiver.start()

    def _spawn(self) -> None:
        self._incarnation += 1
        context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        messages_out, messages_in = context.Pipe(duplex=False)
        acks_out, acks_in = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_child,
            args=(
                self._settings,
                self._filters,
                messages_in,
                acks_out,
                self._incarnation,
                self._window_bytes,
            ),
            name="cityhub-mqtt",
            daemon=True,
        )
        self._process.start()
        messages_in.close()
        acks_out.close()
        self._messages, self._acks = messages_out, acks_in

    def _receive(self) -> None:
        deliver, delay = self._deliver, 0.5
        while True:
            try:
                kind, body = self._messages.recv()
            except (EOFError, OSError):
                self._set_state(False, "the MQTT client process exited")
                if self._stopping.is_set():
                    return
                log.error("the MQTT client process died; starting another in %.1f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                self._process.join(1)
                self._spawn()
                continue
            if kind == "messages":
                for fields in body:
                    deliver(Inbound(*fields))
            elif kind == "session_lost":
                if self._on_session_lost:
                    self._on_session_lost(body)
            else:
                self._set_state(*body)
                delay = 0.5

    def _set_state(self, connected: bool, error: str) -> None:
        self.last_error = error
        if connected:
            self._connected.set()
        else:
            self._connected.clear()
        self._metrics.mqtt_connected.set(1 if connected else 0)

    def acknowledge(self, messages: Sequence[Inbound]) -> None:
        ids = [(m.mid, m.qos, m.session) for m in messages if m.qos]
        size = sum(len(m.payload) for m in messages)
        if messages and self._acks is not None:
            try:
                with self._send_lock:
                    self._acks.send((ids, size, len(messages)))
            except OSError:  # the child is gone: the broker redelivers to its successor
                log.warning("acknowledgements lost with the MQTT client process")

    def stop(self) -> None:
        self._stopping.set()
        if self._acks is not None:
            try:
                with self._send_lock:
                    self._acks.send(_STOP)
            except OSError:
                pass
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        if self._receiver is not None:
            self._receiver.join(5)
        self._connected.clear()


def _child(
    settings: MqttSettings,
    filters: list[str],
    messages: Connection,
    acks: Connection,
    incarnation: int,
    window_bytes: int = 64 << 20,
) -> None:
    """The child process: run the client, ship messages in batches, apply acknowledgements."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C and SIGTERM are the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    lock = threading.Lock()
    batch: list[tuple[str, bytes, int, int, int, int]] = []
    batch_bytes = 0
    flushed = threading.Event()
    window = InflightWindow(window_bytes, settings.receive_maximum)

    def send(item: object) -> None:
        with contextlib.suppress(OSError), lock:  # the hub is gone: nothing left to tell
            messages.send(item)

    def deliver(message: Inbound) -> None:
        nonlocal batch_bytes
        entry = (message.topic, message.payload, message.mid, message.qos,
                 message.received_ns, message.session)  # fmt: skip
        with lock:
            batch.append(entry)
            batch_bytes += len(message.payload)
            full = len(batch) >= _BATCH_MESSAGES or batch_bytes >= _BATCH_BYTES
        if full:
            # OSError: the hub is gone; unacknowledged, the broker keeps the message.
            with contextlib.suppress(OSError):
                flush()

    def flush() -> None:
        nonlocal batch, batch_bytes
        with lock:
            if batch:
                taken, batch, batch_bytes = batch, [], 0
                messages.send(("messages", taken))

    def flusher() -> None:
        while not flushed.wait(_BATCH_SECONDS):
            try:
                flush()
            except OSError:
                return

    source = MqttSource(
        settings,
        [TopicFilter(f) for f in filters],
        deliver,
        session_base=incarnation * _INCARNATION_STRIDE,
        on_state=lambda connected, error: send(("state", (connected, error))),
        on_session_lost=lambda away_s: send(("session_lost", away_s)),
        window=window,
    )
    threading.Thread(target=flusher, name="cityhub-mqtt-flusher", daemon=True).start()
    source.start()
    try:
        while True:
            item = acks.recv()
            if item == _STOP:
                break
            ids, size, count = item
            source.acknowledge_ids(ids)
            source.release(size, count)
    except (EOFError, OSError):
        pass  # the hub is gone: stop, leaving the unacknowledged for the broker to redeliver
    finally:
        flushed.set()
        source.stop()
