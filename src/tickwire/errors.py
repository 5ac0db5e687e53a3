"""The exception hierarchy: every error tickwire raises is a :class:`TickwireError`.

Messages say what to do; they never contain keys or secrets. Problems a stream survives
(a drop, a rejected subscription, a malformed frame) are events in the stream, not
exceptions; what is raised ends an operation.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "ConnectionLost",
    "JournalError",
    "RateLimited",
    "RestError",
    "StreamWarning",
    "SubscriptionError",
    "TLSError",
    "TickwireError",
]


class TickwireError(Exception):
    """Base of every tickwire error."""


class ConfigError(TickwireError, ValueError):
    """A bad argument: unknown market or feed, malformed channel, missing API key."""


class SubscriptionError(ConfigError):
    """A subscription request that cannot be sent: a malformed channel, or one the cluster does not
    serve. Raised before anything goes on the wire. A subscription the *server* rejects is not an
    exception but a :class:`~tickwire.events.SubscriptionRejected` event: the stream goes on."""


class AuthError(TickwireError):
    """The server rejected the credentials or the plan lacks the entitlement. Fatal: no retry."""


class TLSError(TickwireError):
    """The server's TLS certificate failed verification (unknown CA, wrong host name, expired).

    A configuration problem, not a network hiccup: fatal, never retried, and verification is never
    turned off to get past it. Trust a private or corporate CA with ``ca_file=`` / ``ssl_context=``
    (or ``SSL_CERT_FILE``)."""


class ConnectionLost(TickwireError):
    """The connection could not be restored within ``max_reconnects`` attempts."""


class StreamWarning(TickwireError):
    """Something happened to a stream that the callback client reports through ``on_error``: a
    disconnect, a reconnect (with the gap), dropped events, a malformed frame, a rejected
    subscription. ``event`` is the control event (``Disconnected``, ``Reconnected``...)."""

    def __init__(self, message: str, event: object) -> None:
        super().__init__(message)
        self.event = event


class JournalError(TickwireError):
    """A journal that cannot be read at all (not a journal, unsupported version)."""


class RestError(TickwireError):
    """The REST service answered with an error (``status`` is the HTTP status, 0 if none came)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(RestError):
    """Still rate limited (429) after every retry."""
