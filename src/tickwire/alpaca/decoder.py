"""Alpaca frames (JSON text or msgpack binary) → typed events. Never raises.

A frame is an array of messages, each tagged by ``T``. The encoding is told by the frame's first
byte (``[`` for JSON, a msgpack array header otherwise), so one decoder reads both and a journal
replays without knowing which the stream used. The fast path decodes the whole array in one msgspec
call, market data straight into the events of :mod:`tickwire.alpaca.models` (their fields carry
the wire keys), then one pass makes each wire time int ns and each ``conditions`` a list: in C when
:mod:`tickwire.speedups` has its pass (strict RFC 3339 strings and msgpack Timestamps; it stops
at anything else), else and from there in Python (a msgpack Timestamp from its 8 bytes, the usual
RFC 3339 string from its remembered second and 9 digits, any other form by
:func:`~tickwire.alpaca.wire.time_of`).
When that fails (an unknown ``T``, a malformed message or time) the frame is decoded message by
message, so a bad message costs only itself: an unknown type becomes a
:class:`~tickwire.events.RawEvent`, a malformed one a :class:`~tickwire.events.DecodeError`, and
the others are kept, in order.

Control messages become events too: ``success`` a :class:`~tickwire.events.Status`, ``error`` an
:class:`~tickwire.alpaca.models.AlpacaError` (with its code's meaning), ``subscription`` a
:class:`~tickwire.alpaca.models.SubscriptionAck`.

Stateless unless ``keep_books``: then crypto order-book messages are applied to :attr:`books`
(best-first, crossed messages refused and followed by a :class:`~tickwire.alpaca.models.BookCrossed`).
The provider's :meth:`decoder` (journal replay, one frame at a time) keeps no books.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union

import msgspec

from tickwire import speedups
from tickwire.alpaca.book import OrderBooks
from tickwire.alpaca.codes import error_info
from tickwire.alpaca.models import (
    AlpacaError,
    Bar,
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
    WError,
    WNews,
    WSubscription,
    WSuccess,
    WTagOnly,
    time_of,
)
from tickwire.events import DecodeError, Event, RawEvent, Status

__all__ = [
    "MESSAGE_TYPES",
    "AlpacaDecoder",
    "Message",
    "count_events",
    "encode_json",
    "encode_msgpack",
    "is_msgpack",
]

_ERRORS = (msgspec.DecodeError, ValueError, TypeError, OverflowError, RecursionError)

MESSAGE_TYPES = (
    Trade,
    Quote,
    Bar,
    UpdatedBar,
    DailyBar,
    TradingStatus,
    Luld,
    Correction,
    CancelError,
    Imbalance,
    OrderBook,
    WNews,
    WSuccess,
    WError,
    WSubscription,
)
"""Every message type the decoder reads, tagged by ``T``: market data as its events, the rest as
the wire Structs of :mod:`tickwire.alpaca.wire` (made into events by ``_CONVERT``)."""
Message = Union[MESSAGE_TYPES]  # type: ignore[valid-type]  # noqa: UP007

_JSON_FRAME = msgspec.json.Decoder(list[Message])
_PACK_FRAME = msgspec.msgpack.Decoder(list[Message])
_JSON_ITEM = msgspec.json.Decoder(Message)
_PACK_ITEM = msgspec.msgpack.Decoder(Message)
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


def _fix_correction(ev: Any) -> None:
    ev.original_conditions = _conditions(ev.original_conditions)
    ev.corrected_conditions = _conditions(ev.corrected_conditions)


_FIX: dict[type, Callable[[Any], None]] = {Correction: _fix_correction}
_Ext = msgspec.msgpack.Ext
_S_MASK = 0x3_FFFF_FFFF
_HEADS: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM:SS." of recent RFC 3339 times → Unix ns of that second
_HEADS_MAX = 4096


def _str_time(t: str) -> int:
    """An RFC 3339 string in Unix ns (:func:`time_of`), remembering the second of the usual
    ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` form for the next ones (a frame's times share it)."""
    ns = time_of(t)
    frac = t[20:29]
    if len(t) == 30 and t[19] == "." and t[29] == "Z" and frac.isdigit() and frac.isascii():
        if len(_HEADS) >= _HEADS_MAX:
            _HEADS.clear()
        _HEADS[t[:20]] = ns - int(frac)
    return ns


_C_FINISH = speedups.finish_times
_COND_TYPES = (Trade, Quote)
_PLAIN = frozenset({Trade, Quote, Bar, UpdatedBar, DailyBar, TradingStatus, Luld, CancelError, Imbalance})
"""Events that need nothing once their time (and conditions) are done."""


def _finish(items: list[Any]) -> tuple[list[Event], bool]:
    """Decoded messages → events, in place where it can: each market-data event's wire time made
    int ns and its conditions a list; news and control messages converted; and whether there was
    an order book among them. A bad time raises :class:`ValueError` (the caller then reads the
    frame message by message).

    With the C pass (:mod:`tickwire.speedups`), times and conditions are done in C; a frame of
    plain market data is then finished. Anything it stops at, and frames with other messages,
    go through the Python pass below (times C has done are ints by then, which it leaves)."""
    if (
        _C_FINISH is not None
        and _C_FINISH(items, _Ext, _COND_TYPES) == len(items)
        and set(map(type, items)) <= _PLAIN
    ):
        return items, False
    fix = _FIX
    ext = _Ext
    heads = _HEADS
    mask = _S_MASK
    from_bytes = int.from_bytes
    others = books = False
    for ev in items:
        t = ev.timestamp
        if type(t) is ext and t.code == -1 and len(d := t.data) == 8:  # type: ignore[arg-type]
            v = from_bytes(d, "big")  # timestamp 64: 30-bit ns, 34-bit s
            ev.timestamp = (v & mask) * 1_000_000_000 + (v >> 34)
        elif type(t) is str:  # the usual form: a known second and 9 digits of ns
            sec = heads.get(t[:20]) if len(t) == 30 and t[29] == "Z" else None
            frac = t[20:29]
            if sec is not None and frac.isdigit() and frac.isascii():
                ev.timestamp = sec + int(frac)
            else:
                ev.timestamp = _str_time(t)
        elif type(t) is not int:
            ev.timestamp = time_of(t)
        cls = type(ev)
        if cls is Trade or cls is Quote:
            if type(ev.conditions) is not list:
                ev.conditions = _conditions(ev.conditions)
        elif cls in fix:
            fix[cls](ev)
        elif cls is OrderBook:
            ev.crossed = False  # tickwire's flag: a message cannot set it
            books = True
        elif cls in _CONVERT:  # news and control messages (their ``timestamp`` is the class's 0)
            others = True
    if others:
        convert = _CONVERT
        return [convert[type(w)](w) if type(w) in convert else w for w in items], books
    return items, books


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
            events, books = _finish((_PACK_FRAME if binary else _JSON_FRAME).decode(frame))
        except _ERRORS:
            events, books = self._slow(frame, binary), True
        except RuntimeError as exc:  # defensive: never let a frame end the stream
            self.errors += 1
            return [DecodeError(error=f"{type(exc).__name__}: {exc}", data=bytes(frame))]
        if books and self.books is not None:
            events = self.books.apply_events(events)
        return events

    def decode_fast(self, frame: bytes) -> list[Event]:
        """The typed fast path alone; raises on anything :meth:`decode` would have to look at closer."""
        binary = is_msgpack(frame)
        events, books = _finish((_PACK_FRAME if binary else _JSON_FRAME).decode(frame))
        if books and self.books is not None:
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
            return _finish([(_PACK_ITEM if binary else _JSON_ITEM).decode(raw)])[0][0]
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
