"""The Alpaca decoder: every message type in JSON and msgpack, times, bad input, order books."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwire.alpaca.book import OrderBooks
from tickwire.alpaca.decoder import AlpacaDecoder, count_events
from tickwire.alpaca.models import (
    AlpacaError,
    Bar,
    BookCrossed,
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
from tickwire.alpaca.wire import parse_rfc3339_ns, time_of
from tickwire.events import DecodeError, RawEvent, Status

T_STR = "2021-02-22T15:51:44.208123456Z"
T_NS = 1_614_009_104_208_123_456


class Ts(msgspec.Struct):
    """A msgpack Timestamp with nanoseconds (msgspec encodes datetimes only to µs)."""


def ts_ext(ns: int) -> msgspec.msgpack.Ext:
    """The timestamp-96 form of ``ns`` (what a server with ns times sends)."""
    sec, nanos = divmod(ns, 1_000_000_000)
    return msgspec.msgpack.Ext(-1, nanos.to_bytes(4, "big") + sec.to_bytes(8, "big", signed=True))


def ts64(ns: int) -> msgspec.msgpack.Ext:
    sec, nanos = divmod(ns, 1_000_000_000)
    return msgspec.msgpack.Ext(-1, ((nanos << 34) | sec).to_bytes(8, "big"))


MESSAGES: list[tuple[dict[str, Any], type, dict[str, Any]]] = [
    (
        {"T": "t", "S": "AAPL", "i": 96921, "x": "D", "p": 126.55, "s": 1, "c": ["@", "I"], "z": "C"},
        Trade,
        {
            "symbol": "AAPL",
            "id": 96921,
            "exchange": "D",
            "price": 126.55,
            "size": 1,
            "conditions": ["@", "I"],
            "tape": "C",
        },
    ),
    (
        {"T": "t", "S": "BTC/USD", "p": 61000.5, "s": 0.0123, "i": 7, "tks": "B"},
        Trade,
        {"symbol": "BTC/USD", "size": 0.0123, "taker_side": "B", "conditions": []},
    ),
    (
        {"T": "t", "S": "AAPL240419C00170000", "p": 1.25, "s": 3, "x": "C", "c": "I"},
        Trade,
        {"conditions": ["I"], "exchange": "C"},
    ),
    (
        {
            "T": "q",
            "S": "AMD",
            "bx": "U",
            "bp": 87.66,
            "bs": 1,
            "ax": "Q",
            "ap": 87.68,
            "as": 4,
            "c": ["R"],
            "z": "C",
        },
        Quote,
        {
            "bid_exchange": "U",
            "bid_price": 87.66,
            "bid_size": 1,
            "ask_exchange": "Q",
            "ask_price": 87.68,
            "ask_size": 4,
        },
    ),
    (
        {
            "T": "b",
            "S": "SPY",
            "o": 388.985,
            "h": 389.13,
            "l": 388.975,
            "c": 389.12,
            "v": 49378,
            "n": 416,
            "vw": 389.052107,
        },
        Bar,
        {
            "open": 388.985,
            "high": 389.13,
            "low": 388.975,
            "close": 389.12,
            "volume": 49378,
            "trade_count": 416,
        },
    ),
    ({"T": "u", "S": "SPY", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 10}, UpdatedBar, {"close": 1.5}),
    ({"T": "d", "S": "SPY", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 10}, DailyBar, {"high": 2}),
    (
        {
            "T": "s",
            "S": "AAPL",
            "sc": "H",
            "sm": "Trading Halt",
            "rc": "T12",
            "rm": "Trading Halted",
            "z": "C",
        },
        TradingStatus,
        {"status_code": "H", "status_message": "Trading Halt", "reason_code": "T12"},
    ),
    (
        {"T": "l", "S": "IONM", "u": 3.24, "d": 2.65, "i": "B", "z": "C"},
        Luld,
        {"limit_up": 3.24, "limit_down": 2.65},
    ),
    (
        {
            "T": "c",
            "S": "AAPL",
            "x": "Q",
            "oi": 1,
            "op": 10.0,
            "os": 5,
            "oc": ["@"],
            "ci": 2,
            "cp": 10.5,
            "cs": 5,
            "cc": ["@", "I"],
            "z": "C",
        },
        Correction,
        {"original_id": 1, "corrected_price": 10.5, "corrected_conditions": ["@", "I"]},
    ),
    (
        {"T": "x", "S": "AAPL", "i": 9, "x": "Q", "p": 10.0, "s": 5, "a": "C", "z": "C"},
        CancelError,
        {"action": "C", "id": 9},
    ),
    ({"T": "i", "S": "AAPL", "p": 150.0, "z": "C"}, Imbalance, {"price": 150.0}),
    (
        {"T": "o", "S": "BTC/USD", "b": [{"p": 100.0, "s": 1.5}], "a": [{"p": 101.0, "s": 2.0}], "r": True},
        OrderBook,
        {"reset": True},
    ),
]


def _with_time(msg: dict[str, Any], t: Any) -> dict[str, Any]:
    return {**msg, "t": t}


@pytest.mark.parametrize(
    ("msg", "cls", "fields"), MESSAGES, ids=[f"{m['T']}-{m['S']}" for m, _, _ in MESSAGES]
)
@pytest.mark.parametrize("encoding", ["json", "msgpack-ts96", "msgpack-ts64", "msgpack-string"])
def test_every_message_type_decodes_in_both_encodings(
    msg: dict[str, Any], cls: type, fields: dict[str, Any], encoding: str
) -> None:
    if encoding == "json":
        frame = msgspec.json.encode([_with_time(msg, T_STR)])
    else:
        t = {"msgpack-ts96": ts_ext(T_NS), "msgpack-ts64": ts64(T_NS), "msgpack-string": T_STR}[encoding]
        frame = msgspec.msgpack.encode([_with_time(msg, t)])
    (ev,) = AlpacaDecoder().decode(frame)
    assert type(ev) is cls and ev.event_type == msg["T"]
    assert ev.symbol == msg["S"] and ev.timestamp == T_NS
    assert ev.datetime == dt.datetime(2021, 2, 22, 15, 51, 44, 208123, tzinfo=dt.UTC)
    for name, value in fields.items():
        assert getattr(ev, name) == value, name


def test_msgpack_timestamp32_and_msgspec_datetimes() -> None:
    frame = msgspec.msgpack.encode(
        [
            {
                "T": "t",
                "S": "A",
                "p": 1,
                "s": 1,
                "t": msgspec.msgpack.Ext(-1, (1_614_009_104).to_bytes(4, "big")),
            },
            {
                "T": "t",
                "S": "B",
                "p": 1,
                "s": 1,
                "t": dt.datetime(2021, 2, 22, 15, 51, 44, 208123, tzinfo=dt.UTC),
            },
        ]
    )
    a, b = AlpacaDecoder().decode(frame)
    assert a.timestamp == 1_614_009_104_000_000_000
    assert b.timestamp == 1_614_009_104_208_123_000


def test_news_in_json_and_msgpack() -> None:
    msg = {
        "T": "n",
        "id": 24918784,
        "headline": "Apple Q1",
        "summary": "s",
        "author": "Benzinga Newsdesk",
        "created_at": "2022-01-05T22:00:37Z",
        "updated_at": "2022-01-05T22:00:38Z",
        "url": "https://example.com/x",
        "content": "<p>error-free</p>",
        "symbols": ["AAPL", "MSFT"],
        "source": "benzinga",
    }
    for frame in (msgspec.json.encode([msg]), msgspec.msgpack.encode([msg])):
        (ev,) = AlpacaDecoder().decode(frame)
        assert isinstance(ev, News) and ev.symbol == "AAPL" and ev.symbols == ["AAPL", "MSFT"]
        assert ev.created_at == ev.timestamp == 1_641_420_037_000_000_000
        assert ev.updated_at == ev.created_at + 1_000_000_000


def test_control_messages() -> None:
    d = AlpacaDecoder()
    (ok,) = d.decode(b'[{"T":"success","msg":"authenticated"}]')
    assert isinstance(ok, Status) and ok.message == "authenticated"
    (err,) = d.decode(b'[{"T":"error","code":406,"msg":"connection limit exceeded"}]')
    assert isinstance(err, AlpacaError) and err.code == 406 and "90 s" in err.meaning
    (sub,) = d.decode(b'[{"T":"subscription","trades":["AAPL"],"quotes":[],"corrections":["AAPL"]}]')
    assert isinstance(sub, SubscriptionAck)
    assert sub.channels == {"trades": ["AAPL"], "quotes": [], "corrections": ["AAPL"]}


def test_bad_messages_cost_only_themselves() -> None:
    d = AlpacaDecoder()
    frame = (
        b'[{"T":"t","S":"A","p":1,"s":1,"t":"2021-02-22T15:51:44Z"},'
        b'{"T":"zz","k":1},'
        b'{"T":"q","S":5},'
        b'{"T":"t","S":"A","p":1,"s":1,"t":"not a time"},'
        b'{"T":"b","S":"B","o":1,"h":1,"l":1,"c":1,"v":1}]'
    )
    events = d.decode(frame)
    assert [type(e) for e in events] == [Trade, RawEvent, DecodeError, DecodeError, Bar]
    raw = events[1]
    assert isinstance(raw, RawEvent) and raw.type == "zz" and raw.data == b'{"T":"zz","k":1}'
    assert "$.S" in events[2].error  # type: ignore[attr-defined]
    assert d.errors == 2 and d.unknown == 1


@pytest.mark.parametrize("frame", [b"", b"not json", b"[1, 2", b'{"T":"t"}', b"\xc1\xc1", b"[[[]]]", b"null"])
def test_garbage_frames_become_decode_errors(frame: bytes) -> None:
    events = AlpacaDecoder().decode(frame)
    assert events and all(isinstance(e, DecodeError) for e in events)


def test_a_lone_message_outside_an_array_is_read() -> None:
    (ev,) = AlpacaDecoder().decode(b'{"T":"t","S":"A","p":1,"s":2}')
    assert isinstance(ev, Trade) and ev.size == 2 and ev.timestamp == 0


def test_count_events_without_decoding() -> None:
    items = [{"T": "t", "S": "A", "p": 1, "s": 1}] * 3
    assert count_events(msgspec.json.encode(items)) == 3
    assert count_events(msgspec.msgpack.encode(items)) == 3
    assert count_events(msgspec.msgpack.encode(items * 10)) == 30  # array 16
    assert count_events(b"") == 0
    # the Form T condition is the string "T": a value, not a message (found by the round trip)
    assert count_events(b'[{"T":"t","S":"A","p":1,"s":1,"c":["T"]}]') == 1


def test_rfc3339_forms() -> None:
    assert parse_rfc3339_ns("2021-02-22T15:51:44Z") == 1_614_009_104_000_000_000
    assert parse_rfc3339_ns("2021-02-22T15:51:44.5Z") == 1_614_009_104_500_000_000
    assert parse_rfc3339_ns("2021-02-22T10:51:44.000000001-05:00") == 1_614_009_104_000_000_001
    assert parse_rfc3339_ns("2021-02-22T15:51:44") == 1_614_009_104_000_000_000
    assert parse_rfc3339_ns("nonsense") is None and parse_rfc3339_ns("") is None


def test_decoded_times_fast_path_agrees_with_the_full_parser() -> None:
    for digits in range(1, 10):
        text = "2021-02-22T15:51:44." + "123456789"[:digits] + "Z"
        assert time_of(text) == time_of(text) == parse_rfc3339_ns(text)  # the second call: cached
    assert time_of("2021-02-22T15:51:44Z") == 1_614_009_104_000_000_000  # no fraction: the full parser
    assert time_of("2021-02-22T10:51:44.5-05:00") == 1_614_009_104_500_000_000
    for bad in (
        "2021-02-22T15:51:44.1_2Z",
        "2021-02-22T15:51:44.\uff11Z",
        "2021-02-30T15:51:44.1Z",
        "x" * 30,
    ):
        with pytest.raises(ValueError):
            time_of(bad.encode().decode("unicode_escape"))
    assert time_of(None) == 0 and time_of(1_614_009_104) == 1_614_009_104_000_000_000
    with pytest.raises(ValueError):
        time_of(True)


def test_msgpack_timestamp_extensions_of_every_width() -> None:
    ext = msgspec.msgpack.Ext
    assert time_of(ext(-1, (1_614_009_104).to_bytes(4, "big"))) == 1_614_009_104_000_000_000
    assert time_of(ext(-1, (7 << 34 | 1_614_009_104).to_bytes(8, "big"))) == 1_614_009_104_000_000_007
    wide = (9).to_bytes(4, "big") + (-1).to_bytes(8, "big", signed=True)
    assert time_of(ext(-1, wide)) == -1_000_000_000 + 9
    for bad in (ext(5, b"\0" * 8), ext(-1, b"\0" * 3)):
        with pytest.raises(ValueError):
            time_of(bad)


def test_a_known_second_does_not_let_a_malformed_fraction_through() -> None:
    """The decoder's fast path remembers a frame's second; a time of that second whose fraction is
    not 9 ASCII digits still becomes a DecodeError (and costs only its own message)."""
    d = AlpacaDecoder()
    good = {"T": "t", "S": "AAPL", "p": 1.0, "s": 1.0}
    (first,) = d.decode(msgspec.json.encode([_with_time(good, T_STR)]))
    assert first.timestamp == T_NS
    for frac in ("1_2345678", "+12345678", " 12345678", "12345678\uff11", "1234567 8"):
        bad = "2021-02-22T15:51:44." + frac + "Z"
        assert len(bad) == len(T_STR)
        events = d.decode(msgspec.json.encode([_with_time(good, T_STR), _with_time(good, bad)]))
        assert [type(e) for e in events] == [Trade, DecodeError], frac
        assert events[0].timestamp == T_NS
    later = "2021-02-22T15:51:45.000000001Z"  # the next second: learned as well
    (ev,) = d.decode(msgspec.json.encode([_with_time(good, later)]))
    assert ev.timestamp == T_NS - 208_123_456 + 1_000_000_001


def test_the_events_encode_as_alpaca_messages_and_decode_back() -> None:
    """The events' msgspec form is the wire's (``T`` tag, wire keys, int ns times), so a frame of
    encoded events decodes to equal events, in either encoding."""
    events = []
    for msg, cls, _ in MESSAGES:
        (ev,) = AlpacaDecoder().decode(msgspec.json.encode([_with_time(msg, T_STR)]))
        assert type(ev) is cls
        events.append(ev)
    trade = next(e for e in events if type(e) is Trade)
    wire = trade.to_builtins()
    assert wire["T"] == "t" and wire["S"] == "AAPL" and wire["p"] == 126.55 and wire["t"] == T_NS
    for encode in (msgspec.json.encode, msgspec.msgpack.encode):
        market = [e for e in events if not isinstance(e, News)]  # news: its own wire form
        assert AlpacaDecoder().decode(encode(market)) == market


def test_wire_values_are_normalized_before_an_event_leaves() -> None:
    """One condition as a string (options), null conditions, and a ``crossed`` key a server has no
    business sending: a list, an empty list, and tickwire's own flag left alone."""
    frame = msgspec.msgpack.encode(
        [
            {"T": "t", "S": "AAPL250117C00150000", "p": 1.5, "s": 2, "c": "I", "t": ts64(T_NS)},
            {"T": "q", "S": "AAPL", "bp": 1.0, "ap": 1.1, "c": None, "t": ts64(T_NS)},
            {"T": "c", "S": "AAPL", "oc": "@", "cc": ["@", "I"], "t": ts64(T_NS)},
            {"T": "o", "S": "BTC/USD", "b": [{"p": 1, "s": 1}], "a": [], "r": True, "crossed": True},
        ]
    )
    trade, quote, corr, book = AlpacaDecoder().decode(frame)
    assert trade.conditions == ["I"] and quote.conditions == []
    assert corr.original_conditions == ["@"] and corr.corrected_conditions == ["@", "I"]
    assert type(book) is OrderBook and book.crossed is False and book.bids[0].price == 1.0
    assert all(type(e.timestamp) is int for e in (trade, quote, corr, book))


# ---------------------------------------------------------------------------- round trips

symbols = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ./", min_size=1, max_size=12)
prices = st.floats(min_value=0, max_value=1e7, allow_nan=False)
times = st.integers(min_value=0, max_value=4_102_444_800 * 10**9)  # to 2100
conds = st.lists(st.text("@FITZ1234", min_size=1, max_size=2), max_size=4)


@st.composite
def trades(draw: st.DrawFn) -> Trade:
    return Trade(
        symbol=draw(symbols),
        timestamp=draw(times),
        price=draw(prices),
        size=draw(prices),
        id=draw(st.none() | st.integers(min_value=0, max_value=2**62)),
        exchange=draw(st.none() | st.sampled_from("ABDKQVZ")),
        conditions=draw(conds),
        tape=draw(st.none() | st.sampled_from("ABC")),
    )


def _wire(ev: Trade, t: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"T": "t", "S": ev.symbol, "p": ev.price, "s": ev.size, "c": ev.conditions, "t": t}
    for key, value in (("i", ev.id), ("x", ev.exchange), ("z", ev.tape)):
        if value is not None:
            out[key] = value
    return out


def _rfc3339(ns: int) -> str:
    sec, nanos = divmod(ns, 1_000_000_000)
    base = dt.datetime.fromtimestamp(sec, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"


@settings(max_examples=150, deadline=None)
@given(st.lists(trades(), min_size=1, max_size=50))
def test_trades_round_trip_through_json_and_msgpack(events: list[Trade]) -> None:
    d = AlpacaDecoder()
    as_json = msgspec.json.encode([_wire(e, _rfc3339(e.timestamp)) for e in events])
    as_pack = msgspec.msgpack.encode([_wire(e, ts_ext(e.timestamp)) for e in events])
    assert d.decode(as_json) == events
    assert d.decode(as_pack) == events
    assert count_events(as_json) == count_events(as_pack) == len(events)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    events = AlpacaDecoder(keep_books=True).decode(data)
    assert isinstance(events, list)


# ---------------------------------------------------------------------------- books


def book_msg(
    sym: str, bids: list[tuple[float, float]], asks: list[tuple[float, float]], reset: bool = False
) -> dict[str, Any]:
    return {
        "T": "o",
        "S": sym,
        "t": T_STR,
        "b": [{"p": p, "s": s} for p, s in bids],
        "a": [{"p": p, "s": s} for p, s in asks],
        "r": reset,
    }


def test_books_are_kept_best_first_and_updated() -> None:
    d = AlpacaDecoder(keep_books=True)
    d.decode(
        msgspec.json.encode([book_msg("BTC/USD", [(99, 1), (100, 2), (98, 3)], [(102, 1), (101, 2)], True)])
    )
    assert d.books is not None
    book = d.books["BTC/USD"]
    assert book.snapshot() == (((100, 2), (99, 1), (98, 3)), ((101, 2), (102, 1)))
    d.decode(msgspec.msgpack.encode([book_msg("BTC/USD", [(100, 0), (99.5, 4)], [(101, 0)])]))
    assert book.snapshot() == (((99.5, 4), (99, 1), (98, 3)), ((102, 1),))
    assert book.best_bid == 99.5 and book.best_ask == 102 and book.spread == 2.5 and book.mid == 100.75
    d.decode(msgspec.json.encode([book_msg("BTC/USD", [(1, 1)], [(2, 1)], True)]))
    assert book.snapshot() == (((1, 1),), ((2, 1),))  # a reset replaces the book


def test_a_crossing_update_is_refused_and_reported() -> None:
    d = AlpacaDecoder(keep_books=True)
    d.decode(msgspec.json.encode([book_msg("ETH/USD", [(10, 1)], [(11, 1)], True)]))
    events = d.decode(
        msgspec.json.encode([book_msg("ETH/USD", [(11, 1)], []), book_msg("ETH/USD", [(10.5, 1)], [])])
    )
    assert [type(e) for e in events] == [OrderBook, BookCrossed, OrderBook]
    assert events[0].crossed and not events[2].crossed  # type: ignore[attr-defined]
    crossed = events[1]
    assert isinstance(crossed, BookCrossed) and crossed.best_bid == 11 and crossed.best_ask == 11
    assert d.books is not None and d.books["ETH/USD"].snapshot() == (((10.5, 1), (10, 1)), ((11, 1),))


def test_a_crossed_snapshot_is_refused() -> None:
    books = OrderBooks()
    ev = OrderBook(symbol="X", bids=[], asks=[], reset=True)
    assert books.apply_events([ev]) == [ev]
    bad = AlpacaDecoder().decode(msgspec.json.encode([book_msg("X", [(5, 1)], [(4, 1)], True)]))
    out = books.apply_events(bad)
    assert [type(e) for e in out] == [OrderBook, BookCrossed] and books["X"].snapshot() == ((), ())


def test_the_provider_decoder_keeps_no_books() -> None:
    d = AlpacaDecoder()
    frame = msgspec.json.encode([book_msg("X", [(5, 1)], [(4, 1)], True)])
    assert [type(e) for e in d.decode(frame)] == [OrderBook] and d.books is None
