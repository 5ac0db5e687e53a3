"""Fault policies that live outside a single connection: refused upgrades, a plan's entitlements.

Connection-level faults (drop, close, mute, raw frames, statuses, slow consumer) are methods of
the simulator itself; this module keeps the small state machine that decides, for each new
handshake, whether to answer with an HTTP error instead of ``101 Switching Protocols``, and
:class:`Entitlements`: the channels a key's plan does not include, refused at every subscribe
(as the real service does on every connection, so a client that re-sends them is seen to).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DENIED_MESSAGE", "Entitlements", "HandshakeGate"]

_REASONS = {
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
}


@dataclass(slots=True)
class HandshakeGate:
    """Refuse the next ``remaining`` upgrades (``None``: all of them) with HTTP ``status``."""

    status: int = 503
    remaining: int | None = 0
    body: bytes = b""

    def refuse(self, status: int = 503, count: int | None = None, body: bytes | None = None) -> None:
        if status < 400:
            raise ValueError(f"an HTTP error status (>= 400) is needed to refuse a handshake, not {status}")
        if count is not None and count < 0:
            raise ValueError("count must be >= 0 or None")
        self.status = status
        self.remaining = count
        self.body = body if body is not None else _REASONS.get(status, b"refused by simulator")

    def accept(self) -> None:
        self.remaining = 0

    def take(self) -> int | None:
        """The status to refuse this handshake with, or ``None`` to accept it."""
        if self.remaining is None:
            return self.status
        if self.remaining > 0:
            self.remaining -= 1
            return self.status
        return None


DENIED_MESSAGE = "not authorized: your plan does not include {channel}; see https://massive.com/pricing"
"""The ``error`` status a denied subscription gets (``{channel}`` is filled in)."""


@dataclass(slots=True)
class Entitlements:
    """Channels the plan lacks: a prefix (``"Q"``: every quote channel) or an exact channel
    (``"T.AAPL"``). ``message`` is the status text, ``{channel}`` filled in (leave it out to
    answer the way a server naming no channel would)."""

    denied: set[str] = field(default_factory=set)
    message: str = DENIED_MESSAGE

    def deny(self, *patterns: str, message: str | None = None) -> None:
        self.denied.update(p.strip() for p in patterns if p.strip())
        if message is not None:
            self.message = message

    def allow(self, *patterns: str) -> None:
        """Allow ``patterns`` again (none given: everything)."""
        if patterns:
            self.denied.difference_update(patterns)
        else:
            self.denied.clear()

    def check(self, channel: str) -> str | None:
        """The refusal of ``channel``, or ``None`` if the plan includes it."""
        if not self.denied:
            return None
        prefix = channel.partition(".")[0]
        if channel in self.denied or prefix in self.denied:
            return self.message.replace("{channel}", channel)
        return None
