"""alpaca-py's own streams, unmodified (``url_override``), against the simulator: typed models with
the simulator's values, for stocks (SIP and the FAKEPACA test stream), crypto (order books too),
options and news; and alpaca-py's reconnect resubscribing exactly, as the simulator recorded it."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from tickwire.sim.alpaca import FAKEPACA, SIM_KEY_ID, SIM_SECRET_KEY, AlpacaThread, alpaca_universe, wire
from tickwire.sim.market import MarketModel, Rates

from .conftest import fast_sim
from .streams import Running, of_type

with warnings.catch_warnings():  # alpaca-py imports websockets.legacy, deprecated since websockets 14
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.data.live import CryptoDataStream, NewsDataStream, OptionDataStream, StockDataStream
    from alpaca.data.models import Bar, News, Orderbook, Quote, Trade

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(ts: datetime) -> int:
    return (ts - _EPOCH) // timedelta(milliseconds=1)


def _dt(t: wire.WireTime) -> datetime:
    return _EPOCH + timedelta(microseconds=t.ns // 1000)


def _sim_trade(sim: AlpacaThread, feed: str, trade: Trade) -> Any:
    """The simulator's trade item that ``trade`` (an alpaca-py model) was decoded from."""
    ms = _ms(trade.timestamp)
    found = [t for t in sim.trades(feed, trade.symbol, ms, ms + 1) if _dt(t.t) == trade.timestamp]
    assert found, f"no simulator trade of {trade.symbol} at {trade.timestamp}"
    return next((t for t in found if t.p == trade.price and t.s == trade.size), found[0])


def test_stock_stream_receives_the_simulators_trades_quotes_and_bars(alpaca_thread: AlpacaThread) -> None:
    sim = alpaca_thread
    stream = StockDataStream(SIM_KEY_ID, SIM_SECRET_KEY, url_override=sim.url_for("sip"))
    with Running(stream) as run:
        stream.subscribe_trades(run.handler, "AAPL", "MSFT")
        stream.subscribe_quotes(run.handler, "AAPL")
        stream.subscribe_bars(run.handler, "AAPL")
        items = run.wait(
            lambda got: len(of_type(got, Trade)) >= 20 and of_type(got, Quote) and of_type(got, Bar),
            what="trades, quotes and a bar",
        )
    trades = of_type(items, Trade)
    assert {t.symbol for t in trades} == {"AAPL", "MSFT"}
    for trade in trades[:20]:
        mine = _sim_trade(sim, "sip", trade)
        assert (trade.id, trade.price, trade.size) == (mine.i, mine.p, mine.s)
        assert trade.exchange == mine.x and trade.conditions == mine.c and trade.tape == mine.z
    quote = of_type(items, Quote)[0]
    ms = _ms(quote.timestamp)
    mine_q = [q for q in sim.quotes("sip", "AAPL", ms, ms + 1) if _dt(q.t) == quote.timestamp]
    assert mine_q and (quote.bid_price, quote.ask_price, quote.bid_size) == (
        mine_q[0].bp,
        mine_q[0].ap,
        mine_q[0].bs,
    )
    bar = of_type(items, Bar)[0]
    start = _ms(bar.timestamp)
    (mine_b,) = sim.bars("sip", "AAPL", start, start + 1)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count, bar.vwap) == (
        mine_b.o,
        mine_b.h,
        mine_b.l,
        mine_b.c,
        mine_b.v,
        mine_b.n,
        mine_b.vw,
    )
    handshake = sim.handshakes[0]
    assert handshake.encoding == "msgpack" and handshake.user_agent.startswith("APCA-PY/")


def test_the_test_stream_serves_fakepaca(alpaca_thread: AlpacaThread) -> None:
    stream = StockDataStream(SIM_KEY_ID, SIM_SECRET_KEY, url_override=alpaca_thread.url_for("test"))
    with Running(stream) as run:
        stream.subscribe_trades(run.handler, FAKEPACA)
        items = run.wait(lambda got: len(got) >= 3, what="FAKEPACA trades")
    assert {i.symbol for i in items} == {FAKEPACA}
    for trade in items:
        assert _sim_trade(alpaca_thread, "test", trade).i == trade.id
    assert FAKEPACA not in alpaca_thread.simulator.symbols("sip")


def test_crypto_stream_trades_quotes_and_an_order_book_that_matches_the_model(
    alpaca_thread: AlpacaThread,
) -> None:
    stream = CryptoDataStream(SIM_KEY_ID, SIM_SECRET_KEY, url_override=alpaca_thread.url_for("crypto"))
    with Running(stream) as run:
        stream.subscribe_trades(run.handler, "BTC/USD")
        stream.subscribe_quotes(run.handler, "BTC/USD")
        stream.subscribe_orderbooks(run.handler, "BTC/USD")
        items = run.wait(
            lambda got: len(of_type(got, Orderbook)) >= 4 and of_type(got, Trade) and of_type(got, Quote),
            what="crypto trades, quotes and order book updates",
        )
    books = of_type(items, Orderbook)
    assert books[0].reset and not any(b.reset for b in books[1:])
    bids = {q.price: q.size for q in books[0].bids}
    asks = {q.price: q.size for q in books[0].asks}
    for update in books[1:]:
        for side, levels in ((bids, update.bids), (asks, update.asks)):
            for level in levels:
                if level.size == 0:
                    side.pop(level.price, None)
                else:
                    side[level.price] = level.size
        assert max(bids) < min(asks), "crossed book"
    model = MarketModel(7, Rates(trades_per_second=1.0), alpaca_universe())
    inst = model.instrument("crypto", "BTC-USD")
    expected = model.book(inst, _ms(books[-1].timestamp) // 1000)
    assert sorted(bids.items(), reverse=True) == list(expected.bids)
    assert sorted(asks.items()) == list(expected.asks)
    trade = of_type(items, Trade)[0]
    mine = _sim_trade(alpaca_thread, "crypto", trade)
    assert trade.symbol == "BTC/USD" and trade.id == mine.i


def test_option_stream_trades_and_quotes_in_msgpack(alpaca_thread: AlpacaThread) -> None:
    symbol = "SPY251219C00600000"
    stream = OptionDataStream(SIM_KEY_ID, SIM_SECRET_KEY, url_override=alpaca_thread.url_for("indicative"))
    with Running(stream) as run:
        stream.subscribe_trades(run.handler, symbol)
        stream.subscribe_quotes(run.handler, symbol)
        items = run.wait(
            lambda got: of_type(got, Trade) and of_type(got, Quote), what="option trades and quotes"
        )
    trade = of_type(items, Trade)[0]
    mine = _sim_trade(alpaca_thread, "indicative", trade)
    assert trade.symbol == symbol and (trade.price, trade.size, trade.exchange) == (mine.p, mine.s, mine.x)
    assert of_type(items, Quote)[0].symbol == symbol


def test_news_stream_gets_articles(alpaca_thread: AlpacaThread) -> None:
    stream = NewsDataStream(SIM_KEY_ID, SIM_SECRET_KEY, url_override=alpaca_thread.url_for("news"))
    with Running(stream) as run:
        stream.subscribe_news(run.handler, "*")
        items = run.wait(lambda got: len(got) >= 2, what="two articles")
    for article in items:
        assert isinstance(article, News) and article.headline and article.symbols
        assert article.created_at.tzinfo is not None


def test_reconnect_resubscribes_exactly_what_it_had() -> None:
    with fast_sim().run_in_thread() as sim:
        stream = StockDataStream(SIM_KEY_ID, SIM_SECRET_KEY, url_override=sim.url_for("iex"))
        with Running(stream) as run:
            stream.subscribe_trades(run.handler, "AAPL", "NVDA")
            stream.subscribe_quotes(run.handler, "MSFT")
            stream.subscribe_bars(run.handler, "*")
            run.wait(lambda got: len(got) >= 5)
            first = sim.wait_connections(1, "iex", authenticated=True)[0]
            assert sim.drop("iex") == 1
            sim.wait_actions(2, "subscribe", "iex", timeout=15)
            run.seen.clear()
            run.wait(lambda got: len(got) >= 5, what="data after the reconnect")
        subscribes = sim.actions("iex", "subscribe")
        assert subscribes[0].conn_id == first.id and subscribes[1].conn_id != first.id
        assert (
            subscribes[1].channels
            == subscribes[0].channels
            == {
                "trades": ("AAPL", "NVDA"),
                "quotes": ("MSFT",),
                "bars": ("*",),
            }
        )


def test_a_fast_reconnect_meets_406_until_the_dead_session_is_reaped() -> None:
    with fast_sim(reap_window=1.0).run_in_thread() as sim:
        stream = StockDataStream(SIM_KEY_ID, SIM_SECRET_KEY, url_override=sim.url_for("iex"))
        with Running(stream) as run:
            stream.subscribe_trades(run.handler, "AAPL")
            run.wait(lambda got: len(got) >= 1)
            sim.drop("iex")
            sim.wait_counter("connection_limit", 1, timeout=10)
            sim.wait_actions(2, "subscribe", "iex", timeout=20)
        assert (406 in {code for _, code in sim.errors_sent()}) and sim.counters.auth_success >= 2
