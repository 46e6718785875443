"""The gateway's WebSocket server: who may connect, on which path and subprotocol.

Charge points connect to ``ws[s]://<host>:<port>/ocpp/<charge_point_id>`` offering the
subprotocol ``ocpp1.6`` or ``ocpp2.0.1``. At the handshake, before any frame:

- the id must be a valid id of a charge point in the device registry, else HTTP 404;
- with a password configured for it (security profile 1/2: HTTP Basic auth, user = the charge
  point id) the password must match its scrypt hash, else HTTP 401; with
  ``require_password`` a charge point without a configured password gets 401 too;
- a connection that agreed no OCPP subprotocol is closed (1002).

The server runs its own asyncio loop in a thread, so the synchronous hub starts and stops it
like its other parts. Each connection is one :mod:`hub.gateways.ocpp.csms` object.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import ssl
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from hub.devices import DeviceRegistry, check_id
from hub.errors import ConfigError, Rejected
from hub.gateways.ocpp.csms import Csms16, Csms201, CsmsPolicy
from hub.gateways.ocpp.passwords import check_hash, hash_password, verify_password
from hub.gateways.publisher import AckPublisher
from hub.metrics import HubMetrics
from hub.settings import MqttSettings, OcppSettings

__all__ = ["OcppGateway"]

log = logging.getLogger(__name__)

SUBPROTOCOLS: dict[str, type[Csms16] | type[Csms201]] = {"ocpp2.0.1": Csms201, "ocpp1.6": Csms16}
_PATH_PREFIX = "/ocpp/"


class OcppGateway:
    """OCPP-J CSMS endpoint publishing every answered frame to MQTT before answering."""

    def __init__(
        self,
        settings: OcppSettings,
        mqtt: MqttSettings,
        devices: DeviceRegistry,
        metrics: HubMetrics,
        ingest_ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self._settings = settings
        self._devices = devices
        self._metrics = metrics
        self._hashes = dict(settings.password_hashes)
        for device, stored in self._hashes.items():
            if not check_hash(stored):
                raise ConfigError(
                    "CITYHUB_OCPP__PASSWORD_HASHES",
                    f"{device}: not a hash from python -m hub.gateways.ocpp.passwords",
                )
        for device, password in settings.passwords.items():
            self._hashes.setdefault(device, hash_password(password.get_secret_value()))
        self._policy = CsmsPolicy(
            heartbeat_interval_s=settings.heartbeat_interval_s,
            authorize_all=settings.authorize_all,
            id_tags=frozenset(settings.id_tags),
        )
        self.publisher = AckPublisher(mqtt, "ocpp", ingest_ready)
        self.max_frame_bytes = settings.max_frame_bytes
        self.publish_timeout_s = settings.publish_timeout_s
        self.port = settings.port
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        scheme = "wss" if self._settings.tls_cert_file else "ws"
        return f"{scheme}://{self._settings.host}:{self.port}{_PATH_PREFIX}<charge_point_id>"

    @property
    def listening(self) -> bool:
        return self._ready.is_set() and self._error is None

    # --- lifecycle (called from the hub's thread) -------------------------------------------

    def start(self, timeout_s: float = 10.0) -> None:
        self.publisher.start()
        self._thread = threading.Thread(target=self._run, name="cityhub-ocpp", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._error is not None:
            raise ConfigError(
                "CITYHUB_OCPP__PORT", f"gateway could not listen on port {self._settings.port}: "
                f"{self._error or 'timed out'}",
            )  # fmt: skip

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
        self.publisher.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to start(), which raises ConfigError
            self._error = error
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self._serve() as server:
            self.port = _bound_port(server)
            self._ready.set()
            log.info("OCPP gateway listening on %s", self.url)
            await self._stop.wait()

    def _serve(self) -> Any:
        context = None
        if self._settings.tls_cert_file and self._settings.tls_key_file:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self._settings.tls_cert_file, self._settings.tls_key_file)
        return serve(
            self._connection,
            self._settings.host,
            self._settings.port,
            subprotocols=list(SUBPROTOCOLS),  # type: ignore[arg-type]
            process_request=self._handshake,
            # Frames up to 4x the limit are read and answered with a CALLERROR; beyond that
            # the connection is closed (1009) rather than buffering arbitrary amounts.
            max_size=4 * self._settings.max_frame_bytes,
            ssl=context,
        )

    # --- the handshake and the connection (in the gateway's loop) ---------------------------

    async def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        device = path[len(_PATH_PREFIX) :] if path.startswith(_PATH_PREFIX) else ""
        try:
            check_id(device, "charge point id")
        except Rejected:
            return connection.respond(HTTPStatus.NOT_FOUND, "expected /ocpp/<charge point id>\n")
        if device not in self._devices:
            log.warning("refused charge point %s: not in the device registry", device)
            return connection.respond(HTTPStatus.NOT_FOUND, f"unknown charge point {device}\n")
        stored = self._hashes.get(device)
        if stored is None and not self._settings.require_password:
            return None
        password = _basic_password(request.headers.get("Authorization"), device)
        if (
            stored is None
            or password is None
            or not await asyncio.to_thread(verify_password, password, stored)
        ):
            log.warning("refused charge point %s: bad or missing password", device)
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "bad credentials\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
            return response
        return None

    async def _connection(self, connection: ServerConnection) -> None:
        if connection.subprotocol not in SUBPROTOCOLS:
            await connection.close(1002, "offer subprotocol ocpp1.6 or ocpp2.0.1")
            return
        device = connection.request.path.split("?", 1)[0][len(_PATH_PREFIX) :]  # type: ignore[union-attr]
        station: Csms16 | Csms201 = SUBPROTOCOLS[connection.subprotocol](device, connection)
        station.bind(self, self._policy)
        self.connections += 1
        self._metrics.ocpp_connections.set(self.connections)
        try:
            await station.start()
        except ConnectionClosed:
            pass
        finally:
            self.connections -= 1
            self._metrics.ocpp_connections.set(self.connections)

    # --- FrameSink ---------------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes, timeout_s: float) -> None:
        await self.publisher.publish(topic, payload, timeout_s)

    def count_frame(self, action: str, outcome: str, seconds: float) -> None:
        self._metrics.ocpp_frames.labels(action or "-", outcome).inc()
        self._metrics.ocpp_reply_seconds.observe(seconds)


def _basic_password(header: str | None, device: str) -> str | None:
    """The password of an HTTP Basic ``Authorization`` header whose user is ``device``."""
    if header is None or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if user == device else None


def _bound_port(server: Server) -> int:
    for sock in server.sockets:
        return int(sock.getsockname()[1])
    raise ConfigError("CITYHUB_OCPP__PORT", "the gateway has no listening socket")
