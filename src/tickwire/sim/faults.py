"""Fault policies that live outside a single connection: refusing WebSocket upgrades.

Connection-level faults (drop, close, mute, raw frames, statuses, slow consumer) are methods of
the simulator itself; this module keeps the small state machine that decides, for each new
handshake, whether to answer with an HTTP error instead of ``101 Switching Protocols``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HandshakeGate"]

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
