"""The market model: determinism, bars consistent with their trades, every event shape on the wire."""

from __future__ import annotations

import itertools
import math

import pytest

from tickwire.sim import MarketModel, MassiveSimulator, Rates
from tickwire.sim.market import MINUTE_MS

from .sim_client import open_client

NOW_MS = 1_764_000_000_000  # a fixed instant (2025-11-24), so these tests do not depend on the clock


def test_same_seed_same_trades_and_pure_per_second() -> None:
    a, b = MarketModel(seed=3), MarketModel(seed=3)
    window = (NOW_MS, NOW_MS + 5_000)
    assert a.trades("stocks", "AAPL", *window) == b.trades("stocks", "AAPL", *window)
    assert a.quotes("crypto", "BTC-USD", *window) == b.quotes("crypto", "BTC-USD", *window)
    # Order of computation does not matter: a fresh model asked for a later second first agrees.
    c = MarketModel(seed=3)
    later = c.trades("stocks", "AAPL", NOW_MS + 4_000, NOW_MS + 5_000)
    assert later == [t for t in a.trades("stocks", "AAPL", *window) if t.timestamp >= NOW_MS + 4_000]
    assert MarketModel(seed=4).trades("stocks", "AAPL", *window) != a.trades("stocks", "AAPL", *window)


def test_trades_are_plausible() -> None:
    model = MarketModel(seed=1, rates=Rates(trades_per_second=10))
    trades = model.trades("stocks", "MSFT", NOW_MS, NOW_MS + 10_000)
    assert len(trades) > 20
    assert all(NOW_MS <= t.timestamp < NOW_MS + 10_000 for t in trades)
    assert [t.timestamp for t in trades] == sorted(t.timestamp for t in trades)
    seqs = [t.sequence for t in trades]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(t.size > 0 and t.tape == 3 for t in trades)
    assert max(t.price for t in trades) / min(t.price for t in trades) < 1.02
    quotes = model.quotes("stocks", "MSFT", NOW_MS, NOW_MS + 10_000)
    assert all(q.ask_price > q.bid_price for q in quotes)


@pytest.mark.parametrize(
    ("cluster", "ticker"),
    [("stocks", "AAPL"), ("options", "O:SPY251219C00600000"), ("crypto", "ETH-USD"), ("futures", "ESZ5")],
)
def test_bars_are_computed_from_their_trades(cluster: str, ticker: str) -> None:
    model = MarketModel(seed=5, rates=Rates(trades_per_second=8))
    start = NOW_MS - NOW_MS % MINUTE_MS
    bars = model.bars(cluster, ticker, start, start + 3 * MINUTE_MS)
    assert bars, "busy tickers have minute bars"
    for bar in bars:
        trades = model.trades(cluster, ticker, bar.start, bar.end)
        prices = [t.price for t in trades]
        volume = sum(t.size for t in trades)
        assert (bar.open, bar.close) == (prices[0], prices[-1])
        assert (bar.high, bar.low) == (max(prices), min(prices))
        assert bar.volume == pytest.approx(volume, abs=1e-8)
        assert bar.transactions == len(trades)
        assert bar.vwap == pytest.approx(
            sum(p * t.size for p, t in zip(prices, trades, strict=True)) / volume, rel=1e-6
        )
        assert bar.end - bar.start == MINUTE_MS
    seconds = model.bars(cluster, ticker, start, start + MINUTE_MS, span="second")
    assert sum(b.transactions for b in seconds) == bars[0].transactions
    # Day fields: day volume grows by exactly each bar's volume.
    for prev, cur in itertools.pairwise(seconds):
        assert cur.day_volume == pytest.approx(prev.day_volume + cur.volume, abs=1e-6)
        assert cur.official_open == prev.official_open
    assert all(0.8 * b.close < b.day_vwap < 1.2 * b.close for b in bars)


def test_index_and_forex_bars() -> None:
    model = MarketModel(seed=2)
    start = NOW_MS - NOW_MS % MINUTE_MS
    (bar,) = model.bars("indices", "I:SPX", start, start + 1)
    values = model.trades("indices", "I:SPX", start, start + MINUTE_MS)
    assert (bar.open, bar.high, bar.low, bar.close) == (
        values[0].price,
        max(v.price for v in values),
        min(v.price for v in values),
        values[-1].price,
    )
    (fx,) = model.bars("forex", "EUR/USD", start, start + 1)
    quotes = model.quotes("forex", "EUR/USD", start, start + MINUTE_MS)
    assert fx.volume == len(quotes) == fx.transactions
    assert fx.open == quotes[0].bid_price


async def test_streamed_aggregates_equal_model_bars_and_trades(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"), subscribe="T.AAPL,A.AAPL")
    events = await client.collect(lambda ev: sum(e["ev"] == "A" for e in ev) >= 2, within=5)
    second_bars = [e for e in events if e["ev"] == "A"]
    for agg in second_bars:
        (bar,) = sim.bars("stocks", "AAPL", agg["s"], agg["e"], span="second")
        assert (agg["o"], agg["h"], agg["l"], agg["c"], agg["v"], agg["vw"]) == (
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume,
            bar.vwap,
        )
        assert (agg["av"], agg["op"], agg["a"], agg["z"]) == (
            bar.day_volume,
            bar.official_open,
            bar.day_vwap,
            bar.average_size,
        )
        streamed = [e for e in events if e["ev"] == "T" and agg["s"] <= e["t"] < agg["e"]]
        if streamed:
            model = sim.trades("stocks", "AAPL", agg["s"], agg["e"])
            assert [(e["p"], e["s"], e["q"]) for e in streamed] == [
                (t.price, t.size, t.sequence) for t in model if t.timestamp in {e["t"] for e in streamed}
            ]
    await client.ws.close()


EXPECTED_KEYS = {
    ("stocks", "T"): {"ev", "sym", "x", "i", "z", "p", "s", "t", "q"},
    ("stocks", "Q"): {"ev", "sym", "bx", "bp", "bs", "ax", "ap", "as", "t", "q", "z"},
    ("stocks", "A"): {"ev", "sym", "v", "av", "op", "vw", "o", "c", "h", "l", "a", "z", "s", "e"},
    ("stocks", "LULD"): {"ev", "T", "h", "l", "i", "z", "t", "q"},
    ("stocks", "NOI"): {"ev", "T", "t", "at", "a", "i", "x", "o", "p", "b"},
    ("stocks", "FMV"): {"ev", "fmv", "sym", "t"},
    ("stocks", "LV"): {"ev", "val", "sym", "t"},
    ("options", "T"): {"ev", "sym", "x", "p", "s", "c", "t", "q"},
    ("options", "Q"): {"ev", "sym", "bx", "ax", "bp", "ap", "bs", "as", "t", "q"},
    ("options", "A"): {"ev", "sym", "v", "av", "op", "vw", "o", "c", "h", "l", "a", "z", "s", "e"},
    ("forex", "C"): {"ev", "p", "x", "a", "b", "t"},
    ("forex", "CAS"): {"ev", "pair", "o", "c", "h", "l", "v", "s", "e"},
    ("forex", "FMV"): {"ev", "fmv", "sym", "t"},
    ("crypto", "XT"): {"ev", "pair", "p", "t", "s", "c", "i", "x", "r"},
    ("crypto", "XQ"): {"ev", "pair", "bp", "bs", "ap", "as", "t", "x", "r"},
    ("crypto", "XAS"): {"ev", "pair", "o", "c", "h", "l", "v", "s", "e", "vw", "z"},
    ("crypto", "XL2"): {"ev", "pair", "b", "a", "t", "x", "r"},
    ("crypto", "LV"): {"ev", "val", "sym", "t"},
    ("indices", "V"): {"ev", "val", "T", "t"},
    ("indices", "A"): {"ev", "sym", "op", "o", "c", "h", "l", "s", "e"},
    ("futures", "T"): {"ev", "sym", "p", "s", "t", "q"},
    ("futures", "Q"): {"ev", "sym", "bp", "bs", "bt", "ap", "as", "at", "t"},
    ("futures", "A"): {"ev", "sym", "v", "dv", "o", "c", "h", "l", "n", "s", "e"},
}


@pytest.mark.parametrize("cluster", ["stocks", "options", "forex", "crypto", "indices", "futures"])
async def test_every_channel_streams_with_the_spec_keys(cluster: str) -> None:
    rates = Rates(
        trades_per_second=50,
        forex_quotes_per_second=50,
        index_values_per_second=5,
        luld_interval=1,
        noi_interval=1,
    )
    channels = sorted({ch for (c, ch) in EXPECTED_KEYS if c == cluster})
    async with MassiveSimulator(seed=11, rate=rates, tick_interval=0.02) as sim:
        client = await open_client(sim.url_for(cluster), subscribe=",".join(f"{ch}.*" for ch in channels))
        events = await client.collect(lambda ev: {e["ev"] for e in ev} >= set(channels), within=6)
        now = sim.now_ms()
        for e in events:
            keys = EXPECTED_KEYS.get((cluster, e["ev"]))
            if keys is None:
                continue
            optional = {"c", "trfi", "trft"} if (cluster, e["ev"]) == ("stocks", "T") else set()
            assert keys - optional <= set(e) <= keys | optional, e
            t = e.get("t", e.get("e"))
            assert isinstance(t, int)
            ms = t // 1_000 if e["ev"] == "LULD" else t // 1_000_000 if e["ev"] in {"NOI", "FMV", "LV"} else t
            assert abs(now - ms) < 3_000, e
        if cluster == "crypto":
            assert all(e["sym"].startswith("X:") for e in events if e["ev"] == "LV")
            assert all(isinstance(e["s"], float) for e in events if e["ev"] == "XT")
        if cluster == "forex":
            assert all("/" in e["p"] for e in events if e["ev"] == "C")
            assert all(e["sym"].startswith("C:") for e in events if e["ev"] == "FMV")
        await client.ws.close()


async def test_futures_venue_path_serves_only_its_contracts() -> None:
    async with MassiveSimulator(seed=1, rate=50, tick_interval=0.02) as sim:
        client = await open_client(sim.url_for("futures/comex"), subscribe="T.*")
        events = await client.collect(lambda ev: len(ev) >= 10)
        assert {e["sym"] for e in events} <= {"GCZ5", "SIZ5"}
        await client.ws.close()


def test_prefixed_tickers_resolve_to_the_same_instrument() -> None:
    model = MarketModel(seed=1)
    start = NOW_MS - NOW_MS % MINUTE_MS
    btc = model.bars("crypto", "BTC-USD", start, start + 1)
    assert model.bars("crypto", "X:BTC-USD", start, start + 1) == btc
    assert model.instrument("forex", "C:EURUSD").ticker == "EUR/USD"


def test_spreads_sizes_and_wide_books_stay_sane() -> None:
    model = MarketModel(seed=9)
    start = NOW_MS
    brk = model.trades("stocks", "BRK.A", start, start + 60_000)
    assert all(t.size < 100 for t in brk)
    for cluster, ticker in [("crypto", "DOGE-USD"), ("forex", "USD/JPY"), ("futures", "ZNZ5")]:
        inst = model.instrument(cluster, ticker)
        for q in model.quotes(cluster, ticker, start, start + 5_000):
            assert q.ask_price > q.bid_price > 0
            assert math.isclose(round(q.bid_price / inst.tick) * inst.tick, q.bid_price, abs_tol=1e-9)
