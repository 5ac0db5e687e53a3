"""One Alpaca connection's protocol state, without I/O: client messages, subscriptions, the ack.

A client message is ``{"action": "auth" | "subscribe" | "unsubscribe", ...}`` in the connection's
encoding; anything else is a 400 (invalid syntax). Subscribe adds to the current set, unsubscribe
removes from it; a channel the feed does not serve (``orderbooks`` on a stock feed, or the
``corrections``/``cancelErrors`` that follow ``trades``) is a 410 and changes nothing, like a
request that would pass the symbol limit (405, trade and quote symbols counted; bars are
unlimited). Each change is acked with the **full** set, ``corrections`` and ``cancelErrors``
mirroring ``trades`` on stock feeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from tickwire.sim.alpaca.codes import ErrorCode
from tickwire.sim.alpaca.feeds import CONTROL_CHANNELS, Feed
from tickwire.sim.alpaca.wire import Encoding

__all__ = ["ClientMessage", "Request", "Subscriptions", "parse_message"]

_LIMITED = ("trades", "quotes")


class ClientMessage(msgspec.Struct, forbid_unknown_fields=True):
    """Every field a client message may carry (a channel: a list of symbols, ``*`` for all)."""

    action: str
    key: str | None = None
    secret: str | None = None
    trades: list[str] | None = None
    quotes: list[str] | None = None
    bars: list[str] | None = None
    updatedBars: list[str] | None = None
    dailyBars: list[str] | None = None
    statuses: list[str] | None = None
    lulds: list[str] | None = None
    imbalances: list[str] | None = None
    orderbooks: list[str] | None = None
    news: list[str] | None = None
    corrections: list[str] | None = None
    cancelErrors: list[str] | None = None


_CHANNEL_FIELDS = tuple(f for f in ClientMessage.__struct_fields__ if f not in ("action", "key", "secret"))
_JSON = msgspec.json.Decoder(ClientMessage)
_MSGPACK = msgspec.msgpack.Decoder(ClientMessage)


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed client message: its action, credentials (auth) and channels ((un)subscribe)."""

    action: str
    key: str | None
    secret: str | None
    channels: dict[str, tuple[str, ...]]


def parse_message(payload: bytes, encoding: Encoding) -> Request | None:
    """The request in ``payload``, or ``None`` when it is not a well-formed client message (400)."""
    try:
        msg = _JSON.decode(payload) if encoding == "json" else _MSGPACK.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    channels = {name: tuple(value) for name in _CHANNEL_FIELDS if (value := getattr(msg, name)) is not None}
    if msg.action not in ("auth", "subscribe", "unsubscribe"):
        return None
    return Request(msg.action, msg.key, msg.secret, channels)


class Subscriptions:
    """A connection's channels → symbols, in the order they were subscribed."""

    def __init__(self, feed: Feed, symbol_limit: int | None = None) -> None:
        self.feed = feed
        self.symbol_limit = symbol_limit
        self._subs: dict[str, list[str]] = {c: [] for c in feed.channels}

    def check(self, channels: dict[str, tuple[str, ...]]) -> ErrorCode | None:
        """Whether every channel is one this feed serves (else 410)."""
        for name in channels:
            if name in CONTROL_CHANNELS or name not in self.feed.channels:
                return ErrorCode.INVALID_SUBSCRIBE_ACTION
        return None

    def subscribe(
        self, channels: dict[str, tuple[str, ...]]
    ) -> tuple[ErrorCode | None, dict[str, list[str]]]:
        """Add ``channels``: ``(error, the symbols newly added per channel)``; on error nothing changes."""
        error = self.check(channels)
        if error is not None:
            return error, {}
        added: dict[str, list[str]] = {}
        for name, symbols in channels.items():
            have = self._subs[name]
            new = [s for s in dict.fromkeys(symbols) if s not in have]
            if new:
                added[name] = new
        if self.symbol_limit is not None:
            count = sum(len(self._subs[c]) + len(added.get(c, ())) for c in _LIMITED if c in self._subs)
            if count > self.symbol_limit:
                return ErrorCode.SYMBOL_LIMIT_EXCEEDED, {}
        for name, new in added.items():
            self._subs[name].extend(new)
        return None, added

    def unsubscribe(self, channels: dict[str, tuple[str, ...]]) -> ErrorCode | None:
        """Remove ``channels`` (symbols not subscribed are ignored)."""
        error = self.check(channels)
        if error is not None:
            return error
        for name, symbols in channels.items():
            gone = set(symbols)
            self._subs[name] = [s for s in self._subs[name] if s not in gone]
        return None

    def current(self) -> dict[str, frozenset[str]]:
        """Channel → symbols, for the data pump (channels without symbols left out)."""
        return {c: frozenset(v) for c, v in self._subs.items() if v}

    def ack(self) -> dict[str, Any]:
        """The full-set ``subscription`` item of this feed."""
        out: dict[str, Any] = {"T": "subscription"}
        for name in self.feed.ack_channels:
            source = "trades" if name in CONTROL_CHANNELS else name
            out[name] = list(self._subs[source])
        return out

    def snapshot(self) -> dict[str, tuple[str, ...]]:
        """The subscribed channels and symbols (non-empty channels only), for observation."""
        return {c: tuple(v) for c, v in self._subs.items() if v}
