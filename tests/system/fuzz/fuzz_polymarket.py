"""Fuzz cases for the Polymarket US decoder, order books and session.

Each function runs one case drawn from a :class:`~.chooser.Chooser`, checks the invariants
and returns how many generated inputs (frames) it fed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from decimal import Decimal

import msgspec

from tickwire.credentials import Secret
from tickwire.errors import AuthError
from tickwire.events import Connected, DecodeError, Event, RawEvent, Reconnected, SubscriptionRejected
from tickwire.polymarket_us.book import Book
from tickwire.polymarket_us.decoder import PolymarketDecoder
from tickwire.polymarket_us.enums import Socket, SubscriptionType
from tickwire.polymarket_us.events import BookCrossed, MarketData, ReplayGap
from tickwire.polymarket_us.session import PolymarketSession
from tickwire.polymarket_us.signing import Credentials

from .chooser import Chooser
from .corpus import polymarket_frame, polymarket_keys
from .mutate import mutate_frame

__all__ = ["polymarket_decoder", "polymarket_session"]

SLUGS: Sequence[str] = ("btc-100k-2026", "fed-cut-june", "eth-5k-2026")
SECRET = "dGlja3dpcmUtcG9seW1hcmtldC1zaW0ta2V5LTAwMDA="  # the simulator's test key
KEY_ID = "00000000-0000-4000-8000-00000000beef"

BookState = tuple[tuple[tuple[Decimal, Decimal], ...], tuple[tuple[Decimal, Decimal], ...]]


def check_book(book: Book) -> None:
    """A kept book is never crossed, is best first on both sides, and answers every query."""
    bids = [lv.price for lv in book.bids]
    offers = [lv.price for lv in book.offers]
    for lv in (*book.bids, *book.offers):
        assert lv.price.is_finite() and lv.qty.is_finite() and Decimal(0) <= lv.price <= Decimal(1), lv
    assert bids == sorted(bids, reverse=True) and offers == sorted(offers), book
    assert not book.crossed
    if bids and offers:
        assert bids[0] < offers[0]
        assert book.spread is not None and book.spread > 0 and book.mid is not None
    book.depth("bid")
    book.depth("offer", 2)
    book.depth_within("bid", Decimal("0.5"))
    book.qty_at("ask", Decimal("0.5"))


def _books(decoder: PolymarketDecoder) -> dict[str, BookState]:
    return {slug: book.snapshot() for slug, book in decoder.books.items()}


def check_frame_events(
    decoder: PolymarketDecoder,
    events: list[Event],
    before: dict[str, BookState],
    counters: tuple[int, int, int],
) -> None:
    """Counters match the events; books change only by a non-crossed MarketData of their market."""
    errors, unknown, heartbeats = counters
    assert isinstance(events, list) and all(isinstance(e, Event) for e in events), events
    assert decoder.errors - errors == sum(type(e) is DecodeError for e in events)
    assert decoder.unknown - unknown == sum(type(e) is RawEvent for e in events)
    assert decoder.heartbeats - heartbeats in (0, 1)
    if any(type(e) is DecodeError for e in events):
        assert len(events) == 1, events
    after = _books(decoder)
    applied: set[str] = set()
    for i, e in enumerate(events):
        if type(e) is MarketData:
            if e.crossed:
                nxt = events[i + 1]
                assert type(nxt) is BookCrossed and nxt.market_slug == e.market_slug
                assert nxt.best_bid >= nxt.best_ask
            elif decoder.keep_books:
                applied.add(e.market_slug)
                expected = (
                    tuple(sorted(((lv.price, lv.qty) for lv in e.bids), key=lambda x: x[0], reverse=True)),
                    tuple(sorted(((lv.price, lv.qty) for lv in e.offers), key=lambda x: x[0])),
                )
                assert after[e.market_slug] == expected
    for slug, state in after.items():
        if slug not in applied:
            assert before.get(slug) == state, slug
    for book in decoder.books.values():
        check_book(book)


def _counters(decoder: PolymarketDecoder) -> tuple[int, int, int]:
    return decoder.errors, decoder.unknown, decoder.heartbeats


def polymarket_decoder(ch: Chooser) -> int:
    """A few mutated frames on one decoder: never raises, counts, and keeps only sound books."""
    decoder = PolymarketDecoder(keep_books=ch.chance(0.9))
    n = ch.integer(1, 6)
    for _ in range(n):
        valid = polymarket_frame(ch, slugs=SLUGS)
        frame, unchanged = mutate_frame(valid, ch, polymarket_keys())
        before, counters = _books(decoder), _counters(decoder)
        events = decoder.decode(frame)
        check_frame_events(decoder, events, before, counters)
        if unchanged:
            assert not any(type(e) is DecodeError for e in events), (frame[:300], events)
    return n


# --- the session --------------------------------------------------------------------------

_MARKET_TYPES = (SubscriptionType.MARKET_DATA, SubscriptionType.MARKET_DATA_LITE, SubscriptionType.TRADE)
_PRIVATE_TYPES = (SubscriptionType.ORDER, SubscriptionType.POSITION, SubscriptionType.ACCOUNT_BALANCE)


@functools.cache
def _credentials() -> Credentials:
    return Credentials(KEY_ID, Secret(SECRET))


def _subscribe_some(s: PolymarketSession, ch: Chooser) -> None:
    types = _MARKET_TYPES if s.socket is Socket.MARKETS else _PRIVATE_TYPES
    for stype in types:
        if ch.chance(0.5):
            slugs = [x for x in SLUGS if ch.chance(0.5)] or [SLUGS[0]]
            s.subscribe(stype, slugs if stype.takes_slugs else ())
    if s.socket is Socket.PRIVATE and ch.chance(0.3):
        s.request_order_snapshot()


def _feed(s: PolymarketSession, frame: bytes, now: float) -> list[Event]:
    """What the driver does with a received frame: queue it raw, or ``receive`` it first."""
    if s.passthrough and (s.control_probe not in frame or s.control_marker not in frame):
        s.data_seen(now)
        return s.decode(frame)
    events = s.receive(frame, now)
    return s.decode(frame) if events is None else events


def _check_sent(s: PolymarketSession, sent: list[bytes]) -> set[str]:
    """Requests are well-formed; returns the request ids subscribed."""
    ids: set[str] = set()
    for raw in sent:
        req = msgspec.json.decode(raw)
        assert isinstance(req, dict) and len(req) == 1, req
        if "subscribe" in req:
            ids.add(req["subscribe"]["requestId"])
        else:
            assert "requestId" in req["unsubscribe"]
    return ids


def polymarket_session(ch: Chooser) -> int:
    """A session fed frames (valid, mutated, garbage, errors naming its requests) among ticks,
    reconnects and user calls: never raises, counts every bad frame, drops only rejected
    subscriptions, keeps sound books, and resubscribes everything after a gap (with a ReplayGap)."""
    socket = ch.choice((Socket.MARKETS, Socket.PRIVATE))
    s = PolymarketSession(
        socket,
        _credentials(),
        heartbeat_timeout=ch.choice((None, 1.0, 60.0)),
        keep_books=ch.chance(0.9),
        resnapshot_orders=ch.chance(0.8),
    )
    _subscribe_some(s, ch)
    now = ch.choice((0.0, 1_705_314_600.0, -3.0))
    s.connection_made(now, "wss://fuzz/v1/ws", 1)
    s.data_to_send()
    s.tick(now)
    inputs = 0
    for _ in range(ch.integer(1, 10)):
        op = ch.below(11)
        if op <= 5:
            ids = list(s.subscriptions)
            valid = polymarket_frame(ch, private=socket is Socket.PRIVATE, request_ids=ids, slugs=SLUGS)
            frame, _ = mutate_frame(valid, ch, polymarket_keys())
            before, counters = _books(s.decoder), _counters(s.decoder)
            events = _feed(s, frame, now)
            inputs += 1
            check_frame_events(s.decoder, events, before, counters)
            rejected = [e.channel for e in events if type(e) is SubscriptionRejected]
            if rejected:
                assert b'"error"' in frame
            assert list(s.subscriptions) == [i for i in ids if i not in rejected], (ids, rejected)
        elif op == 6:
            _check_tick(s, s.tick(now), now)
        elif op == 7:
            now += ch.choice((0.0, 0.5, 2.0, 100.0, -1.0, 1e7))
        elif op == 8:
            _reconnect(s, ch, now)
        elif op == 9:
            _subscribe_some(s, ch)
            _check_sent(s, s.data_to_send())
        else:
            for rid in list(s.subscriptions):
                if ch.chance(0.3):
                    s.unsubscribe(rid)
            _check_sent(s, s.data_to_send())
        if s.fatal is not None:
            assert isinstance(s.fatal, AuthError) and SECRET not in str(s.fatal)
        assert SECRET not in repr(s)
    _reconnect(s, ch, now)
    return inputs


def _check_tick(s: PolymarketSession, events: list[Event], now: float) -> None:
    for e in events:
        if type(e) is Reconnected:
            assert e.resubscribed == list(s.subscriptions)
    if s.streaming and s.heartbeat_timeout is not None and now - s.last_data_at >= s.heartbeat_timeout:
        assert s.close_requested


def _reconnect(s: PolymarketSession, ch: Chooser, now: float) -> None:
    """Drop and reopen: every subscription is sent again, and the gap is reported."""
    was_streaming = s.streaming
    s.connection_lost(now)
    if ch.chance(0.3):
        s.handshake_failed(ch.choice((None, 429, 500)), now)
    s.connection_made(now, "wss://fuzz/v1/ws", 2)
    sent = _check_sent(s, s.data_to_send())
    assert set(s.subscriptions) <= sent
    events = s.tick(now)
    assert events and type(events[0]) is Connected
    if was_streaming:
        (reconnected,) = [e for e in events if type(e) is Reconnected]
        assert reconnected.resubscribed == list(s.subscriptions)
        gaps = [e for e in events if type(e) is ReplayGap]
        if any(
            sub.type in (SubscriptionType.TRADE, SubscriptionType.ORDER, SubscriptionType.POSITION)
            for sub in s.subscriptions.values()
        ):
            assert len(gaps) == 1
