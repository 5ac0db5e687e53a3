"""Massive events as neutral ticks: decoded from wire frames of each cluster, then converted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tickwire.events import Connected, Status
from tickwire.massive import models as m
from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.ticks import ticks
from tickwire.provider import Tick

MS = 1_700_000_000_123
NS = MS * 1_000_000


def decoded(market: str, *elements: dict[str, Any]) -> list[Any]:
    return MassiveDecoder(market).decode(json.dumps(list(elements)).encode())


@pytest.mark.parametrize(
    ("market", "element", "symbol"),
    [
        ("stocks", {"ev": "T", "sym": "AAPL", "p": 190.5, "s": 100, "t": MS, "x": 4}, "AAPL"),
        (
            "options",
            {"ev": "T", "sym": "O:AAPL250117C00190000", "p": 3, "s": 2, "t": MS},
            "O:AAPL250117C00190000",
        ),
        ("crypto", {"ev": "XT", "pair": "BTC-USD", "p": 64000.5, "s": 0.25, "t": MS}, "BTC-USD"),
        ("futures", {"ev": "T", "sym": "ESZ5", "p": 5000.25, "s": 3, "t": MS}, "ESZ5"),
    ],
)
def test_trades_become_trade_ticks(market: str, element: dict[str, Any], symbol: str) -> None:
    (ev,) = decoded(market, element)
    (tick,) = ticks(ev)
    assert tick == Tick(
        kind="trade", symbol=symbol, ts_ns=NS, price=float(element["p"]), size=float(element["s"])
    )
    assert isinstance(tick.price, float) and isinstance(tick.size, float)


@pytest.mark.parametrize(
    ("market", "element", "symbol", "bid", "ask"),
    [
        (
            "stocks",
            {"ev": "Q", "sym": "MSFT", "bp": 410.1, "ap": 410.2, "bs": 1, "as": 2, "t": MS},
            "MSFT",
            410.1,
            410.2,
        ),
        ("forex", {"ev": "C", "p": "EUR/USD", "b": 1.0851, "a": 1.0853, "t": MS}, "EUR/USD", 1.0851, 1.0853),
        (
            "crypto",
            {"ev": "XQ", "pair": "ETH-USD", "bp": 3000, "ap": 3000.5, "t": MS},
            "ETH-USD",
            3000.0,
            3000.5,
        ),
        ("futures", {"ev": "Q", "sym": "ESZ5", "bp": 5000, "ap": 5000.25, "t": MS}, "ESZ5", 5000.0, 5000.25),
        ("stocks", {"ev": "Q", "sym": "ONE", "bp": 9.5, "t": MS}, "ONE", 9.5, None),  # one-sided
    ],
)
def test_quotes_become_quote_ticks(
    market: str, element: dict[str, Any], symbol: str, bid: float, ask: float | None
) -> None:
    (ev,) = decoded(market, element)
    assert ticks(ev) == (Tick(kind="quote", symbol=symbol, ts_ns=NS, bid=bid, ask=ask),)


def test_level2_book_is_a_book_tick_with_levels_best_first() -> None:
    (ev,) = decoded(
        "crypto",
        {
            "ev": "XL2",
            "pair": "BTC-USD",
            "b": [[63990, 1.5], [64000, 0.5], [63980.5, 2]],
            "a": [[64020, 1], [64010.5, 0.1], [64050, 3]],
            "t": MS,
            "x": 1,
        },
    )
    assert isinstance(ev, m.Level2Book)
    (tick,) = ticks(ev)
    assert tick.kind == "book" and tick.symbol == "BTC-USD" and tick.ts_ns == NS
    assert tick.bids == ((64000.0, 0.5), (63990.0, 1.5), (63980.5, 2.0))
    assert tick.asks == ((64010.5, 0.1), (64020.0, 1.0), (64050.0, 3.0))
    assert (tick.bid, tick.ask, tick.price) == (64000.0, 64010.5, None)
    empty = m.Level2Book(pair="X-USD", bid_prices=[], ask_prices=None, timestamp=MS)
    assert ticks(empty) == (Tick(kind="book", symbol="X-USD", ts_ns=NS),)


def test_events_that_are_not_trades_quotes_or_books_give_no_ticks() -> None:
    events = decoded(
        "stocks",
        {"ev": "AM", "sym": "AAPL", "o": 1, "c": 2, "h": 3, "l": 1, "v": 10, "s": MS, "e": MS + 60_000},
        {"ev": "LULD", "T": "AAPL", "h": 200, "l": 180, "t": MS},
        {"ev": "FMV", "sym": "AAPL", "fmv": 190.1, "t": NS},
        {"ev": "status", "status": "auth_success", "message": "authenticated"},
        {"ev": "ZZ", "sym": "AAPL"},  # unknown: a raw event
    )
    assert len(events) == 5 and any(isinstance(e, Status) for e in events)
    assert [ticks(e) for e in events] == [()] * 5
    assert ticks(Connected(url="ws://x", epoch=1, at=1.0)) == ()


def test_events_without_ticker_time_or_price_give_no_ticks() -> None:
    assert ticks(m.EquityTrade(price=1.0, size=1, timestamp=MS)) == ()
    assert ticks(m.EquityTrade(symbol="A", price=1.0, size=1)) == ()
    assert ticks(m.EquityTrade(symbol="A", size=1, timestamp=MS)) == ()
    assert ticks(m.EquityQuote(symbol="A", timestamp=MS)) == ()  # neither side
    assert ticks(m.CryptoTrade(pair=None, price=1.0, timestamp=MS)) == ()
    # a trade without a size is a trade of size 0 (options prints may leave it out)
    assert ticks(m.EquityTrade(symbol="A", price=2.0, timestamp=MS)) == (
        Tick(kind="trade", symbol="A", ts_ns=NS, price=2.0, size=0.0),
    )


def test_timestamps_of_any_unit_are_nanoseconds() -> None:
    for t in (MS // 1000, MS, MS * 1000, NS):
        (tick,) = ticks(m.EquityTrade(symbol="A", price=1.0, size=1, timestamp=t))
        assert tick.ts_ns // 10**9 == MS // 1000


def test_a_subclass_of_a_known_event_converts_like_its_base() -> None:
    class MyTrade(m.EquityTrade, tag="MYT", kw_only=True):
        pass

    class MyAgg(m.EquityAgg, tag="MYA", kw_only=True):
        pass

    assert ticks(MyTrade(symbol="A", price=3.0, size=5, timestamp=MS)) == (
        Tick(kind="trade", symbol="A", ts_ns=NS, price=3.0, size=5.0),
    )
    assert ticks(MyAgg(symbol="A", open=1.0, start_timestamp=MS)) == ()
