"""Alpaca API keys: the key id and secret from arguments, the environment or ``.env``, never shown."""

from __future__ import annotations

import os

from tickwire.credentials import Secret, resolve_secret
from tickwire.errors import ConfigError

__all__ = ["KEY_ID_ENV", "LOCAL_KEY_ID", "LOCAL_SECRET_KEY", "SECRET_KEY_ENV", "resolve_keys"]

KEY_ID_ENV = ("APCA_API_KEY_ID",)
SECRET_KEY_ENV = ("APCA_API_SECRET_KEY",)
LOCAL_KEY_ID = "PKTICKWIRESIM0000001"
"""The key id sent to a local server when none is configured: the simulator's built-in test key
(public on purpose; ``tickwire.sim.alpaca`` accepts it, as a replay or gateway accepts any)."""
LOCAL_SECRET_KEY = "tickwireAlpacaSimulatorTestSecret0000000"
"""Its secret."""


def resolve_keys(
    key_id: str | Secret | None,
    secret_key: str | Secret | None,
    dotenv_path: str | os.PathLike[str] | None = ".env",
    *,
    local: bool = False,
) -> tuple[Secret, Secret]:
    """The key id and secret: arguments, else ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY`` (environment,
    then ``.env``); for a ``local`` server (the simulator, a replay), a placeholder for what is
    missing. :class:`ConfigError` saying which is missing."""
    kid = resolve_secret(key_id, KEY_ID_ENV, dotenv_path)
    secret = resolve_secret(secret_key, SECRET_KEY_ENV, dotenv_path)
    if local:
        kid, secret = kid or Secret(LOCAL_KEY_ID), secret or Secret(LOCAL_SECRET_KEY)
    missing = [n for n, v in (("APCA_API_KEY_ID", kid), ("APCA_API_SECRET_KEY", secret)) if v is None]
    if kid is None or secret is None:
        raise ConfigError(
            f"no Alpaca {' or '.join(missing)}: pass --key-id/--secret-key (key_id=/secret_key= in Python), "
            "or set them in the environment or a .env file; to try tickwire without keys, use the "
            "simulator (--sim)"
        )
    return kid, secret
