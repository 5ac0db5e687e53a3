"""Alpaca market-data events: readable names, Unix-nanosecond times, one class per message type.

The wire's one-letter keys (``S``, ``p``, ``s``, ``x``, ``c``, ``z``, ``t``) become ``symbol``,
``price``, ``size``, ``exchange``, ``conditions``, ``tape`` and ``timestamp``; ``timestamp`` is an
``int`` of Unix nanoseconds whether the wire sent an RFC 3339 string (JSON) or a msgpack Timestamp,
and :attr:`AlpacaEvent.datetime` gives it as an aware ``datetime``. The ``ev`` tags are the wire's
``T`` values (``"t"``, ``"q"``, ``"b"``...), so ``client.on("t", fn)`` takes trades. Stocks, crypto
and options share the classes; fields a stream does not send are ``None``/empty (crypto trades
have ``taker_side``, options trades a single condition, kept as a one-element list).

Control events of the protocol: :class:`AlpacaError` (every error frame, with its code's meaning),
:class:`SubscriptionAck` (the full set the server confirmed) and :class:`BookCrossed`.
"""

from __future__ import annotations

import datetime as _dt
from typing import ClassVar

import msgspec

from tickwire.events import ControlEvent, Event

__all__ = [
    "AlpacaError",
    "AlpacaEvent",
    "Bar",
    "BookCrossed",
    "BookLevel",
    "CancelError",
    "Correction",
    "DailyBar",
    "Imbalance",
    "Luld",
    "News",
    "OrderBook",
    "Quote",
    "SubscriptionAck",
    "Trade",
    "TradingStatus",
    "UpdatedBar",
]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


class AlpacaEvent(Event, kw_only=True):
    """Base of the market-data events: ``symbol`` and ``timestamp`` (Unix ns; 0 when the wire had none)."""

    _time_attr: ClassVar[str] = "timestamp"

    symbol: str
    timestamp: int = 0

    @property
    def datetime(self) -> _dt.datetime:
        """``timestamp`` as an aware UTC ``datetime`` (microsecond precision; the int keeps the ns)."""
        return _EPOCH + _dt.timedelta(microseconds=self.timestamp // 1000)


class Trade(AlpacaEvent, tag="t", kw_only=True):
    """A trade (``T: "t"``). ``size`` is shares (stocks), coins (crypto) or contracts (options)."""

    price: float
    size: float
    id: int | None = None
    exchange: str | None = None
    conditions: list[str] = msgspec.field(default_factory=list)
    tape: str | None = None
    taker_side: str | None = None  # crypto: "B" (buyer took) or "S"


class Quote(AlpacaEvent, tag="q", kw_only=True):
    """A top-of-book quote (``T: "q"``); stock sizes are in round lots."""

    bid_price: float
    bid_size: float
    ask_price: float
    ask_size: float
    bid_exchange: str | None = None
    ask_exchange: str | None = None
    conditions: list[str] = msgspec.field(default_factory=list)
    tape: str | None = None


class Bar(AlpacaEvent, tag="b", kw_only=True):
    """A minute bar (``T: "b"``); ``timestamp`` is the bar's start."""

    open: float
    high: float
    low: float
    close: float
    volume: float
    trade_count: int | None = None
    vwap: float | None = None


class UpdatedBar(Bar, tag="u", kw_only=True):
    """A minute bar corrected by a late trade (``T: "u"``), sent after the next :30 mark."""


class DailyBar(Bar, tag="d", kw_only=True):
    """The day's bar so far (``T: "d"``), sent every minute after the open."""


class TradingStatus(AlpacaEvent, tag="s", kw_only=True):
    """A trading status (halt, resume...) of a stock (``T: "s"``)."""

    status_code: str = ""
    status_message: str = ""
    reason_code: str = ""
    reason_message: str = ""
    tape: str | None = None


class Luld(AlpacaEvent, tag="l", kw_only=True):
    """Limit up / limit down price bands (``T: "l"``)."""

    limit_up: float
    limit_down: float
    indicator: str | None = None
    tape: str | None = None


class Correction(AlpacaEvent, tag="c", kw_only=True):
    """A trade correction (``T: "c"``): the original trade and what it was corrected to."""

    exchange: str | None = None
    original_id: int | None = None
    original_price: float | None = None
    original_size: float | None = None
    original_conditions: list[str] = msgspec.field(default_factory=list)
    corrected_id: int | None = None
    corrected_price: float | None = None
    corrected_size: float | None = None
    corrected_conditions: list[str] = msgspec.field(default_factory=list)
    tape: str | None = None


class CancelError(AlpacaEvent, tag="x", kw_only=True):
    """A trade cancelled or marked erroneous (``T: "x"``); ``action`` is ``"C"`` or ``"E"``."""

    id: int | None = None
    exchange: str | None = None
    price: float | None = None
    size: float | None = None
    action: str | None = None
    tape: str | None = None


class Imbalance(AlpacaEvent, tag="i", kw_only=True):
    """An order imbalance (``T: "i"``) around an auction."""

    price: float | None = None
    tape: str | None = None


class BookLevel(msgspec.Struct, frozen=True, gc=False):
    """One price level: ``price`` and ``size`` (0 on an update: the level is gone)."""

    price: float
    size: float


class OrderBook(AlpacaEvent, tag="o", kw_only=True):
    """A crypto order book message (``T: "o"``): a full snapshot when ``reset``, else changed levels.

    As decoded, the levels are those of the message in wire order; the client's book keeper
    (:class:`~tickwire.alpaca.book.OrderBooks`) maintains the whole book best first, and marks a
    message that would cross it (``crossed``, with a :class:`BookCrossed` after it) without applying it.
    """

    bids: list[BookLevel] = msgspec.field(default_factory=list)
    asks: list[BookLevel] = msgspec.field(default_factory=list)
    reset: bool = False
    crossed: bool = False


class News(AlpacaEvent, tag="n", kw_only=True):
    """A news article (``T: "n"``). ``symbol`` is the first of ``symbols`` (``""`` when none);
    ``timestamp`` is ``created_at``."""

    id: int
    headline: str = ""
    summary: str = ""
    author: str = ""
    content: str = ""
    url: str | None = None
    source: str = ""
    symbols: list[str] = msgspec.field(default_factory=list)
    created_at: int = 0
    updated_at: int = 0


class AlpacaError(ControlEvent, tag="alpaca_error", kw_only=True):
    """An error frame (``{"T":"error","code":N,"msg":...}``) with what the code means and what the
    client does about it (``action``: ``"fatal"``, ``"reconnect"``, ``"rejected"``, ``"reported"``)."""

    code: int
    message: str
    meaning: str = ""
    action: str = "reported"


class SubscriptionAck(ControlEvent, tag="subscription", kw_only=True):
    """The server's full subscription set after a change: channel → symbols (``corrections`` and
    ``cancelErrors`` included as the server lists them)."""

    channels: dict[str, list[str]] = msgspec.field(default_factory=dict)


class BookCrossed(ControlEvent, tag="book_crossed", kw_only=True):
    """An order book message that would leave the best bid at or above the best ask: not applied."""

    symbol: str
    best_bid: float
    best_ask: float
    timestamp: int = 0
