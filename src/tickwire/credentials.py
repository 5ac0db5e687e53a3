"""API keys: resolution from argument, environment or ``.env``, and a wrapper that never prints them.

A key is held in :class:`Secret`, whose ``repr``/``str`` are masked, so a key cannot leak
through a log line, a traceback's locals or an object's repr by accident; code that must
send it calls :meth:`Secret.reveal` at the last moment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["LOCAL_KEY", "Secret", "is_local_url", "redact", "resolve_secret"]


class Secret:
    """A string that never shows itself in repr, str or logs; compare and hash by value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a secret must be a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets are not picklable")


def _dotenv_value(names: Sequence[str], path: Path) -> str | None:
    if not path.is_file():
        return None
    from dotenv import dotenv_values

    values = dotenv_values(path)
    for name in names:
        v = values.get(name)
        if v:
            return v.strip()
    return None


def resolve_secret(
    explicit: str | Secret | None,
    env_names: Sequence[str],
    dotenv_path: str | os.PathLike[str] | None = ".env",
) -> Secret | None:
    """The first of: ``explicit``, the variables ``env_names`` in order, the same names in ``.env``."""
    if isinstance(explicit, Secret):
        return explicit if explicit else None
    if explicit:
        return Secret(explicit.strip())
    for name in env_names:
        v = os.environ.get(name)
        if v and v.strip():
            return Secret(v.strip())
    if dotenv_path is not None:
        v2 = _dotenv_value(env_names, Path(dotenv_path))
        if v2:
            return Secret(v2)
    return None


def is_local_url(url: str) -> bool:
    """True for a URL on this machine (``localhost``, ``127.0.0.0/8``, ``::1``): the simulator, a
    replay or a gateway, which take any key, so none is required. A vendor host still needs one."""
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname
    except ValueError:
        return False
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


LOCAL_KEY = "local"
"""The key sent to a local server when none is configured (local servers accept any non-empty key)."""


def redact(text: str, *secrets: Secret | str | None) -> str:
    """``text`` with every occurrence of the given secrets replaced by ``****``."""
    for s in secrets:
        raw = s.reveal() if isinstance(s, Secret) else s
        if raw:
            text = text.replace(raw, "****")
    return text
