"""Polymarket US events as neutral ticks: decoded from wire frames, then converted."""

from __future__ import annotations

import time
from decimal import Decimal

from tickwire.events import Connected
from tickwire.polymarket_us.decoder import PolymarketDecoder
from tickwire.polymarket_us.events import BookCrossed, MarketData, MarketDataLite, PriceLevel, Trade
from tickwire.polymarket_us.ticks import ticks
from tickwire.provider import Tick

USD = '"currency":"USD"'
T0 = 1705314600 * 10**9  # 2024-01-15T10:30:00Z


def level(px: str, qty: str) -> str:
    return f'{{"px":{{"value":"{px}",{USD}}},"qty":"{qty}"}}'


def book_frame(bids: list[tuple[str, str]], offers: list[tuple[str, str]], stats: str = "") -> bytes:
    return (
        '{"requestId":"md","subscriptionType":"SUBSCRIPTION_TYPE_MARKET_DATA","marketData":{'
        '"marketSlug":"btc-100k-2026",'
        f'"bids":[{",".join(level(*b) for b in bids)}],"offers":[{",".join(level(*o) for o in offers)}],'
        f'"state":"MARKET_STATE_OPEN",{stats}"transactTime":"2024-01-15T10:30:00Z"}}}}'
    ).encode()


def test_market_data_is_a_book_tick_best_first_whatever_the_wire_order() -> None:
    stats = f'"stats":{{"currentPx":{{"value":"0.5575",{USD}}},"lastTradePx":{{"value":"0.55",{USD}}}}},'
    (ev,) = PolymarketDecoder().decode(
        book_frame(
            [("0.550", "2.50"), ("0.555", "0.50"), ("0.540", "10")],
            [("0.570", "1"), ("0.560", "0.80")],
            stats,
        )
    )
    assert isinstance(ev, MarketData) and ev.bids[0].price == Decimal("0.550")  # the event keeps wire order
    (tick,) = ticks(ev)
    assert tick == Tick(
        kind="book",
        symbol="btc-100k-2026",
        ts_ns=T0,
        price=0.5575,
        bid=0.555,
        ask=0.56,
        bids=((0.555, 0.5), (0.55, 2.5), (0.54, 10.0)),
        asks=((0.56, 0.8), (0.57, 1.0)),
    )


def test_a_book_without_stats_has_no_price_and_an_empty_side_no_best() -> None:
    (ev,) = PolymarketDecoder().decode(book_frame([("0.40", "5")], []))
    (tick,) = ticks(ev)
    assert (tick.price, tick.bid, tick.ask, tick.bids, tick.asks) == (None, 0.4, None, ((0.4, 5.0),), ())


def test_a_crossed_book_gives_no_tick_its_book_crossed_event_neither() -> None:
    events = PolymarketDecoder().decode(book_frame([("0.60", "1")], [("0.55", "1")]))
    assert [type(e) for e in events] == [MarketData, BookCrossed]
    assert [ticks(e) for e in events] == [(), ()]


def test_trade_is_a_trade_tick() -> None:
    (ev,) = PolymarketDecoder().decode(
        b'{"requestId":"t","subscriptionType":"SUBSCRIPTION_TYPE_TRADE","trade":{"marketSlug":"fed-cut-june",'
        b'"price":{"value":"0.555","currency":"USD"},"quantity":{"value":"12.50","currency":"USD"},'
        b'"tradeTime":"2024-01-15T10:30:00.5Z","maker":{"side":"ORDER_SIDE_BUY"},"taker":{"side":"ORDER_SIDE_SELL"}}}'
    )
    assert isinstance(ev, Trade)
    assert ticks(ev) == (
        Tick(kind="trade", symbol="fed-cut-june", ts_ns=T0 + 500_000_000, price=0.555, size=12.5),
    )


def test_market_data_lite_is_a_quote_tick_stamped_on_receipt() -> None:
    before = time.time_ns()
    (ev,) = PolymarketDecoder().decode(
        b'{"requestId":"l","subscriptionType":"SUBSCRIPTION_TYPE_MARKET_DATA_LITE","marketDataLite":{'
        b'"marketSlug":"m1","currentPx":{"value":"0.55","currency":"USD"},"bestBid":{"value":"0.54","currency":"USD"},'
        b'"bestAsk":null,"bidDepth":5,"askDepth":4}}'
    )
    assert isinstance(ev, MarketDataLite)
    (tick,) = ticks(ev)
    assert before <= tick.ts_ns <= time.time_ns()
    assert (tick.kind, tick.symbol, tick.price, tick.bid, tick.ask) == ("quote", "m1", 0.55, 0.54, None)
    assert ticks(MarketDataLite(request_id="l", market_slug="m1")) == ()  # no prices at all


def test_missing_or_impossible_amounts_and_times() -> None:
    assert ticks(Trade(request_id="t", market_slug="m", price=None, quantity=Decimal(1))) == ()
    assert ticks(Trade(request_id="t", market_slug="m", price=Decimal("NaN"), quantity=Decimal(1))) == ()
    before = time.time_ns()
    (tick,) = ticks(Trade(request_id="t", market_slug="m", price=Decimal("0.5"), quantity=None))
    assert tick.size == 0.0 and tick.ts_ns >= before  # no trade time: the receive time
    md = MarketData(
        request_id="r", market_slug="m", bids=[PriceLevel(price=Decimal("0.1"), qty=Decimal(1))], offers=[]
    )
    (tick,) = ticks(md)
    assert tick.kind == "book" and tick.ts_ns >= before


def test_other_events_give_no_ticks() -> None:
    from tickwire.polymarket_us.events import AccountBalanceSnapshot, Balance

    assert ticks(AccountBalanceSnapshot(request_id="b", balances=[Balance()])) == ()
    assert ticks(Connected(url="ws://x", epoch=1, at=1.0)) == ()
