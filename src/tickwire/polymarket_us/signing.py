"""Polymarket US request signing: Ed25519 over ``timestamp_ms + METHOD + path``.

The WebSocket endpoints authenticate only at the HTTP upgrade, with three headers
(``X-PM-Access-Key``, ``X-PM-Timestamp`` in ms, ``X-PM-Signature`` = padded base64 of the
64-byte signature). The secret is the base64 of a 32-byte Ed25519 seed, or of 64 bytes
(seed then public key, as the portal hands them out); both give the same signature.
The secret lives in a :class:`~tickwire.credentials.Secret` and in the private key
object only: it never appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tickwire.credentials import Secret, resolve_secret
from tickwire.errors import ConfigError

__all__ = [
    "KEY_ID_ENV",
    "MAX_SKEW_MS",
    "SECRET_ENV",
    "Credentials",
    "Signer",
    "public_key_b64",
    "sign_message",
    "verify_signature",
]

KEY_ID_ENV = ("POLYMARKET_KEY_ID",)
SECRET_ENV = ("POLYMARKET_SECRET_KEY",)
MAX_SKEW_MS = 30_000
"""The server accepts a timestamp at most 30 s away from its clock."""


def _private_key(secret: Secret) -> Ed25519PrivateKey:
    """The Ed25519 key of a base64 secret (32-byte seed, or 64 bytes seed+public)."""
    try:
        raw = base64.b64decode(secret.reveal().strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("the Polymarket secret key is not valid base64") from None
    if len(raw) == 64:
        raw = raw[:32]
    if len(raw) != 32:
        raise ConfigError(
            f"the Polymarket secret key decodes to {len(raw)} bytes; expected a 32-byte Ed25519 seed "
            "or the 64-byte seed+public key from the portal"
        )
    return Ed25519PrivateKey.from_private_bytes(raw)


def sign_message(secret: Secret | str, message: str) -> str:
    """The padded base64 Ed25519 signature of ``message`` (UTF-8) with ``secret``."""
    key = _private_key(secret if isinstance(secret, Secret) else Secret(secret))
    return base64.b64encode(key.sign(message.encode())).decode()


def public_key_b64(secret: Secret | str) -> str:
    """The base64 public key of a secret (what the portal shows, what a server verifies with)."""
    key = _private_key(secret if isinstance(secret, Secret) else Secret(secret))
    return base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def verify_signature(public_key: str | bytes, timestamp: str, method: str, path: str, signature: str) -> bool:
    """Whether ``signature`` signs ``timestamp + method + path`` for ``public_key`` (base64 or raw)."""
    try:
        raw = public_key if isinstance(public_key, bytes) else base64.b64decode(public_key, validate=True)
        sig = base64.b64decode(signature, validate=True)
        Ed25519PublicKey.from_public_bytes(raw).verify(sig, f"{timestamp}{method}{path}".encode())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class Credentials:
    """A key id and its secret; the secret stays masked in reprs."""

    key_id: str
    secret: Secret

    @classmethod
    def resolve(
        cls,
        key_id: str | None = None,
        secret_key: str | Secret | None = None,
        dotenv_path: str | os.PathLike[str] | None = ".env",
    ) -> Credentials:
        """From the arguments, else ``POLYMARKET_KEY_ID``/``POLYMARKET_SECRET_KEY`` (env or ``.env``)."""
        kid = resolve_secret(key_id, KEY_ID_ENV, dotenv_path)
        secret = resolve_secret(secret_key, SECRET_ENV, dotenv_path)
        missing = [name for name, v in (("key_id", kid), ("secret_key", secret)) if v is None]
        if missing or kid is None or secret is None:
            raise ConfigError(
                f"no Polymarket US {' and '.join(missing)}: pass key_id= and secret_key=, or set "
                "POLYMARKET_KEY_ID and POLYMARKET_SECRET_KEY in the environment or a .env file "
                "(keys come from the Polymarket US developer portal)"
            )
        creds = cls(kid.reveal(), secret)
        _private_key(secret)  # fail now on a malformed secret, not at the first connection
        return creds


class Signer:
    """Signs requests with one key: ``headers(now, "GET", "/v1/ws/markets")`` per connection attempt."""

    __slots__ = ("_key", "key_id")

    def __init__(self, credentials: Credentials) -> None:
        self.key_id = credentials.key_id
        self._key = _private_key(credentials.secret)

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"

    def sign(self, message: str) -> str:
        return base64.b64encode(self._key.sign(message.encode())).decode()

    def headers(self, now: float, method: str, path: str) -> dict[str, str]:
        """The three auth headers for a request at Unix time ``now`` (seconds) to ``path`` (no query)."""
        ts = str(int(now * 1000))
        return {
            "X-PM-Access-Key": self.key_id,
            "X-PM-Timestamp": ts,
            "X-PM-Signature": self.sign(ts + method.upper() + path.split("?", 1)[0]),
        }
