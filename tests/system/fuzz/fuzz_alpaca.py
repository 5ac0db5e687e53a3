"""Fuzz cases for the Alpaca decoder (JSON, msgpack, arbitrary bytes; crypto books kept) and for
its RFC 3339 time parser.

Each function runs one case drawn from a :class:`~.chooser.Chooser`, checks the invariants
and returns how many generated inputs it fed.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import msgspec

from tickwire.alpaca.decoder import AlpacaDecoder, count_events, is_msgpack
from tickwire.alpaca.models import AlpacaEvent, BookCrossed, OrderBook
from tickwire.alpaca.wire import parse_rfc3339_ns
from tickwire.events import DecodeError, Event, RawEvent

from .chooser import Chooser
from .corpus_alpaca import alpaca_frame, alpaca_keys, odd_time, pack
from .mutate import ODD_STRINGS, dumps, mutate_bytes, mutate_frame, mutate_tree, odd_text, rfc3339

__all__ = ["alpaca_decoder", "alpaca_rfc3339"]

_ERRORS = (msgspec.DecodeError, ValueError, TypeError, OverflowError, RecursionError)
_JSON_RAWS = msgspec.json.Decoder(list[msgspec.Raw])
_PACK_RAWS = msgspec.msgpack.Decoder(list[msgspec.Raw])

BookState = tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]


# --- inputs ---------------------------------------------------------------------------------


def _json_input(ch: Chooser) -> tuple[bytes, bool]:
    return mutate_frame(alpaca_frame(ch, "json"), ch, alpaca_keys())


def _msgpack_input(ch: Chooser) -> tuple[bytes, bool]:
    """A msgpack frame: valid, tree-mutated (odd times among the mutations), byte-mutated, or both."""
    tree = alpaca_frame(ch, "msgpack")
    op = ch.below(8)
    if op < 2:
        return pack(tree), True
    if op < 5:
        for _ in range(ch.integer(1, 3)):
            if ch.chance(0.4) and _set_odd_time(tree, ch):
                continue
            tree = mutate_tree(tree, ch, alpaca_keys())
        return pack(tree), False
    raw = pack(tree)
    for _ in range(ch.integer(1, 2)):
        raw = mutate_bytes(raw, ch)
    return raw, False


def _set_odd_time(tree: object, ch: Chooser) -> bool:
    items = tree if isinstance(tree, list) else [tree]
    timed = [m for m in items if isinstance(m, dict) and any(k in m for k in ("t", "created_at"))]
    if not timed:
        return False
    item = ch.choice(timed)
    item["t" if "t" in item else "created_at"] = odd_time(ch)
    return True


def _bytes_input(ch: Chooser) -> tuple[bytes, bool]:
    """Arbitrary bytes, often behind a msgpack array header or a JSON bracket."""
    prefix = ch.choice(
        (b"", b"\x91", b"\x92", b"\x9f", b"\xdc\xff\xff", b"\xdd\x7f\xff\xff\xff", b"[", b"\x81")
    )
    return prefix + ch.binary(64), False


# --- invariants -----------------------------------------------------------------------------


def _books(decoder: AlpacaDecoder) -> dict[str, BookState]:
    return {} if decoder.books is None else {s: b.snapshot() for s, b in decoder.books.items()}


def _items(frame: bytes) -> int | None:
    """How many messages the frame holds if it is an array (None: not one)."""
    try:
        return len((_PACK_RAWS if is_msgpack(frame) else _JSON_RAWS).decode(frame))
    except _ERRORS:
        return None


def check_decoded(
    decoder: AlpacaDecoder,
    frame: bytes,
    events: list[Event],
    before: dict[str, BookState],
    counts: tuple[int, int],
) -> None:
    """Events only, one per message (plus a BookCrossed after each refused book message), counters
    matching, times usable, and books changed only by accepted messages and never crossed."""
    assert isinstance(events, list) and all(isinstance(e, Event) for e in events), events
    errors, unknown = counts
    assert decoder.errors - errors == sum(type(e) is DecodeError for e in events)
    assert decoder.unknown - unknown == sum(type(e) is RawEvent for e in events)
    messages = [e for e in events if type(e) is not BookCrossed]
    n = _items(frame)
    assert len(messages) == (1 if n is None else n), (frame[:200], events)
    for e in events:
        if isinstance(e, AlpacaEvent):
            assert type(e.timestamp) is int, e
        if type(e) is DecodeError:
            assert e.error and "\n" not in e.error and isinstance(e.data, bytes), e
    touched: set[str] = set()
    for i, e in enumerate(events):
        if type(e) is OrderBook:
            if e.crossed:
                follow = events[i + 1]
                assert type(follow) is BookCrossed and follow.symbol == e.symbol
                assert follow.best_bid >= follow.best_ask, follow
            elif decoder.books is not None:
                touched.add(e.symbol)
        elif type(e) is BookCrossed:
            assert i > 0 and type(events[i - 1]) is OrderBook and events[i - 1].crossed  # type: ignore[attr-defined]
    after = _books(decoder)
    for symbol, state in after.items():
        if symbol not in touched:
            assert before.get(symbol, ((), ())) == state, symbol  # a refused first message: empty
        check_book(state)


def check_book(state: BookState) -> None:
    """Best first on both sides, positive sizes, numbers that compare, and never crossed or locked."""
    bids, asks = state
    for price, size in (*bids, *asks):
        assert not math.isnan(price) and not math.isnan(size) and size > 0, state
    bid_prices = [p for p, _ in bids]
    ask_prices = [p for p, _ in asks]
    assert bid_prices == sorted(bid_prices, reverse=True) and ask_prices == sorted(ask_prices), state
    if bids and asks:
        assert bid_prices[0] < ask_prices[0], state


def alpaca_decoder(ch: Chooser) -> int:
    """A few JSON, msgpack or arbitrary frames on one decoder (books kept most of the time): never
    raises, loses no message, counts every bad one, and keeps only sound books."""
    decoder = AlpacaDecoder(keep_books=ch.chance(0.85))
    n = ch.integer(1, 6)
    for _ in range(n):
        kind = ch.below(8)
        if kind < 3:
            frame, unchanged = _json_input(ch)
        elif kind < 7:
            frame, unchanged = _msgpack_input(ch)
        else:
            frame, unchanged = _bytes_input(ch)
        before = _books(decoder)
        counts = (decoder.errors, decoder.unknown)
        events = decoder.decode(frame)
        check_decoded(decoder, frame, events, before, counts)
        if unchanged:
            assert not any(type(e) in (DecodeError, RawEvent) for e in events), (frame[:300], events)
            if is_msgpack(frame) or frame[:1] == b"[":
                messages = [e for e in events if type(e) is not BookCrossed]
                assert count_events(frame) == len(messages), (frame[:300], events)
            for e in events:
                if isinstance(e, AlpacaEvent) and e.timestamp:
                    e.datetime  # noqa: B018 (a valid time is a datetime)
    return n


# --- RFC 3339 times -------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)?", re.ASCII
)


def reference_ns(text: str) -> int | None:
    """Unix ns of a strict RFC 3339 time (naive: UTC), computed apart from the code under test."""
    m = _RFC3339.fullmatch(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac, zone = m.group(7) or "", m.group(8) or "Z"
    offset = (
        0 if zone in "Zz" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    )
    try:
        days = (dt.date(year, month, day) - dt.date(1970, 1, 1)).days
    except ValueError:
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
    return seconds * 1_000_000_000 + int((frac + "0" * 9)[:9])


def _time_text(ch: Chooser) -> tuple[str | bytes, bool]:
    """A time string, and whether it is a valid RFC 3339 one."""
    kind = ch.below(6)
    if kind <= 1:
        text = rfc3339(ch)
        return (text.encode() if ch.chance(0.5) else text), True
    if kind == 2:
        return ch.choice(ODD_STRINGS), False
    if kind == 3:
        return odd_text(ch, 30), False
    if kind == 4:
        return mutate_bytes(rfc3339(ch).encode(), ch), False
    return ch.binary(32), False


def alpaca_rfc3339(ch: Chooser) -> int:
    """``parse_rfc3339_ns`` on valid, odd and mutated times (str and bytes): never raises, returns
    an int or None, exact on every valid time; and ``time_ns`` reads the same time in a JSON frame."""
    n = ch.integer(1, 8)
    for _ in range(n):
        text, valid = _time_text(ch)
        got = parse_rfc3339_ns(text)
        assert got is None or type(got) is int, got
        as_str = text if isinstance(text, str) else text.decode("utf-8", "replace")
        expected = reference_ns(as_str)
        if valid:
            assert got == expected, (text, got, expected)
        elif expected is not None and isinstance(text, str):
            assert got == expected, (text, got, expected)  # a mutation that left a valid time
        if valid and isinstance(text, str):
            frame = dumps([{"T": "t", "S": "AAPL", "p": 1.0, "s": 1, "t": text}])
            (trade,) = AlpacaDecoder().decode(frame)
            assert trade.timestamp == expected, (text, trade)  # type: ignore[attr-defined]
    return n
