"""Who may talk to the dashboard: the ``Host`` it is asked for, the ``Origin`` of a WebSocket, a token.

* **Host** (DNS rebinding): a page on ``evil.example`` can re-point its own name at 127.0.0.1 and
  read a local server as same-origin; its requests still say ``Host: evil.example``. So only
  these names are served: ``localhost`` (and ``*.localhost``), loopback addresses, the address the
  server is bound to (any IP address when bound to ``0.0.0.0``/``::``: an address typed by the user
  is not a rebinding), and the names given with ``allow_hosts`` (``"*"``: any, e.g. behind a
  reverse proxy that checks it).
* **Origin** on ``/ws``: browsers send it on every WebSocket handshake; it must be this page's own
  (scheme ``http(s)``, same host and port as ``Host``). A client that sends none is not a browser
  (so no other site's script) and is let through.
* **Token** (optional): every request must carry it, as ``?token=`` or ``Authorization: Bearer``;
  compared in constant time, never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping

from yarl import URL

__all__ = ["AccessPolicy", "Refusal"]

_WILDCARD = {"", "0.0.0.0", "::"}
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class Refusal:
    """Why a request is refused: the HTTP ``status`` and a short ``reason`` (with no secret in it)."""

    __slots__ = ("kind", "reason", "status")

    def __init__(self, status: int, kind: str, reason: str) -> None:
        self.status = status
        self.kind = kind  # host | origin | token: the label of the refusal counter
        self.reason = reason


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``"[::1]:8050"`` → ``("::1", 8050)``, ``"Localhost."`` → ``("localhost", None)``; None if malformed."""
    value = value.strip().lower()
    port: str | None = None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    elif value.count(":") == 1:
        name, port = value.split(":")
    elif ":" in value:  # a bare IPv6 address is not a valid Host; refuse rather than guess
        return None
    else:
        name = value
    name = name.rstrip(".")
    if not name:
        return None
    if port is None:
        return name, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return name, int(port)


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


class AccessPolicy:
    """Decide whether a request may be served (see the module docstring).

    :param host: the address the server is bound to.
    :param allow_hosts: more ``Host`` names to serve (``"*"``: any).
    :param token: when set, required on every request.
    """

    def __init__(self, host: str, *, allow_hosts: Iterable[str] = (), token: str | None = None) -> None:
        bound = host.strip().lower().strip("[]")
        self._any_ip = bound in _WILDCARD
        self._names = {bound} | {h.strip().lower().rstrip(".") for h in allow_hosts if h.strip()}
        self._any_host = "*" in self._names
        if token is not None and not token:
            raise ValueError("the dashboard token must not be empty")
        self._token = token.encode() if token is not None else None

    @property
    def token_required(self) -> bool:
        return self._token is not None

    def host_allowed(self, host_header: str | None) -> bool:
        """Whether ``Host: host_header`` names this server (not a rebinding)."""
        if host_header is None:
            return False
        parsed = _split_host(host_header)
        if parsed is None:
            return False
        name = parsed[0]
        if self._any_host or name in self._names or name == "localhost" or name.endswith(".localhost"):
            return True
        ip = _ip(name)
        return ip is not None and (ip.is_loopback or self._any_ip)

    @staticmethod
    def origin_allowed(origin: str | None, host_header: str | None) -> bool:
        """Whether a WebSocket from ``origin`` is same-origin with ``Host: host_header``."""
        if origin is None:
            return True  # not a browser: no other site's script can be behind it
        if host_header is None:
            return False
        try:
            url = URL(origin)
        except ValueError:
            return False
        scheme = (url.scheme or "").lower()
        if scheme not in ("http", "https") or not url.host or url.path not in ("", "/"):
            return False
        target = _split_host(host_header)
        if target is None:
            return False
        name, port = target
        origin_port = url.port if url.port is not None else _DEFAULT_PORTS[scheme]
        wanted_port = port if port is not None else _DEFAULT_PORTS[scheme]
        return url.host.lower().strip("[]").rstrip(".") == name and origin_port == wanted_port

    def token_ok(self, query: Mapping[str, str], authorization: str | None) -> bool:
        """Whether the request carries the token (``?token=`` or ``Authorization: Bearer``)."""
        wanted = self._token
        if wanted is None:
            return True
        given = query.get("token")
        if given is None and authorization is not None:
            scheme, _, value = authorization.strip().partition(" ")
            if scheme.lower() == "bearer":
                given = value.strip()
        if given is None:
            return False
        return hmac.compare_digest(given.encode(), wanted)

    def refusal(
        self,
        *,
        path: str,
        host: str | None,
        origin: str | None,
        query: Mapping[str, str],
        authorization: str | None,
    ) -> Refusal | None:
        """None if the request may be served, else why not."""
        if not self.host_allowed(host):
            return Refusal(403, "host", "this server does not answer to that Host name (see --allow-host)")
        if path == "/ws" and not self.origin_allowed(origin, host):
            return Refusal(403, "origin", "WebSocket from another origin")
        if not self.token_ok(query, authorization):
            return Refusal(401, "token", "a token is required: ?token= or Authorization: Bearer")
        return None
