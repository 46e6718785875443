"""What every benchmark stage shares: the work folder, the traffic, progress on stderr."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.wire import RawPublisher
from bench.workload import Message, Workload
from hub.broker import Mosquitto

__all__ = ["Context", "progress"]

_STARTED = time.monotonic()


def progress(text: str) -> None:
    """One line of progress on stderr, with the seconds since the run started."""
    print(f"[bench {time.monotonic() - _STARTED:7.1f}s] {text}", file=sys.stderr, flush=True)


@dataclass
class Context:
    workdir: Path
    cache_dir: Path
    seed: int = 42
    device_scale: int = 1  # Workload's
    workload: Workload = field(init=False)
    registry: Path = field(init=False)
    _messages: dict[int, list[Message]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workload = Workload(self.seed, device_scale=self.device_scale)
        self.registry = self.workload.write_registry(self.workdir / "registry.json")

    def messages(self, count: int) -> list[Message]:
        """The first ``count`` messages of the run's traffic (generated once, then reused:
        every consumer of the drain test gets exactly the same messages)."""
        have = self._messages.get(0, [])
        if len(have) < count:
            progress(f"generating {count - len(have):,} messages")
            have = have + list(self.workload.messages(count - len(have)))
            self._messages[0] = have
        return have[:count]

    @contextmanager
    def broker(self, name: str) -> Iterator[Mosquitto]:
        """A fresh private Mosquitto with the project's config, for one measurement."""
        broker = Mosquitto(self.workdir / name / "broker").start()
        try:
            yield broker
        finally:
            broker.stop()


def preload(port: int, messages: list[Message]) -> float:
    """Publish ``messages`` QoS 1 and wait for every PUBACK; returns msg/s."""
    publisher = RawPublisher(port, "bench-preload")
    try:
        return publisher.publish_all(messages)
    finally:
        publisher.close()
