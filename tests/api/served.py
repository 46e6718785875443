"""The real hub (ingest and API) in the test process, served over HTTP by uvicorn on a free
loopback port, with the API's clock pinned: the operator tests' answers about "now" and
"today" are then about the scenario's instant, whatever the wall clock says."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn

from hub.api.app import create_app
from hub.broker import free_port
from hub.service import Hub
from hub.settings import Settings
from hub.timestamps import Clock
from tests.conftest import READ_KEY


class ServedHub:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        hub = Hub(settings)
        parts = hub.api_parts()
        parts.clock = clock
        app = create_app(settings, parts, on_start=hub.start, on_stop=hub.stop)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="served-hub", daemon=True)

    def start(self, timeout_s: float = 30.0) -> ServedHub:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"the served hub was not ready after {timeout_s} s")

    def client(self, key: str = READ_KEY) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"X-API-Key": key}, timeout=30)

    def stop(self) -> None:
        """uvicorn's shutdown runs the app's lifespan end: the hub stores, acknowledges and
        disconnects."""
        self.server.should_exit = True
        self.thread.join(30)
        assert not self.thread.is_alive(), "the served hub did not stop"
