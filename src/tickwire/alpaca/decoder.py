"""Alpaca frames (JSON text or msgpack binary) → typed events. Never raises.

A frame is an array of messages, each tagged by ``T``. The encoding is told by the frame's first
byte (``[`` for JSON, a msgpack array header otherwise), so one decoder reads both and a journal
replays without knowing which the stream used. The fast path decodes the whole array into the wire
Structs of :mod:`tickwire.alpaca.wire` in one msgspec call; when that fails (an unknown ``T``, a
malformed message) the frame is decoded message by message, so a bad message costs only itself: an
unknown type becomes a :class:`~tickwire.events.RawEvent`, a malformed one a
:class:`~tickwire.events.DecodeError`, and the others are kept, in order.

Control messages become events too: ``success`` a :class:`~tickwire.events.Status`, ``error`` an
:class:`~tickwire.alpaca.models.AlpacaError` (with its code's meaning), ``subscription`` a
:class:`~tickwire.alpaca.models.SubscriptionAck`.

Stateless unless ``keep_books``: then crypto order-book messages are applied to :attr:`books`
(best-first, crossed messages refused and followed by a :class:`~tickwire.alpaca.models.BookCrossed`).
The provider's :meth:`decoder` (journal replay, one frame at a time) keeps no books.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from tickwire.alpaca.book import OrderBooks
from tickwire.alpaca.codes import error_info
from tickwire.alpaca.models import (
    AlpacaError,
    Bar,
    BookLevel,
    CancelError,
    Correction,
    DailyBar,
    Imbalance,
    Luld,
    News,
    OrderBook,
    Quote,
    SubscriptionAck,
    Trade,
    TradingStatus,
    UpdatedBar,
)
from tickwire.alpaca.wire import (
    SUBSCRIPTION_FIELDS,
    WBar,
    WCancelError,
    WCorrection,
    WDailyBar,
    WError,
    WImbalance,
    WireItem,
    WLevel,
    WLuld,
    WNews,
    WOrderBook,
    WQuote,
    WStatus,
    WSubscription,
    WSuccess,
    WTagOnly,
    WTrade,
    WUpdatedBar,
    time_of,
)
from tickwire.events import DecodeError, Event, RawEvent, Status

__all__ = ["AlpacaDecoder", "count_events", "encode_json", "encode_msgpack", "is_msgpack"]

_ERRORS = (msgspec.DecodeError, ValueError, TypeError, OverflowError, RecursionError)

_JSON_FRAME = msgspec.json.Decoder(list[WireItem])
_PACK_FRAME = msgspec.msgpack.Decoder(list[WireItem])
_JSON_ITEM = msgspec.json.Decoder(WireItem)
_PACK_ITEM = msgspec.msgpack.Decoder(WireItem)
_JSON_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_PACK_RAWS = msgspec.msgpack.Decoder(list[msgspec.Raw])
_JSON_TAG = msgspec.json.Decoder(WTagOnly)
_PACK_TAG = msgspec.msgpack.Decoder(WTagOnly)
_KNOWN_TAGS = frozenset(
    {"t", "q", "b", "u", "d", "s", "l", "c", "x", "i", "o", "n"} | {"success", "error", "subscription"}
)

_JSON_STARTS = frozenset(b"[{ \t\r\n")

encode_json = msgspec.json.Encoder().encode
encode_msgpack = msgspec.msgpack.Encoder().encode


def is_msgpack(frame: bytes) -> bool:
    """Whether a frame is msgpack rather than JSON (which starts with ``[``, ``{`` or white space)."""
    return bool(frame) and frame[0] not in _JSON_STARTS


def count_events(frame: bytes) -> int:
    """Messages in a raw frame, without decoding it: the msgpack array's length, or JSON ``"T":``
    keys (a ``"T"`` value, the Form T condition, is no key)."""
    if not frame:
        return 0
    first = frame[0]
    if 0x90 <= first <= 0x9F:
        return first - 0x90
    if first == 0xDC:
        return int.from_bytes(frame[1:3], "big")
    if first == 0xDD:
        return int.from_bytes(frame[1:5], "big")
    if first not in _JSON_STARTS:
        return 1  # a lone msgpack message
    return frame.count(b'"T":')


def _conditions(c: list[str] | str | None) -> list[str]:
    if c is None:
        return []
    return [c] if isinstance(c, str) else c


def _levels(levels: list[WLevel]) -> list[BookLevel]:
    return [BookLevel(lv.p, lv.s) for lv in levels]


# One converter per wire class: wire message → event.
def _trade(w: WTrade) -> Event:
    return Trade(
        symbol=w.S,
        price=w.p,
        size=w.s,
        timestamp=time_of(w.t),
        id=w.i,
        exchange=w.x,
        conditions=_conditions(w.c),
        tape=w.z,
        taker_side=w.tks,
    )


def _quote(w: WQuote) -> Event:
    return Quote(
        symbol=w.S,
        bid_price=w.bp,
        bid_size=w.bs,
        ask_price=w.ap,
        ask_size=w.as_,
        timestamp=time_of(w.t),
        bid_exchange=w.bx,
        ask_exchange=w.ax,
        conditions=_conditions(w.c),
        tape=w.z,
    )


def _bar_of(cls: type[Bar]) -> Callable[[Any], Event]:
    def convert(w: WBar) -> Event:
        return cls(
            symbol=w.S,
            open=w.o,
            high=w.h,
            low=w.l,
            close=w.c,
            volume=w.v,
            timestamp=time_of(w.t),
            trade_count=w.n,
            vwap=w.vw,
        )

    return convert


def _status(w: WStatus) -> Event:
    return TradingStatus(
        symbol=w.S,
        status_code=w.sc,
        status_message=w.sm,
        reason_code=w.rc,
        reason_message=w.rm,
        timestamp=time_of(w.t),
        tape=w.z,
    )


def _luld(w: WLuld) -> Event:
    return Luld(symbol=w.S, limit_up=w.u, limit_down=w.d, indicator=w.i, tape=w.z, timestamp=time_of(w.t))


def _correction(w: WCorrection) -> Event:
    return Correction(
        symbol=w.S,
        exchange=w.x,
        original_id=w.oi,
        original_price=w.op,
        original_size=w.os,
        original_conditions=_conditions(w.oc),
        corrected_id=w.ci,
        corrected_price=w.cp,
        corrected_size=w.cs,
        corrected_conditions=_conditions(w.cc),
        tape=w.z,
        timestamp=time_of(w.t),
    )


def _cancel(w: WCancelError) -> Event:
    return CancelError(
        symbol=w.S,
        id=w.i,
        exchange=w.x,
        price=w.p,
        size=w.s,
        action=w.a,
        tape=w.z,
        timestamp=time_of(w.t),
    )


def _imbalance(w: WImbalance) -> Event:
    return Imbalance(symbol=w.S, price=w.p, tape=w.z, timestamp=time_of(w.t))


def _orderbook(w: WOrderBook) -> Event:
    return OrderBook(symbol=w.S, bids=_levels(w.b), asks=_levels(w.a), reset=w.r, timestamp=time_of(w.t))


def _news(w: WNews) -> Event:
    created = time_of(w.created_at)
    return News(
        symbol=w.symbols[0] if w.symbols else "",
        timestamp=created,
        id=w.id,
        headline=w.headline,
        summary=w.summary,
        author=w.author,
        content=w.content,
        url=w.url,
        source=w.source,
        symbols=w.symbols,
        created_at=created,
        updated_at=time_of(w.updated_at),
    )


def _success(w: WSuccess) -> Event:
    return Status(status="success", message=w.msg)


def _error(w: WError) -> Event:
    info = error_info(w.code, w.msg)
    return AlpacaError(code=w.code, message=w.msg, meaning=info.meaning, action=info.action)


def _subscription(w: WSubscription) -> Event:
    chans = {f: v for f in SUBSCRIPTION_FIELDS if (v := getattr(w, f)) is not None}
    return SubscriptionAck(channels=chans)


_CONVERT: dict[type, Callable[[Any], Event]] = {
    WTrade: _trade,
    WQuote: _quote,
    WBar: _bar_of(Bar),
    WUpdatedBar: _bar_of(UpdatedBar),
    WDailyBar: _bar_of(DailyBar),
    WStatus: _status,
    WLuld: _luld,
    WCorrection: _correction,
    WCancelError: _cancel,
    WImbalance: _imbalance,
    WOrderBook: _orderbook,
    WNews: _news,
    WSuccess: _success,
    WError: _error,
    WSubscription: _subscription,
}


class AlpacaDecoder:
    """Decodes frames of any Alpaca stream; counts ``errors`` and ``unknown`` messages. With
    ``keep_books``, also maintains the crypto order books (:attr:`books`)."""

    def __init__(self, *, keep_books: bool = False) -> None:
        self.errors = 0
        self.unknown = 0
        self.books: OrderBooks | None = OrderBooks() if keep_books else None

    def __repr__(self) -> str:
        return f"AlpacaDecoder(errors={self.errors}, unknown={self.unknown}, books={self.books is not None})"

    def decode(self, frame: bytes) -> list[Event]:
        """The events of one frame, in order (see the module docstring). Never raises."""
        binary = is_msgpack(frame)
        try:
            items = (_PACK_FRAME if binary else _JSON_FRAME).decode(frame)
            convert = _CONVERT
            events = [convert[type(w)](w) for w in items]
        except _ERRORS:
            events = self._slow(frame, binary)
        except RuntimeError as exc:  # defensive: never let a frame end the stream
            self.errors += 1
            return [DecodeError(error=f"{type(exc).__name__}: {exc}", data=bytes(frame))]
        if self.books is not None:
            events = self.books.apply_events(events)
        return events

    def decode_fast(self, frame: bytes) -> list[Event]:
        """The typed fast path alone; raises on anything :meth:`decode` would have to look at closer."""
        binary = is_msgpack(frame)
        items = (_PACK_FRAME if binary else _JSON_FRAME).decode(frame)
        convert = _CONVERT
        events = [convert[type(w)](w) for w in items]
        if self.books is not None:
            events = self.books.apply_events(events)
        return events

    def _slow(self, frame: bytes, binary: bool) -> list[Event]:
        """Message by message: a bad message becomes a DecodeError or RawEvent, the rest are kept."""
        try:
            raws = (_PACK_RAWS if binary else _JSON_RAWS).decode(frame)
        except _ERRORS as exc:
            lone = self._one(bytes(frame), binary)  # a message not in an array
            if type(lone) is DecodeError:
                lone = DecodeError(error=f"not an Alpaca frame: {_why(exc)}", data=bytes(frame))
            return [lone]
        return [self._one(bytes(r), binary) for r in raws]

    def _one(self, raw: bytes, binary: bool) -> Event:
        try:
            w = (_PACK_ITEM if binary else _JSON_ITEM).decode(raw)
            return _CONVERT[type(w)](w)
        except _ERRORS as exc:
            try:
                tag = (_PACK_TAG if binary else _JSON_TAG).decode(raw).T
            except _ERRORS:
                tag = None
            if tag is not None and tag not in _KNOWN_TAGS:
                self.unknown += 1
                return RawEvent(type=tag, data=raw)
            self.errors += 1
            return DecodeError(error=_why(exc), data=raw)


def _why(exc: BaseException) -> str:
    """A one-line reason (msgspec says where: ``$[0].p``)."""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
