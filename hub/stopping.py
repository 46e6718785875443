"""Clean stops for ``cityhub run``, ``cityhub demo`` and ``cityhub sim``.

SIGTERM (``kill``, systemd, ``docker stop``) and SIGINT (Ctrl-C) both mean "stop gracefully":
the first one sets :attr:`Stopper.event` and runs the registered callbacks (stop the API
server, the simulators); the command then finishes the batch in flight, acknowledges it,
disconnects and stops its children, and exits 0. A second signal while that runs means "now":
the registered child processes are killed and the process exits at once (130).

Children must not outlive the hub either when it is SIGKILLed, which no handler sees: the
broker is started through ``setpriv --pdeathsig`` (see :func:`die_with_parent`), and the MQTT
client process exits when its pipe to the hub closes (:mod:`hub.ingest.mqtt_process`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from hub.errors import ConfigError

__all__ = ["Stopper", "die_with_parent", "ensure_port_free", "serve"]

_FORCED_EXIT = 130


class Stopper:
    """Turns SIGINT and SIGTERM into an event; a second signal exits at once."""

    def __init__(self, doing: str = "storing and acknowledging what was received") -> None:
        self.doing = doing  # what the graceful stop does, for the one line it prints
        self.event = threading.Event()
        self.signal_name = ""
        self._callbacks: list[Callable[[], None]] = []
        self._kills: list[Callable[[], None]] = []

    def install(self) -> Stopper:
        """Install the handlers (main thread only, as Python requires)."""
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)
        return self

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` (quick, non-blocking) when the first signal arrives."""
        self._callbacks.append(callback)
        if self.event.is_set():
            callback()

    def adopt(self, kill: Callable[[], None]) -> None:
        """How to SIGKILL a child process if a second signal forces an immediate exit."""
        self._kills.append(kill)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for a stop signal (in short slices, so signal handlers run promptly)."""
        step = 0.2 if timeout_s is None else min(0.2, timeout_s)
        waited = 0.0
        while not self.event.wait(step):
            waited += step
            if timeout_s is not None and waited >= timeout_s:
                return False
        return True

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.event.is_set():
            self._force_exit()
        self.signal_name = signal.Signals(signum).name
        print(
            f"cityhub: {self.signal_name}: stopping ({self.doing}); send it again to stop at once",
            file=sys.stderr,
            flush=True,
        )
        self.event.set()
        for callback in self._callbacks:
            callback()

    def _force_exit(self) -> None:
        for kill in self._kills:
            with contextlib.suppress(Exception):  # already gone; exiting anyway
                kill()
        print("cityhub: stopped at once", file=sys.stderr, flush=True)
        os._exit(_FORCED_EXIT)


def die_with_parent(command: list[str]) -> list[str]:
    """``command`` run so that the kernel sends it SIGTERM when its parent dies.

    ``setpriv`` (util-linux, on every Debian/Ubuntu) sets ``PR_SET_PDEATHSIG`` and execs the
    command. The signal follows the death of the parent *thread*, so start such children from
    a thread that lives as long as they should (the main thread). Without setpriv the command
    runs as it is.
    """
    setpriv = shutil.which("setpriv") or (
        "/usr/bin/setpriv" if os.path.exists("/usr/bin/setpriv") else None  # noqa: PTH110
    )
    if setpriv is None or sys.platform != "linux":
        return command
    return [setpriv, "--pdeathsig", "TERM", "--", *command]


def ensure_port_free(host: str, port: int) -> None:
    """Fail before starting anything when the API port is taken, naming the setting."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ConfigError(
                "CITYHUB_API__PORT",
                f"port {port} on {host} is not free ({error.strerror}); "
                "set CITYHUB_API__PORT (or --port) to a free port",
            ) from None


def serve(app: Any, host: str, port: int, stopper: Stopper) -> int:
    """Serve ``app`` until a stop signal, then let uvicorn finish (and run the app's shutdown).

    uvicorn runs in a thread of its own, where it installs no signal handlers: the signals
    stay ours (uvicorn would re-raise SIGTERM after its shutdown, killing the process before
    the caller's clean-up). Returns 0 after a clean stop, 1 if the server failed.
    """
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="cityhub-api")
    stopper.on_stop(lambda: setattr(server, "should_exit", True))
    thread.start()
    while thread.is_alive():
        thread.join(0.2)
    return 0 if server.started and stopper.event.is_set() else 1
