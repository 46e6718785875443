"""Charger passwords are kept as scrypt hashes and checked in constant time."""

from __future__ import annotations

import pytest

from hub.devices import DeviceRegistry
from hub.errors import ConfigError
from hub.gateways.ocpp import OcppGateway
from hub.gateways.ocpp.passwords import hash_password, verify_password
from hub.metrics import HubMetrics
from hub.settings import MqttSettings, OcppSettings


def test_hash_verifies_its_password_only() -> None:
    stored = hash_password("s3cret")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert stored != hash_password("s3cret")  # salted
    assert verify_password("s3cret", stored)
    assert not verify_password("s3cret!", stored)
    assert not verify_password("s3cret", "scrypt$1$2$3$zz$zz")
    assert not verify_password("s3cret", "md5$abc")


def test_a_malformed_hash_is_a_configuration_error_naming_the_setting() -> None:
    settings = OcppSettings(enabled=True, password_hashes={"CP-1": "plaintext"})
    with pytest.raises(ConfigError) as caught:
        OcppGateway(settings, MqttSettings(), DeviceRegistry({"CP-1": {}}), HubMetrics())
    assert caught.value.setting == "CITYHUB_OCPP__PASSWORD_HASHES"
