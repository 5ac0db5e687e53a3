"""The exception hierarchy. Messages say what to do; they never contain keys or secrets."""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "ConnectionLost",
    "HandshakeError",
    "SlowConsumer",
    "StreamWarning",
    "SubscriptionError",
    "TLSError",
    "TickwireError",
]


class TickwireError(Exception):
    """Base of every tickwire error."""


class ConfigError(TickwireError, ValueError):
    """A bad argument: unknown market or feed, malformed channel, missing API key."""


class AuthError(TickwireError):
    """The server rejected the credentials or the plan lacks the entitlement. Fatal: no retry."""


class HandshakeError(TickwireError):
    """The WebSocket upgrade was refused (HTTP status other than 101)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TLSError(TickwireError):
    """The server's TLS certificate failed verification (unknown CA, wrong host name, expired).

    A configuration problem, not a network hiccup: fatal, never retried, and verification is never
    turned off to get past it. Trust a private or corporate CA with ``ca_file=`` / ``ssl_context=``
    (or ``SSL_CERT_FILE``)."""


class SubscriptionError(TickwireError):
    """A subscription request is malformed or was rejected."""


class ConnectionLost(TickwireError):
    """The connection could not be restored within ``max_reconnects`` attempts."""


class SlowConsumer(TickwireError):
    """The consumer fell behind and the ``disconnect`` overflow policy was chosen."""


class StreamWarning(TickwireError):
    """Something happened to a stream that the callback client reports through ``on_error``: a
    disconnect, a reconnect (with the gap), dropped events, a malformed frame, a rejected
    subscription. ``event`` is the control event (``Disconnected``, ``Reconnected``...)."""

    def __init__(self, message: str, event: object) -> None:
        super().__init__(message)
        self.event = event
