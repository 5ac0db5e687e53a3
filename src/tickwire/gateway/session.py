"""The Massive protocol served to one gateway client, sans I/O: auth with a local token, subscriptions.

Theory of operation
-------------------
A client connects to ``ws://H:P/<market>`` and is sent ``connected``; it authenticates with
``{"action":"auth","params":TOKEN}`` (a *local* token, never the vendor key; any value when the
gateway has no tokens) and gets ``auth_success``, or ``auth_failed`` and a close with 1008; it
subscribes and unsubscribes with ``{"action":"subscribe","params":"T.AAPL,AM.*"}`` and gets one
``success`` status per channel (``subscribed to: T.AAPL``; the server really says "unsubscribed
to"). Every message is the real server's (polygon.md §1.2), the same as the simulator's.

:meth:`ClientSession.handle` turns one client frame into a :class:`Reply`: the statuses to send
(one frame), a close code, and the channels added and removed, which the gateway hands to its
:class:`~tickwire.gateway.routing.Router`. Channels are validated for the market (a prefix the
cluster does not serve is an ``error`` status, as upstream would answer) and normalised
(``t.aapl`` → ``T.AAPL``), and confirmed with their normalised spelling.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgspec

from tickwire.errors import SubscriptionError
from tickwire.massive.channels import normalize_channel
from tickwire.massive.enums import Market, parse_market

__all__ = [
    "AUTH_CLOSE_CODE",
    "AUTH_TIMEOUT",
    "CONNECTED",
    "ClientSession",
    "Reply",
    "Statuses",
    "key_for",
]

CONNECTED = ("connected", "Connected Successfully")
AUTH_SUCCESS = ("auth_success", "authenticated")
AUTH_FAILED = ("auth_failed", "authentication failed")
AUTH_TIMEOUT = ("auth_timeout", "No authentication request received.")
AUTH_REQUIRED = ("auth_required", 'authentication required: send {"action":"auth","params":KEY} first')
INVALID_JSON = ("error", "Invalid JSON")
AUTH_CLOSE_CODE = 1008
"""Close code after ``auth_failed`` and ``auth_timeout``, as the real server."""

Statuses = list[tuple[str, str]]


class _Action(msgspec.Struct):
    action: str
    params: str = ""


_decode_action = msgspec.json.Decoder(_Action).decode


def key_for(market: Market | str) -> Callable[[str], str]:
    """Forex and crypto tickers come as ``EUR/USD``/``BTC-USD`` (quotes, trades) and class-prefixed
    as ``C:EURUSD``/``X:BTC-USD`` (FMV, LV, launchpad ``AM``): fold them together there, so either
    spelling of a subscription matches either spelling of an event. Elsewhere tickers are exact."""
    return _fold if parse_market(market).base in ("forex", "crypto") else _exact


def _exact(ticker: str) -> str:
    return ticker


def _fold(ticker: str) -> str:
    if ticker[:2] in ("C:", "X:"):
        ticker = ticker[2:]
    return ticker.replace("/", "")


@dataclass(slots=True)
class Reply:
    """What one client frame leads to."""

    action: str
    statuses: Statuses = field(default_factory=list)
    close_code: int | None = None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    auth: bool | None = None
    """``True``/``False`` when the frame was an auth that succeeded/failed."""


class ClientSession:
    """Auth state and channels of one gateway client. ``tokens`` ``None`` accepts any token."""

    def __init__(self, market: Market | str, tokens: Iterable[str] | None = None) -> None:
        self.market = parse_market(market)
        self._tokens = None if tokens is None else tuple(t.encode() for t in tokens)
        self.authenticated = False
        self.channels: dict[str, None] = {}  # an ordered set

    def handle(self, payload: bytes | str) -> Reply:
        """Process one client frame."""
        try:
            msg = _decode_action(payload)
        except (ValueError, RecursionError):  # malformed, invalid UTF-8, nested too deep
            return Reply("invalid", [INVALID_JSON])
        if msg.action == "auth":
            return self._auth(msg.params)
        if msg.action not in ("subscribe", "unsubscribe"):
            return Reply(msg.action, [("error", f"unknown action: {msg.action[:64]}")])
        if not self.authenticated:
            return Reply(msg.action, [AUTH_REQUIRED])
        given = [p for p in (part.strip() for part in msg.params.split(",")) if p]
        if not given:
            return Reply(msg.action, [("error", f"no channels given to {msg.action}")])
        if msg.action == "subscribe":
            return self._subscribe(given)
        return self._unsubscribe(given)

    def _accepts(self, token: str) -> bool:
        if self._tokens is None:
            return True
        given = token.encode()
        found = False
        for t in self._tokens:  # compare with every token, in constant time each
            found |= hmac.compare_digest(given, t)
        return found

    def _auth(self, token: str) -> Reply:
        if not self._accepts(token):
            return Reply("auth", [AUTH_FAILED], close_code=AUTH_CLOSE_CODE, auth=False)
        self.authenticated = True
        return Reply("auth", [AUTH_SUCCESS], auth=True)

    def _normalize(self, channel: str) -> tuple[str | None, str | None]:
        """The normalised channel, or ``None`` and the error message."""
        try:
            return normalize_channel(channel, self.market), None
        except SubscriptionError as exc:
            return None, f"{exc}: {channel[:200]}"

    def _subscribe(self, given: list[str]) -> Reply:
        out = Reply("subscribe")
        for raw in given:
            channel, error = self._normalize(raw)
            if channel is None:
                out.statuses.append(("error", error or raw))
                continue
            if channel not in self.channels:
                self.channels[channel] = None
                out.added.append(channel)
            out.statuses.append(("success", f"subscribed to: {channel}"))
        return out

    def _unsubscribe(self, given: list[str]) -> Reply:
        out = Reply("unsubscribe")
        for raw in given:
            channel, error = self._normalize(raw)
            if channel is None:
                out.statuses.append(("error", error or raw))
                continue
            if channel in self.channels:
                del self.channels[channel]
                out.removed.append(channel)
            out.statuses.append(("success", f"unsubscribed to: {channel}"))
        return out

    def forget(self, channel: str) -> bool:
        """Drop a channel upstream refused (the gateway tells the client with an ``error`` status)."""
        if channel not in self.channels:
            return False
        del self.channels[channel]
        return True
