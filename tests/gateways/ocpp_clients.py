"""Charge points for the gateway tests: the ``ocpp`` package's own ChargePoint client classes
over a real WebSocket (``websockets``), as a real charger's firmware would use them."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import websockets
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v201 import ChargePoint as ChargePoint201


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat().replace("+00:00", "Z")


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@contextlib.asynccontextmanager
async def connected(
    url: str, cp_id: str, version: str = "1.6", password: str | None = None
) -> AsyncIterator[ChargePoint16 | ChargePoint201]:
    """A charge point connected to the gateway, its receive loop running."""
    headers = basic(cp_id, password) if password is not None else None
    async with websockets.connect(
        f"{url}/ocpp/{cp_id}", subprotocols=[f"ocpp{version}"], additional_headers=headers
    ) as connection:
        kind = ChargePoint16 if version == "1.6" else ChargePoint201
        station = kind(cp_id, connection, response_timeout=15)
        loop = asyncio.create_task(station.start())
        try:
            yield station
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await loop
