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
import sys
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import msgspec

from tickwire.alpaca.wire import Conditions, TimeValue
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


class AlpacaEvent(Event, tag_field="T", kw_only=True):
    """Base of the market-data events: ``symbol`` and ``timestamp`` (Unix ns; 0 when the wire had none).

    Each field is named for reading and encoded under its wire key (``symbol`` as ``S``, ``price``
    as ``p``...), tagged by ``T`` like the wire, so a frame decodes straight into these classes in
    one msgspec call, and ``to_builtins()`` gives a message in Alpaca's own form. As decoded,
    ``timestamp`` briefly holds the wire's time value (an RFC 3339 string, a msgpack Timestamp);
    the decoder makes it int ns before an event leaves it (:func:`tickwire.alpaca.wire.time_of`).
    """

    _time_attr: ClassVar[str] = "timestamp"
    _field_types: ClassVar[dict[str, Any]] = {"timestamp": int}
    """What the fields declared wider than they hold contain once decoded (for the tables)."""

    symbol: str = msgspec.field(name="S")
    if TYPE_CHECKING:
        timestamp: int = 0
    else:
        timestamp: TimeValue = msgspec.field(default=0, name="t")

    @property
    def datetime(self) -> _dt.datetime:
        """``timestamp`` as an aware UTC ``datetime`` (microsecond precision; the int keeps the ns)."""
        return _EPOCH + _dt.timedelta(microseconds=self.timestamp // 1000)


_TAPE = msgspec.field(default=None, name="z")


class Trade(AlpacaEvent, tag="t", kw_only=True):
    """A trade (``T: "t"``). ``size`` is shares (stocks), coins (crypto) or contracts (options)."""

    _field_types: ClassVar[dict[str, Any]] = {"timestamp": int, "conditions": list[str]}

    price: float = msgspec.field(name="p")
    size: float = msgspec.field(name="s")
    id: int | None = msgspec.field(default=None, name="i")
    exchange: str | None = msgspec.field(default=None, name="x")
    if TYPE_CHECKING:
        conditions: list[str] = msgspec.field(default_factory=list)
    else:  # options send one condition as a string: the decoder makes it a one-element list
        conditions: Conditions = msgspec.field(default_factory=list, name="c")
    tape: str | None = _TAPE
    taker_side: str | None = msgspec.field(default=None, name="tks")  # crypto: "B" (buyer took) or "S"


class Quote(AlpacaEvent, tag="q", kw_only=True):
    """A top-of-book quote (``T: "q"``); stock sizes are in round lots."""

    _field_types: ClassVar[dict[str, Any]] = {"timestamp": int, "conditions": list[str]}

    bid_price: float = msgspec.field(default=0.0, name="bp")
    bid_size: float = msgspec.field(default=0.0, name="bs")
    ask_price: float = msgspec.field(default=0.0, name="ap")
    ask_size: float = msgspec.field(default=0.0, name="as")
    bid_exchange: str | None = msgspec.field(default=None, name="bx")
    ask_exchange: str | None = msgspec.field(default=None, name="ax")
    if TYPE_CHECKING:
        conditions: list[str] = msgspec.field(default_factory=list)
    else:
        conditions: Conditions = msgspec.field(default_factory=list, name="c")
    tape: str | None = _TAPE


class Bar(AlpacaEvent, tag="b", kw_only=True):
    """A minute bar (``T: "b"``); ``timestamp`` is the bar's start."""

    open: float = msgspec.field(name="o")
    high: float = msgspec.field(name="h")
    low: float = msgspec.field(name="l")
    close: float = msgspec.field(name="c")
    volume: float = msgspec.field(name="v")
    trade_count: int | None = msgspec.field(default=None, name="n")
    vwap: float | None = msgspec.field(default=None, name="vw")


class UpdatedBar(Bar, tag="u", kw_only=True):
    """A minute bar corrected by a late trade (``T: "u"``), sent after the next :30 mark."""


class DailyBar(Bar, tag="d", kw_only=True):
    """The day's bar so far (``T: "d"``), sent every minute after the open."""


class TradingStatus(AlpacaEvent, tag="s", kw_only=True):
    """A trading status (halt, resume...) of a stock (``T: "s"``)."""

    status_code: str = msgspec.field(default="", name="sc")
    status_message: str = msgspec.field(default="", name="sm")
    reason_code: str = msgspec.field(default="", name="rc")
    reason_message: str = msgspec.field(default="", name="rm")
    tape: str | None = _TAPE


class Luld(AlpacaEvent, tag="l", kw_only=True):
    """Limit up / limit down price bands (``T: "l"``)."""

    limit_up: float = msgspec.field(name="u")
    limit_down: float = msgspec.field(name="d")
    indicator: str | None = msgspec.field(default=None, name="i")
    tape: str | None = _TAPE


class Correction(AlpacaEvent, tag="c", kw_only=True):
    """A trade correction (``T: "c"``): the original trade and what it was corrected to."""

    _field_types: ClassVar[dict[str, Any]] = {
        "timestamp": int,
        "original_conditions": list[str],
        "corrected_conditions": list[str],
    }

    exchange: str | None = msgspec.field(default=None, name="x")
    original_id: int | None = msgspec.field(default=None, name="oi")
    original_price: float | None = msgspec.field(default=None, name="op")
    original_size: float | None = msgspec.field(default=None, name="os")
    corrected_id: int | None = msgspec.field(default=None, name="ci")
    corrected_price: float | None = msgspec.field(default=None, name="cp")
    corrected_size: float | None = msgspec.field(default=None, name="cs")
    if TYPE_CHECKING:
        original_conditions: list[str] = msgspec.field(default_factory=list)
        corrected_conditions: list[str] = msgspec.field(default_factory=list)
    else:
        original_conditions: Conditions = msgspec.field(default_factory=list, name="oc")
        corrected_conditions: Conditions = msgspec.field(default_factory=list, name="cc")
    tape: str | None = _TAPE


class CancelError(AlpacaEvent, tag="x", kw_only=True):
    """A trade cancelled or marked erroneous (``T: "x"``); ``action`` is ``"C"`` or ``"E"``."""

    id: int | None = msgspec.field(default=None, name="i")
    exchange: str | None = msgspec.field(default=None, name="x")
    price: float | None = msgspec.field(default=None, name="p")
    size: float | None = msgspec.field(default=None, name="s")
    action: str | None = msgspec.field(default=None, name="a")
    tape: str | None = _TAPE


class Imbalance(AlpacaEvent, tag="i", kw_only=True):
    """An order imbalance (``T: "i"``) around an auction."""

    price: float | None = msgspec.field(default=None, name="p")
    tape: str | None = _TAPE


Amount = Annotated[float, msgspec.Meta(ge=0.0, le=sys.float_info.max)]
"""A book level's price or size as decoded: a finite number >= 0 (msgpack carries NaN and inf; a
NaN price would slip past the crossed-book check, so such a message is malformed)."""


class BookLevel(msgspec.Struct, frozen=True, gc=False):
    """One price level: ``price`` and ``size`` (0 on an update: the level is gone)."""

    price: Amount = msgspec.field(name="p")
    size: Amount = msgspec.field(name="s")


class OrderBook(AlpacaEvent, tag="o", kw_only=True):
    """A crypto order book message (``T: "o"``): a full snapshot when ``reset``, else changed levels.

    As decoded, the levels are those of the message in wire order; the client's book keeper
    (:class:`~tickwire.alpaca.book.OrderBooks`) maintains the whole book best first, and marks a
    message that would cross it (``crossed``, with a :class:`BookCrossed` after it) without applying it.
    """

    bids: list[BookLevel] = msgspec.field(default_factory=list, name="b")
    asks: list[BookLevel] = msgspec.field(default_factory=list, name="a")
    reset: bool = msgspec.field(default=False, name="r")
    crossed: bool = False  # tickwire's, never the wire's (the decoder clears it)


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
