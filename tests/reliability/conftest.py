"""Hubs a failing test leaves running are killed at teardown (a tmpfs under a live hub
cannot be unmounted cleanly, and a stray hub holds its broker session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import HubProcess


@pytest.fixture
def cleanup() -> Iterator[list[HubProcess]]:
    hubs: list[HubProcess] = []
    yield hubs
    for hub in hubs:
        if hub.process is not None and hub.process.poll() is None:
            hub.kill()
