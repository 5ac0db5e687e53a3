"""Bar aggregation: equal to the simulator's A/AM bars for the same trades; late trades; grace."""

from __future__ import annotations

import asyncio
from typing import Literal

import pytest

from tests.massive.client.conftest import fast_client
from tickwire.bars import Bar, BarAggregator
from tickwire.massive.models import EquityAgg, EquityAggMin, EquityTrade
from tickwire.sim import MassiveSimulator
from tickwire.sim.market import MarketModel, Rates

MS = 1_000_000
# a fixed, busy window: 09:30-09:34 UTC on 2025-03-03 (any window works; the model is deterministic)
START_MS = 1_741_014_000_000  # Monday 2025-03-03 10:00 ET: the regular session, when indices move too
END_MS = START_MS + 4 * 60_000


def _aggregate(model: MarketModel, cluster: str, ticker: str, interval: float, digits: int) -> list[Bar]:
    inst = model.instrument(cluster, ticker)
    agg = BarAggregator(
        interval, vwap_digits=inst.decimals + digits, volume_digits=8 if inst.size_scale != 1 else None
    )
    for t in model.trades(cluster, ticker, START_MS, END_MS):
        agg.add(ticker, t.price, float(t.size), t.timestamp * MS)
    return agg.flush()


@pytest.mark.parametrize(
    ("cluster", "ticker"),
    [("stocks", "AAPL"), ("stocks", "SPY"), ("crypto", "BTC-USD"), ("indices", "I:SPX")],
)
@pytest.mark.parametrize("span", ["second", "minute"])
def test_bars_equal_the_simulators_bars(cluster: str, ticker: str, span: Literal["second", "minute"]) -> None:
    model = MarketModel(seed=5, rates=Rates(trades_per_second=8.0, index_values_per_second=4.0))
    expected = model.bars(cluster, ticker, START_MS, END_MS, span)
    got = _aggregate(model, cluster, ticker, 1.0 if span == "second" else 60.0, 2)
    assert len(expected) > (100 if span == "second" else 3)
    assert [(b.start_ms, b.end_ms) for b in got] == [(b.start, b.end) for b in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.final
        assert (mine.open, mine.high, mine.low, mine.close) == (
            theirs.open,
            theirs.high,
            theirs.low,
            theirs.close,
        )
        assert (mine.volume, mine.vwap, mine.trades) == (theirs.volume, theirs.vwap, theirs.transactions)


def test_open_bar_updates_and_close_until_finalises_once() -> None:
    agg = BarAggregator(60.0)
    t0 = 1_700_000_040 * 10**9  # a minute boundary
    assert agg.current("X") is None
    b1 = agg.add("X", 10.0, 100, t0 + 1)
    assert b1 is not None and not b1.final and (b1.open, b1.close, b1.trades) == (10.0, 10.0, 1)
    b2 = agg.add("X", 12.0, 100, t0 + 2 * 10**9)
    b3 = agg.add("X", 9.0, 200, t0 + 3 * 10**9)
    assert b2 is not None and b3 is not None
    assert (b3.open, b3.high, b3.low, b3.close, b3.volume, b3.trades) == (10.0, 12.0, 9.0, 9.0, 400.0, 3)
    assert b3.vwap == pytest.approx((1000 + 1200 + 1800) / 400)
    agg.add("Y", 5.0, 1, t0 + 61 * 10**9)  # next minute, another symbol
    assert agg.close_until(t0 + 59 * 10**9) == []
    done = agg.close_until(t0 + 60 * 10**9)
    assert [(b.symbol, b.start_ns, b.final) for b in done] == [("X", t0, True)]
    assert done[0].vwap == b3.vwap
    assert agg.close_until(t0 + 60 * 10**9) == []  # never twice
    assert [b.symbol for b in agg.flush()] == ["Y"]
    assert agg.finalised == 2


def test_late_trade_within_grace_updates_the_older_bar_after_it_is_counted() -> None:
    agg = BarAggregator(1.0, grace=2.0)
    s = 1_700_000_000 * 10**9
    agg.add("X", 1.0, 1, s)
    agg.add("X", 2.0, 1, s + 10**9)  # the next second's bar is open too
    assert agg.close_until(s + 2 * 10**9) == []  # within grace: still open
    late = agg.add("X", 3.0, 1, s + 5)  # late, but within grace: updates the older bar
    assert late is not None and late.start_ns == s and (late.high, late.close, late.trades) == (3.0, 3.0, 2)
    assert [b.start_ns for b in agg.close_until(s + 3 * 10**9)] == [s]
    assert agg.add("X", 4.0, 1, s + 6) is None  # its bar is final: counted, not folded elsewhere
    assert agg.late == 1 and agg.trades == 3
    cur = agg.current("X")
    assert cur is not None and cur.start_ns == s + 10**9 and cur.trades == 1


def test_out_of_order_trades_keep_open_and_close_by_time() -> None:
    agg = BarAggregator(10.0)
    s = 1_700_000_000 * 10**9
    agg.add("X", 5.0, 1, s + 5 * 10**9)
    agg.add("X", 4.0, 1, s + 1 * 10**9)  # earlier time arrives later: it is the open
    agg.add("X", 6.0, 1, s + 3 * 10**9)  # not the latest time: not the close
    (bar,) = agg.flush()
    assert (bar.open, bar.high, bar.low, bar.close) == (4.0, 6.0, 4.0, 5.0)


def test_bad_intervals_are_rejected() -> None:
    with pytest.raises(ValueError, match="interval"):
        BarAggregator(0)
    with pytest.raises(ValueError, match="grace"):
        BarAggregator(1.0, grace=-1)


async def test_streamed_trades_aggregate_to_the_streamed_A_and_AM_bars() -> None:
    """Over a live window: trades received → our bars equal the simulator's streamed A and AM."""
    async with MassiveSimulator(seed=3, tick_interval=0.02, rate=6.0, speed=60.0, close_timeout=0.3) as sim:
        client = fast_client(sim, subscriptions=("T.AAPL", "A.AAPL", "AM.AAPL"))
        seconds, minutes = BarAggregator(1.0, vwap_digits=4), BarAggregator(60.0, vwap_digits=4)
        streamed_a: dict[int, EquityAgg] = {}
        streamed_am: dict[int, EquityAgg] = {}
        first_trade_ms: int | None = None
        async with client, asyncio.timeout(20):
            async for ev in client:
                if isinstance(ev, EquityTrade) and ev.timestamp is not None:
                    first_trade_ms = first_trade_ms or ev.timestamp
                    for agg in (seconds, minutes):
                        agg.add_trade(ev)
                elif isinstance(ev, EquityAggMin):
                    streamed_am[ev.start_timestamp or 0] = ev
                elif isinstance(ev, EquityAgg):
                    streamed_a[ev.start_timestamp or 0] = ev
                if len(streamed_am) >= 4:
                    break
        assert first_trade_ms is not None
        last_am_end = max(b.end_timestamp or 0 for b in streamed_am.values())
        for agg, streamed, span in ((seconds, streamed_a, 1_000), (minutes, streamed_am, 60_000)):
            full_from = first_trade_ms - first_trade_ms % span + span  # bars entirely after subscribing
            ours = {b.start_ms: b for b in agg.close_until(last_am_end * MS) if b.start_ms >= full_from}
            theirs = {
                s: b for s, b in streamed.items() if full_from <= s and (b.end_timestamp or 0) <= last_am_end
            }
            assert len(theirs) >= (60 if span == 1_000 else 2)
            assert sorted(ours) == sorted(theirs)
            for start, bar in ours.items():
                w = theirs[start]
                assert (bar.open, bar.high, bar.low, bar.close) == (w.open, w.high, w.low, w.close)
                assert (bar.volume, bar.vwap, bar.end_ms) == (w.volume, w.vwap, w.end_timestamp)
