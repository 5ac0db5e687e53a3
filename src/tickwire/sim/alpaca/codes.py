"""Alpaca's stream error codes with their exact wire messages (spec §B2), and which end the session.

The server answers ``[{"T":"error","code":N,"msg":"…"}]``. The codes that make the simulator
close the connection after the frame are those after which the real service has nothing more to
say to the client (authentication could not complete, the slot is taken, the client is too slow);
the others leave the session as it was. Which codes close is partly inference [INF]: the spec
names the messages, not the close behaviour.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["CLOSE_CODE", "CLOSING", "ErrorCode"]


class ErrorCode(IntEnum):
    """An Alpaca stream error code; :attr:`message` is its text on the wire."""

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

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    ErrorCode.INVALID_SYNTAX: "invalid syntax",
    ErrorCode.NOT_AUTHENTICATED: "not authenticated",
    ErrorCode.AUTH_FAILED: "auth failed",
    ErrorCode.ALREADY_AUTHENTICATED: "already authenticated",
    ErrorCode.AUTH_TIMEOUT: "auth timeout",
    ErrorCode.SYMBOL_LIMIT_EXCEEDED: "symbol limit exceeded",
    ErrorCode.CONNECTION_LIMIT_EXCEEDED: "connection limit exceeded",
    ErrorCode.SLOW_CLIENT: "slow client",
    ErrorCode.V2_NOT_ENABLED: "v2 not enabled",
    ErrorCode.INSUFFICIENT_SUBSCRIPTION: "insufficient subscription",
    ErrorCode.INVALID_SUBSCRIBE_ACTION: "invalid subscribe action for this feed",
    ErrorCode.INTERNAL_ERROR: "internal error",
}

CLOSING = frozenset(
    {
        ErrorCode.AUTH_FAILED,
        ErrorCode.AUTH_TIMEOUT,
        ErrorCode.CONNECTION_LIMIT_EXCEEDED,
        ErrorCode.SLOW_CLIENT,
        ErrorCode.V2_NOT_ENABLED,
        ErrorCode.INSUFFICIENT_SUBSCRIPTION,
    }
)
"""Codes after which the simulator closes the connection."""

CLOSE_CODE = 1008
"""The WebSocket close code sent after a closing error (policy violation) [INF]."""
