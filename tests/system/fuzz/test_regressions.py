"""The crashes and leaks the fuzz targets found, each kept as a plain test with its input.

Before the fixes: deep nesting (msgspec raises RecursionError, not DecodeError) and invalid
UTF-8 inside a string (UnicodeDecodeError) escaped the Polymarket US decoder and session, the
REST core and both simulators; a lone digit-like character (``²``) in a time broke a whole
Polymarket frame; NaN or absurd prices reached the order book; a ``next_url`` such as
``@evil.example/x`` sent the key to another host; a 429 body echoing the key put it in the
exception text; a damaged segment (bad header, corrupt zstd) stopped reading the whole journal;
an Alpaca book level of NaN (msgpack carries it) slipped past the crossed-book check, and the
Alpaca RFC 3339 parser raised on a lone surrogate instead of answering None.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import zstandard

from tickwire.alpaca.decoder import AlpacaDecoder
from tickwire.alpaca.models import OrderBook
from tickwire.alpaca.wire import parse_rfc3339_ns
from tickwire.backoff import Backoff
from tickwire.credentials import Secret
from tickwire.events import DecodeError, SubscriptionRejected
from tickwire.journal import JournalError, JournalWriter, read_records, verify
from tickwire.journal.reader import SegmentReport, journal_meta
from tickwire.massive.rest import client as rest_client
from tickwire.massive.rest.core import (
    Page,
    RateLimited,
    Response,
    RestConfig,
    RestError,
    Send,
    fetch_one,
    paginate,
)
from tickwire.polymarket_us.decoder import PolymarketDecoder, parse_time_ns
from tickwire.polymarket_us.enums import Socket, SubscriptionType
from tickwire.polymarket_us.session import PolymarketSession
from tickwire.polymarket_us.signing import Credentials
from tickwire.sim import MassiveSimulator
from tickwire.sim.channels import parse_route
from tickwire.sim.polymarket import SIM_KEY_ID, SIM_SECRET_KEY, PolymarketSimulator
from tickwire.sim.polymarket.server import _Conn
from tickwire.sim.protocol import INVALID_JSON, AuthPolicy, ServerSession
from tickwire.sim.replay import JournalReplayer

DEEP = b"[" * 5000 + b"]" * 5000
BAD_UTF8 = b'{"action":"auth","params":"k\xed\xa0\x80y"}'


# --- Polymarket US ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        b'{"heartbeat":{"x":' + DEEP + b"}}",
        b'{"request_id":"r","heartbeat":' + DEEP + b"}",  # the legacy path (camelize recursion)
        b'{"error":"x","rfqEvent":{"a":' + DEEP + b"}}",
    ],
    ids=["camel", "legacy", "error-frame"],
)
def test_polymarket_deep_nesting_is_a_counted_decode_error(frame: bytes) -> None:
    decoder = PolymarketDecoder()
    (event,) = decoder.decode(frame)
    assert type(event) is DecodeError and decoder.errors == 1


@pytest.mark.parametrize(
    ("level", "why"),
    [
        ('{"px":{"value":"NaN"},"qty":"1"}', "NaN"),
        ('{"px":{"value":"0.5"},"qty":"sNaN"}', "sNaN"),
        ('{"px":{"value":"238.39"},"qty":"1"}', "238.39"),
        ('{"px":{"value":"0.5"},"qty":"1E+999999999"}', "1E+999999999"),
        ('{"px":{"value":"-0.1"},"qty":"1"}', "-0.1"),
    ],
)
def test_polymarket_impossible_book_levels_never_reach_the_book(level: str, why: str) -> None:
    decoder = PolymarketDecoder()
    good = b'{"marketData":{"marketSlug":"m","bids":[{"px":{"value":"0.4"},"qty":"2"}],"offers":[]}}'
    decoder.decode(good)
    frame = ('{"marketData":{"marketSlug":"m","bids":[' + level + '],"offers":[]}}').encode()
    (event,) = decoder.decode(frame)
    assert type(event) is DecodeError and why in event.error and decoder.errors == 1
    assert decoder.books["m"].snapshot() == (((Decimal("0.4"), Decimal("2")),), ())  # the last good book


def test_polymarket_time_with_a_non_ascii_digit_is_just_unreadable() -> None:
    assert parse_time_ns("2024-01-15T10:30:00.\u00b2Z") is None  # was: ValueError from int("²")
    assert parse_time_ns("2024-01-15T10:30:00.5Z") == 1_705_314_600_500_000_000
    decoder = PolymarketDecoder()
    (trade,) = decoder.decode(
        '{"trade":{"marketSlug":"m","tradeTime":"2024-01-15T10:30:00.\u00b2Z"}}'.encode()
    )
    assert type(trade) is not DecodeError and getattr(trade, "trade_time", 0) is None


def test_polymarket_session_receive_never_raises_on_an_error_frame_with_a_bad_payload() -> None:
    s = PolymarketSession(Socket.MARKETS, Credentials(SIM_KEY_ID, Secret(SIM_SECRET_KEY)))
    (rid,) = s.subscribe(SubscriptionType.MARKET_DATA, ["m"])
    s.connection_made(0.0, "ws://x", 1)
    bad_book = b'{"requestId":"%s","error":"x","marketData":{"bids":[{"px":{"value":"NaN"},"qty":"1"}]}}'
    events = s.receive(bad_book % rid.encode(), 1.0) or []
    assert [type(e) for e in events] == [DecodeError, SubscriptionRejected]
    assert s.decoder.errors == 1 and rid not in s.subscriptions
    deep = b'{"error":"x","rfqEvent":{"a":' + DEEP + b"}}"
    assert s.receive(deep, 2.0) is None  # was: RecursionError; now decode() reports it, in order
    assert [type(e) for e in s.decode(deep)] == [DecodeError]


# --- REST ----------------------------------------------------------------------------------

KEY = "regression-key-0042"


def _config(max_retries: int = 0) -> RestConfig:
    return RestConfig("https://api.example", Secret(KEY), max_retries=max_retries, backoff=Backoff(seed=1))


def _run(flow: object, responses: list[Response]) -> list[Page[object]]:
    """Drive a flow like the client shells do; returns the pages (raises what the flow raises)."""
    pages: list[Page[object]] = []
    outcome = None
    gen = flow  # a generator
    sent: list[Send] = []
    while True:
        try:
            step = gen.send(outcome)  # type: ignore[attr-defined]
        except StopIteration:
            return pages
        outcome = None
        if isinstance(step, Send):
            sent.append(step)
            assert step.request.url.startswith("https://api.example/"), step.request.url
            outcome = responses.pop(0)
        elif isinstance(step, Page):
            pages.append(step)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b'{"x":' + DEEP + b"}"),
        (200, b'{"results":[],"status":"\xff"}'),
        (404, b'{"x":' + DEEP + b"}"),
        (404, b'{"error":"\xc0\x80"}'),
    ],
    ids=["deep-page", "bad-utf8-page", "deep-error", "bad-utf8-error"],
)
def test_rest_unreadable_bodies_raise_rest_errors(status: int, body: bytes) -> None:
    with pytest.raises(RestError):
        _run(fetch_one(_config(), "/v2/x", (), rest_client._decode_prev), [Response(status, {}, body)])


@pytest.mark.parametrize("next_url", ["@evil.example/v2/aggs?cursor=1", "evil.example/x", "//evil.example/x"])
def test_rest_next_url_never_leaves_the_base_host(next_url: str) -> None:
    first = json.dumps({"results": [], "next_url": next_url}).encode()
    flow = paginate(_config(), "/v2/aggs", (), rest_client._decode_aggs, max_pages=2)
    pages = _run(flow, [Response(200, {}, first), Response(200, {}, b'{"results":[]}')])
    assert len(pages) == 2


def test_rest_unusable_next_url_is_a_rest_error() -> None:
    first = json.dumps({"results": [], "next_url": "http://[::1/v2/aggs"}).encode()
    flow = paginate(_config(), "/v2/aggs", (), rest_client._decode_aggs)
    with pytest.raises(RestError, match="next_url"):
        _run(flow, [Response(200, {}, first)])


def test_rest_rate_limit_message_never_repeats_the_key() -> None:
    body = json.dumps({"status": "ERROR", "error": f"too many requests for key {KEY}"}).encode()
    with pytest.raises(RateLimited) as info:
        _run(fetch_one(_config(), "/v2/x", (), rest_client._decode_prev), [Response(429, {}, body)])
    assert KEY not in str(info.value) and "****" in str(info.value)


# --- simulators ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame", [DEEP, b'{"action":"auth","x":' + DEEP + b"}", BAD_UTF8], ids=["deep", "deep-field", "bad-utf8"]
)
def test_sim_massive_session_answers_invalid_json(frame: bytes) -> None:
    route = parse_route("stocks")
    assert route is not None
    assert ServerSession(route, AuthPolicy()).handle(frame).replies == [INVALID_JSON]


async def test_sim_massive_keeps_serving_a_client_that_sends_garbage() -> None:
    from websockets.asyncio.client import connect

    async with (
        MassiveSimulator(seed=1, tick_interval=0.02, auth_timeout=5.0) as sim,
        connect(sim.url_for("stocks"), open_timeout=5, close_timeout=1) as ws,
    ):
        assert json.loads(await ws.recv())[0]["status"] == "connected"
        for garbage in (DEEP, BAD_UTF8):
            await ws.send(garbage)  # a binary frame: the simulator reads it like text
            reply = json.loads(await asyncio.wait_for(ws.recv(), 3))
            assert reply == [{"ev": "status", "status": "error", "message": "Invalid JSON"}]
        await ws.send(json.dumps({"action": "auth", "params": "k"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 3))[0]["status"] == "auth_success"


async def test_sim_rest_answers_bad_parameters_with_400_not_500() -> None:
    import base64

    import httpx

    list_cursor = base64.urlsafe_b64encode(b'{"limit":[1]}').decode()
    paths = [
        "/v2/aggs/ticker/AAPL/range/1/day/2024-01-01/2024-01-05?limit=abc",
        "/v3/trades/AAPL?limit=1e3",
        "/v3/trades/AAPL?skip=x",
        "/v3/trades/AAPL?cursor=%25%25%25",  # was: 500, the cursor was read outside the error handling
        f"/v3/trades/AAPL?cursor={list_cursor}",  # was: 500 (TypeError from int([1]))
        "/v2/aggs/ticker/AAPL/range/1/day/2024-01-01/2024-01-05?cursor=WzFd",
    ]
    async with MassiveSimulator(seed=1, rest=True) as sim, httpx.AsyncClient(timeout=10) as http:
        for path in paths:
            reply = await http.get(sim.rest_url + path, headers={"Authorization": "Bearer k"})
            assert reply.status_code == 400, (path, reply.text)
            assert reply.json()["status"] == "ERROR"


@pytest.mark.parametrize(
    "frame",
    [DEEP, b'{"subscribe":' + DEEP + b"}", b'{"subscribe":{"requestId":"\xff"}}'],
    ids=["deep", "deep-field", "bad-utf8"],
)
def test_sim_polymarket_answers_garbage_with_an_error(frame: bytes) -> None:
    sim = PolymarketSimulator(seed=1)
    conn = _Conn(sim, Socket.MARKETS, SIM_KEY_ID, 1)  # no transport: the reply is counted
    sim._received(conn, frame)
    assert sim.counters.errors_sent == 1 and conn.subs == {}


@pytest.mark.parametrize(
    "frame",
    [DEEP, b'[{"ev":"T","sym":"\xff"}]', b'[{"ev":"T","p":' + DEEP + b"}]"],
    ids=["deep", "bad-utf8", "deep-field"],
)
def test_replay_filter_skips_unreadable_frames(frame: bytes) -> None:
    out, count = JournalReplayer._filter(frame, frozenset({"T.*"}))
    assert count == (0 if out is None else 1)


# --- journal -----------------------------------------------------------------------------------


def _journal(directory: Path, n: int = 10) -> list[bytes]:
    frames = [b'[{"ev":"T","sym":"A","p":%d}]' % i for i in range(n)]
    with JournalWriter(directory, compress=False, meta={"market": "stocks"}) as w:
        for i, f in enumerate(frames):
            w.append(f, i, 1)
    return frames


def test_journal_directory_skips_a_segment_with_a_bad_header(tmp_path: Path) -> None:
    frames = _journal(tmp_path / "src")
    (segment,) = (tmp_path / "src").glob("*.twj")
    journal = tmp_path / "j"
    journal.mkdir()
    data = bytearray(segment.read_bytes())
    data[0] ^= 0xFF  # the magic
    (journal / "00000001.twj").write_bytes(bytes(data))
    shutil.copy(segment, journal / "00000002.twj")
    reports: list[SegmentReport] = []
    got = [r.data for r in read_records(journal, frames_only=True, reports=reports)]
    assert got == frames  # the second segment, whole
    assert reports[0].error is not None and "not a tickwire journal" in reports[0].error
    assert not verify(journal).ok
    assert journal_meta(journal)["market"] == "stocks"
    with pytest.raises(JournalError, match="not a tickwire journal"):
        list(read_records(journal / "00000001.twj"))  # a single file still says so loudly


def test_journal_corrupt_zstd_yields_what_came_before_and_reports_it(tmp_path: Path) -> None:
    frames = _journal(tmp_path / "src", 5000)
    (segment,) = (tmp_path / "src").glob("*.twj")
    packed = bytearray(zstandard.ZstdCompressor(level=1).compress(segment.read_bytes()))
    packed[5] ^= 0xFF  # zstd reports "Data corruption detected" after the first blocks
    damaged = tmp_path / "00000001.twj.zst"
    damaged.write_bytes(bytes(packed))
    reports: list[SegmentReport] = []
    got = [r.data for r in read_records(tmp_path, frames_only=True, reports=reports)]
    assert 0 < len(got) < len(frames) and got == frames[: len(got)]  # a clean prefix, nothing invented
    assert reports[0].error is not None and "corrupt compressed data" in reports[0].error
    assert not verify(tmp_path).ok


def test_threaded_default_message_handler_prints_deeply_nested_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tickwire.massive.callback import _default_on_msg

    text = '[{"ev":"status","status":' + "[" * 5000 + "]" * 5000 + "}]"
    _default_on_msg(None, text)  # type: ignore[arg-type]  # was: RecursionError (reported via on_error)
    assert capsys.readouterr().out.strip() == text


# --- Alpaca -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bids", "asks"),
    [
        ([(math.nan, 1.0), (100.0, 1.0)], [(99.0, 1.0)]),  # NaN first: max() said nan, the cross went by
        ([(100.0, math.nan)], [(101.0, 1.0)]),
        ([(-5.0, 1.0)], [(101.0, 1.0)]),
        ([(100.0, 1.0)], [(math.inf, 1.0)]),
    ],
)
def test_alpaca_book_refuses_levels_that_are_not_prices(
    bids: list[tuple[float, float]], asks: list[tuple[float, float]]
) -> None:
    decoder = AlpacaDecoder(keep_books=True)
    levels = lambda side: [{"p": p, "s": s} for p, s in side]  # noqa: E731
    good = {"T": "o", "S": "BTC/USD", "b": [{"p": 90.0, "s": 2.0}], "a": [{"p": 95.0, "s": 1.0}], "r": True}
    bad = {"T": "o", "S": "BTC/USD", "b": levels(bids), "a": levels(asks), "r": True}
    events = decoder.decode(msgspec.msgpack.encode([good, bad]))  # msgpack carries NaN and inf; JSON cannot
    assert [type(e) for e in events] == [OrderBook, DecodeError] and decoder.errors == 1
    assert decoder.books is not None and decoder.books["BTC/USD"].snapshot() == (
        ((90.0, 2.0),),
        ((95.0, 1.0),),
    )


@pytest.mark.parametrize("text", ["\ud800", "2024-01-15T10:30:00.5\udfffZ", b"\xff\xfe", "\x00"])
def test_alpaca_rfc3339_parser_answers_none_for_any_bad_text(text: str | bytes) -> None:
    assert parse_rfc3339_ns(text) is None  # was: UnicodeEncodeError on a lone surrogate
