"""Table registries: Massive keeps its names, columns, keys and subjects; Polymarket US events become
flat, exact rows; routing, grouping and reading events back work for any provider."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec
import pytest

from tickwire.alpaca.models import Trade as AlpacaTrade
from tickwire.alpaca.tables import alpaca_tables
from tickwire.events import Connected, DecodeError, Event, RawEvent, Reconnected
from tickwire.massive.models import EquityAggMin, EquityTrade, ForexQuote
from tickwire.massive.tables import massive_tables
from tickwire.polymarket_us.events import (
    AccountBalanceSnapshot,
    AccountBalanceUpdate,
    Balance,
    Execution,
    MarketData,
    MarketStats,
    Order,
    OrderUpdate,
    Position,
    PositionUpdate,
    PriceLevel,
    Trade,
)
from tickwire.polymarket_us.tables import polymarket_tables
from tickwire.provider import get_provider
from tickwire.sinks import NatsJetStreamSink, RedisStreamSink
from tickwire.tables import (
    Column,
    TableSpec,
    column_type,
    columns_of,
    event_decoder,
    event_id,
    group_by_table,
    struct_spec,
    tagged_decoder,
)

T0 = 1_700_000_000_000
D = Decimal


def book(slug: str = "btc-100k-2026", t: int = T0 * 1_000_000) -> MarketData:
    return MarketData(
        request_id="md-1",
        market_slug=slug,
        bids=[PriceLevel(price=D("0.540"), qty=D("10")), PriceLevel(price=D("0.550"), qty=D("25.5"))],
        offers=[PriceLevel(price=D("0.580"), qty=D("7")), PriceLevel(price=D("0.560"), qty=D("3"))],
        state="MARKET_STATE_OPEN",
        stats=MarketStats(last_trade_px=D("0.555"), shares_traded=D("1200")),
        transact_time=t,
    )


def test_massive_table_names_and_columns_are_unchanged() -> None:
    stocks = massive_tables("stocks")
    assert stocks.namespace == "massive.stocks"
    assert sorted(t.name for t in stocks.tables()) == [
        "stocks_aggs_minute",
        "stocks_aggs_second",
        "stocks_fmv",
        "stocks_imbalances",
        "stocks_launchpad_values",
        "stocks_luld",
        "stocks_quotes",
        "stocks_trades",
        "stocks_unknown",
    ]
    trades = stocks.table_for(EquityTrade)
    assert trades is not None and trades.column_names == [
        "ev",
        "symbol",
        "exchange",
        "id",
        "tape",
        "price",
        "size",
        "fractional_shares",
        "conditions",
        "timestamp",
        "sequence_number",
        "trf_id",
        "trf_timestamp",
        "ts",
    ]
    assert [c.type for c in trades.columns if c.name in ("id", "price", "conditions")] == [
        "str",
        "float",
        "ints",
    ]
    assert trades.key[:2] == ("symbol", "timestamp") and trades.time_column == "timestamp"
    crypto = {t.name for t in massive_tables("crypto").tables()}
    assert {"crypto_trades", "crypto_books", "crypto_launchpad_aggs_minute", "crypto_unknown"} <= crypto
    forex = massive_tables("forex").table_for(ForexQuote)
    assert (
        forex is not None and forex.name == "forex_quotes" and "symbol" in forex.column_names
    )  # pair → symbol
    assert massive_tables("futures/cme").namespace == "massive.futures/cme"
    assert {t.name for t in massive_tables("futures/cme").tables()} >= {"futures_trades", "futures_quotes"}
    assert get_provider("polygon").tables("stocks") is stocks


def test_massive_subjects_keys_and_streams_are_unchanged() -> None:
    stocks = massive_tables("stocks")
    trade = EquityTrade(symbol="AAPL", price=1.0, size=1, timestamp=T0)
    redis = RedisStreamSink("redis://127.0.0.1:1/0", stocks)
    assert redis.stream_key(trade) == "md:massive:stocks:T"
    assert (
        RedisStreamSink("redis://x", stocks, per_symbol=True).stream_key(trade) == "md:massive:stocks:T:AAPL"
    )
    nats = NatsJetStreamSink("nats://127.0.0.1:1", stocks)
    assert nats.subject(trade) == "md.massive.stocks.T.AAPL" and nats.stream == "MD_MASSIVE_STOCKS"
    odd = EquityTrade(symbol="BRK.B", price=1.0, size=1, timestamp=T0)
    assert nats.subject(odd) == "md.massive.stocks.T.BRK_B"
    assert stocks.route(RawEvent(type="ZZ", data=b"{}")) == ("raw", "_")


def test_column_types_follow_the_annotations() -> None:
    assert column_type(int | None) == "int"
    assert column_type(Decimal | None) == "decimal"
    assert column_type(bool) == "bool"
    assert column_type(int | float) == "float"
    assert column_type(int | str) == "str"
    assert column_type(list[int] | None) == "ints"
    assert column_type(list[PriceLevel]) == "json"
    trades = struct_spec("t", Trade, time_column="trade_time")
    assert {c.name: c.type for c in trades.columns}["price"] == "decimal"
    with pytest.raises(ValueError, match="no column"):
        struct_spec("t", Trade, time_column="nope")
    with pytest.raises(ValueError, match="'ev' to 'ts'"):
        TableSpec("x", "x", Trade, (Column("price", "decimal"),))


def test_grouping_skips_control_events_and_keeps_unknown_ones() -> None:
    stocks = massive_tables("stocks")
    raw = RawEvent(type="ZZ", data=b'{"ev":"ZZ","x":1}')
    bar = EquityAggMin(
        symbol="A", open=1, close=1, high=1, low=1, volume=1, start_timestamp=T0, end_timestamp=T0
    )
    batch: list[Event] = [
        Connected(url="ws://x", epoch=1, at=0.0),
        EquityTrade(symbol="A", price=1.0, size=1, timestamp=T0),
        raw,
        bar,
        Reconnected(gap_start=0.0, gap_end=1.0, attempts=1, epoch=2, resubscribed=[]),
    ]
    groups = {spec.name: evs for spec, evs in group_by_table(stocks, batch).items()}
    assert sorted(groups) == ["stocks_aggs_minute", "stocks_trades", "stocks_unknown"]
    unknown = next(s for s in stocks.tables() if s.name == "stocks_unknown")
    assert columns_of(unknown, [raw]) == {
        "ev": ["raw"],
        "type": ["ZZ"],
        "data": ['{"ev":"ZZ","x":1}'],
        "ts": [None],
    }


def test_polymarket_books_are_top_of_book_plus_depth() -> None:
    tables = polymarket_tables("markets")
    assert tables.namespace == "polymarket_us.markets"
    spec = tables.table_for(MarketData)
    assert spec is not None and spec.name == "polymarket_us_books"
    row = {k: v[0] for k, v in columns_of(spec, [book()]).items()}
    assert (row["best_bid"], row["best_bid_qty"], row["best_ask"], row["best_ask_qty"]) == (
        D("0.550"),
        D("25.5"),
        D("0.560"),
        D("3"),
    )
    assert row["mid"] == D("0.555") and row["spread"] == D("0.010")
    assert (row["bid_levels"], row["ask_levels"]) == (2, 2)
    assert json.loads(row["bids"]) == [[0.55, 25.5], [0.54, 10]]  # best first, numbers
    assert row["asks"] == "[[0.560,3],[0.580,7]]"  # exact decimal text
    assert row["last_trade_px"] == D("0.555") and row["open_px"] is None
    assert row["ts"] == T0 * 1_000_000 and row["market_slug"] == "btc-100k-2026"
    empty = MarketData(request_id="r", market_slug="m", bids=[], offers=[])
    row = {k: v[0] for k, v in columns_of(spec, [empty]).items()}
    assert row["best_bid"] is None and row["mid"] is None and row["bids"] == "[]" and row["ts"] is None
    trade = Trade(request_id="t", market_slug="m", price=D("0.5"), quantity=D("2"), trade_time=T0 * 1_000_000)
    assert tables.route(trade) == ("trade", "m")
    assert {t.name for t in tables.tables()} == {
        "polymarket_us_books",
        "polymarket_us_prices",
        "polymarket_us_trades",
        "polymarket_us_unknown",
    }


def test_polymarket_private_events_are_flattened() -> None:
    tables = polymarket_tables("private")
    order = Order(
        id="o-1", market_slug="fed-cut-june", side="ORDER_SIDE_BUY", price=D("0.42"), quantity=D("10")
    )
    update = OrderUpdate(
        request_id="order-1",
        execution=Execution(
            id="exec-7",
            order=order,
            last_shares=D("2.5"),
            last_px=D("0.42"),
            type="EXECUTION_TYPE_PARTIAL_FILL",
        ),
    )
    spec = tables.table_for(OrderUpdate)
    assert spec is not None and spec.name == "polymarket_us_orders" and spec.key == ("execution_id",)
    row = {k: v[0] for k, v in columns_of(spec, [update]).items()}
    assert (row["execution_id"], row["order_id"], row["market_slug"], row["side"]) == (
        "exec-7",
        "o-1",
        "fed-cut-june",
        "ORDER_SIDE_BUY",
    )
    assert (row["price"], row["last_shares"], row["ts"]) == (D("0.42"), D("2.5"), None)
    bare = OrderUpdate(request_id="r", execution=Execution(id="e"))  # no order: nulls, no error
    assert columns_of(spec, [bare])["order_id"] == [None]
    assert tables.route(update) == ("order_update", "fed-cut-june")

    pos = PositionUpdate(
        request_id="p",
        market_slug="m",
        before=Position(net_position=D("1")),
        after=Position(net_position=D("3"), cost=D("1.26")),
        update_time=T0 * 1_000_000,
    )
    pspec = tables.table_for(PositionUpdate)
    assert pspec is not None
    prow = {k: v[0] for k, v in columns_of(pspec, [pos]).items()}
    assert (prow["net_position"], prow["net_position_before"], prow["cost"]) == (D("3"), D("1"), D("1.26"))
    assert prow["ts"] == T0 * 1_000_000

    bal = AccountBalanceUpdate(
        request_id="b",
        before=Balance(current_balance=D("10")),
        after=Balance(current_balance=D("7.5")),
        id="x",
    )
    bspec = tables.table_for(AccountBalanceUpdate)
    assert bspec is not None and bspec.name == "polymarket_us_balances"
    brow = {k: v[0] for k, v in columns_of(bspec, [bal]).items()}
    assert (brow["currency"], brow["current_balance"], brow["current_balance_before"]) == (
        "USD",
        D("7.5"),
        D("10"),
    )
    snap = AccountBalanceSnapshot(
        request_id="s", balances=[Balance(current_balance=D("100"), buying_power=D("90"))]
    )
    sspec = tables.table_for(AccountBalanceSnapshot)
    assert sspec is not None
    srow = {k: v[0] for k, v in columns_of(sspec, [snap]).items()}
    assert srow["buying_power"] == D("90") and json.loads(srow["balances"])[0]["current_balance"] == 100
    assert tables.table_for(MarketData) is None  # a markets event is not a private table


def test_stored_events_read_back_exactly_and_bad_ones_become_decode_errors() -> None:
    enc = msgspec.json.Encoder()
    for tables, ev in (
        (
            massive_tables("stocks"),
            EquityTrade(symbol="AAPL", price=1.5, size=3, timestamp=T0, conditions=[1]),
        ),
        (polymarket_tables("markets"), book()),
        (polymarket_tables("markets"), RawEvent(type=None, data=b'{"odd":1}')),
    ):
        decode = event_decoder(tables)
        back = decode(enc.encode(ev))
        assert back == ev and event_id(back) == event_id(ev)
    # Alpaca tags its events by ``T``, the engine's by ``ev``: one registry may hold both
    alpaca = alpaca_tables("iex")
    trade = AlpacaTrade(symbol="AAPL", timestamp=T0 * 1_000_000, price=1.5, size=2.0, conditions=["@"])
    unknown = RawEvent(type="zz", data=b'{"T":"zz"}')
    read = tagged_decoder([*(spec.cls for spec in alpaca.tables()), RawEvent])
    assert read(enc.encode(trade)) == trade and read(enc.encode(unknown)) == unknown
    assert event_decoder(alpaca)(enc.encode(trade)) == trade
    with pytest.raises(msgspec.ValidationError):
        read(b'{"T":"nope"}')
    bad = event_decoder(polymarket_tables("markets"))(b'{"ev":"T","p":1}')
    assert isinstance(bad, DecodeError) and bad.data == b'{"ev":"T","p":1}'
    assert event_id(book()) == event_id(book()) != event_id(book(t=T0 * 1_000_000 + 1))
