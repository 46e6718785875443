"""Per-charger passwords of OCPP security profiles 1 and 2 (HTTP Basic auth), kept hashed.

A hash is ``scrypt$<n>$<r>$<p>$<salt hex>$<key hex>`` (hashlib's scrypt, a memory-hard key
derivation made for passwords). ``python -m hub.gateways.ocpp.passwords <password>`` prints
one for ``CITYHUB_OCPP__PASSWORD_HASHES``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys

__all__ = ["hash_password", "verify_password"]

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time); a malformed hash is False."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(key) // 2, maxmem=256 * 1024 * 1024,
        )  # fmt: skip
    except ValueError:
        return False
    return hmac.compare_digest(derived.hex(), key)


def check_hash(stored: str) -> bool:
    """Whether ``stored`` has the shape :func:`hash_password` writes."""
    parts = stored.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(parts[1:])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m hub.gateways.ocpp.passwords <password>")
    print(hash_password(sys.argv[1]))
