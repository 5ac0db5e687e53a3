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
    "DataRefused",
    "FatalStreamError",
    "JournalError",
    "LeaseLost",
    "NatsRefused",
    "NatsUnavailable",
    "PublishError",
    "RateLimited",
    "RestError",
    "SinkError",
    "StreamTaken",
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


class FatalStreamError(AuthError):
    """The server sent an error that retrying cannot fix (Alpaca 402/408/409: bad key, connection
    or subscription not allowed); ``code`` is the provider's code. Never retried."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class SinkError(TickwireError):
    """A sink cannot take what it is given (the base of the sinks' own errors)."""


class DataRefused(SinkError, ValueError):
    """A value a sink cannot store (an integer over 64 bits, a time out of range, a message over the
    server's limit...), found while converting a batch; the message names the table and column.
    Always a data error: the event goes to the dead-letter file."""


class StreamTaken(SinkError):
    """A Redis stream's top entry belongs to another journal, so this journal's ids would all be
    refused: point the sink at another prefix."""


class NatsUnavailable(SinkError, ConnectionError):
    """The NATS server cannot be reached, closed the connection or did not answer in time."""


class LeaseLost(NatsUnavailable):
    """This process no longer holds the HA lease (:mod:`tickwire.ha`): it must not publish nor
    connect upstream. (Exported by :mod:`tickwire.ha`; not in the top-level API pinned here.)"""


class NatsRefused(SinkError):
    """The server answered with an error (a JetStream API error or a refused publish); ``code`` is
    the HTTP-like status and ``err_code`` JetStream's own number (0 when not given)."""

    def __init__(self, message: str, code: int = 0, err_code: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.err_code = err_code


class PublishError(NatsRefused):
    """Some messages of a batch were refused; ``failed`` maps their index to the refusal."""

    def __init__(self, failed: dict[int, NatsRefused]) -> None:
        first = min(failed)
        why = failed[first]
        super().__init__(
            f"JetStream refused {len(failed)} message(s), the first (#{first}): {why}", why.code, why.err_code
        )
        self.failed = failed


class JournalError(TickwireError):
    """A journal that cannot be read at all (not a journal, unsupported version)."""


class RestError(TickwireError):
    """The REST service answered with an error (``status`` is the HTTP status, 0 if none came)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(RestError):
    """Still rate limited (429) after every retry."""
