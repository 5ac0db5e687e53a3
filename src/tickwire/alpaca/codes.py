"""Alpaca stream error codes (``[{"T":"error","code":N,"msg":...}]``): what each means, what to do.

``action`` is what the session does on receiving it:

* ``fatal``: stop for good with :class:`AlpacaAuthError` (retrying cannot fix the key or the plan);
* ``reconnect``: drop the connection and connect again (406 only after the reaping window);
* ``rejected``: the pending subscription change was refused (the stream goes on without it);
* ``reported``: delivered as an :class:`~tickwire.alpaca.models.AlpacaError` event, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from tickwire.errors import FatalStreamError

__all__ = ["AlpacaAuthError", "ErrorCode", "ErrorInfo", "error_info"]

Action = Literal["fatal", "reconnect", "rejected", "reported"]


class ErrorCode(IntEnum):
    INVALID_SYNTAX = 400
    NOT_AUTHENTICATED = 401
    AUTH_FAILED = 402
    ALREADY_AUTHENTICATED = 403
    AUTH_TIMEOUT = 404
    SYMBOL_LIMIT_EXCEEDED = 405
    CONNECTION_LIMIT_EXCEEDED = 406
    SLOW_CLIENT = 407
    V2_NOT_ENABLED = 408
    INSUFFICIENT_SUBSCRIPTION = 409
    INVALID_SUBSCRIBE_ACTION = 410
    INTERNAL_ERROR = 500


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """One code: the server's usual text, what it means for the user, the session's action, and the
    ``Disconnected.reason`` of a connection it ends."""

    code: int
    wire: str
    meaning: str
    action: Action
    reason: str = ""


_KEYS = (
    "check APCA_API_KEY_ID / APCA_API_SECRET_KEY (paper and live keys differ; sandbox keys need sandbox=True)"
)

_TABLE: dict[int, ErrorInfo] = {
    400: ErrorInfo(400, "invalid syntax", "the server could not parse a request (a client bug)", "reported"),
    401: ErrorInfo(
        401,
        "not authenticated",
        "the server took a request for one before authentication; reconnecting to authenticate again",
        "reconnect",
        "not_authenticated",
    ),
    402: ErrorInfo(402, "auth failed", f"the key id or secret was refused: {_KEYS}", "fatal", "auth_failed"),
    403: ErrorInfo(403, "already authenticated", "a second auth message was ignored", "reported"),
    404: ErrorInfo(
        404,
        "auth timeout",
        "no auth message within 10 s of connecting; reconnecting",
        "reconnect",
        "auth_timeout",
    ),
    405: ErrorInfo(
        405,
        "symbol limit exceeded",
        "the plan's symbol limit was reached; the subscription is unchanged",
        "rejected",
    ),
    406: ErrorInfo(
        406,
        "connection limit exceeded",
        "another connection with this key holds the slot (a second process, or a session the server "
        "has not reaped yet: ~90 s); reconnecting after the reaping window",
        "reconnect",
        "connection_limit",
    ),
    407: ErrorInfo(
        407,
        "slow client",
        "this client read too slowly and the server dropped it; reconnecting",
        "reconnect",
        "slow_consumer",
    ),
    408: ErrorInfo(
        408,
        "v2 not enabled",
        "the account has no access to the v2 market-data stream: enable it in the Alpaca dashboard",
        "fatal",
        "v2_not_enabled",
    ),
    409: ErrorInfo(
        409,
        "insufficient subscription",
        "the plan does not include this feed (SIP and OPRA need a paid plan; use iex or indicative), "
        "or the key is for another product",
        "fatal",
        "insufficient_subscription",
    ),
    410: ErrorInfo(
        410,
        "invalid subscribe action for this feed",
        "this stream does not serve that channel (e.g. orderbooks on stocks); the change is refused",
        "rejected",
    ),
    500: ErrorInfo(500, "internal error", "the server failed; the stream goes on", "reported"),
}


def error_info(code: int, message: str = "") -> ErrorInfo:
    """What ``code`` means; an unknown code is reported as it came."""
    found = _TABLE.get(code)
    if found is not None:
        return found
    return ErrorInfo(code, message, f"unknown error code {code}", "reported")


AlpacaAuthError = FatalStreamError
"""The Alpaca name of :class:`~tickwire.errors.FatalStreamError`."""
