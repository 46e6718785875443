"""The broker configuration ships inside the package; the compose stack mounts deploy/'s copy.
They must not drift apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.broker import BROKER_ACL, BROKER_CONFIG

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"


@pytest.mark.parametrize(
    ("shipped", "name"), [(BROKER_CONFIG, "mosquitto.conf"), (BROKER_ACL, "acl")]
)
def test_shipped_broker_files_are_deploys_copies(shipped, name: str) -> None:
    assert shipped.read_text() == (DEPLOY / name).read_text(), (
        f"hub/broker_config/{name} and deploy/mosquitto/{name} differ: copy one over the other"
    )
