"""A feed's window logic, without sockets: bars at minute marks, updated bars at :30, the day so far."""

from __future__ import annotations

from tickwire.sim.alpaca import FEEDS, alpaca_universe, wire
from tickwire.sim.alpaca.stream import FeedStream
from tickwire.sim.market import MINUTE_MS, MarketModel, Rates

DAY0 = 1_764_000_000_000 // MINUTE_MS * MINUTE_MS  # a minute mark in a regular session (Mon 11:00 ET)


def test_bar_updated_bar_and_daily_bar_come_at_their_marks_with_the_models_values() -> None:
    model = MarketModel(3, Rates(trades_per_second=2.0), alpaca_universe())
    stream = FeedStream(FEEDS["sip"], model)
    stream.skip(DAY0 - 1)
    wanted = {
        "bars": frozenset({"AAPL"}),
        "updatedBars": frozenset({"AAPL"}),
        "dailyBars": frozenset({"AAPL"}),
    }
    at_mark = stream.collect(DAY0 + 1, wanted)
    assert [p.item.__struct_config__.tag for p in at_mark] == ["b", "d"]
    inst = model.instrument("stocks", "AAPL")
    last = model.minute_bar(inst, DAY0 // MINUTE_MS - 1)
    assert last is not None
    bar, daily = at_mark[0].item, at_mark[1].item
    assert isinstance(bar, wire.Bar) and isinstance(daily, wire.DailyBar)
    assert (bar.o, bar.c, bar.v, bar.n, bar.t.ns) == (
        last.open,
        last.close,
        last.volume,
        last.transactions,
        last.start * 10**6,
    )
    assert (daily.o, daily.c, daily.v, daily.vw) == (
        last.official_open,
        last.close,
        last.day_volume,
        last.day_vwap,
    )
    assert daily.l <= min(daily.o, last.low) and daily.h >= max(daily.o, last.high)
    assert stream.collect(DAY0 + 29_999, wanted) == []
    (updated,) = stream.collect(DAY0 + 30_000, wanted)
    assert isinstance(updated.item, wire.UpdatedBar) and updated.item.c == last.close


def test_delayed_sip_publishes_the_market_of_the_delay_ago() -> None:
    model = MarketModel(3, Rates(trades_per_second=5.0), alpaca_universe())
    stream = FeedStream(FEEDS["delayed_sip"], model, delay_ms=900_000)
    stream.skip(DAY0)
    pieces = stream.collect(DAY0 + 1_000, {"trades": frozenset({"AAPL"})})
    expected = model.trades("stocks", "AAPL", DAY0 - 900_000, DAY0 - 899_000)
    assert [p.item.p for p in pieces] == [t.price for t in expected]  # type: ignore[attr-defined]


def test_corrections_and_cancels_follow_trades_at_their_rates_and_the_same_ones_each_time() -> None:
    model = MarketModel(3, Rates(trades_per_second=20.0), alpaca_universe())

    def run() -> list[tuple[str, int]]:
        stream = FeedStream(
            FEEDS["sip"], model, correction_rate=0.05, cancel_rate=0.05, max_catchup_ms=60_000
        )
        stream.skip(DAY0)
        pieces = stream.collect(DAY0 + 60_000, {"trades": None})
        return [
            (p.channel, p.item.oi if p.channel == "corrections" else p.item.i)
            for p in pieces
            if p.channel != "trades"
        ]  # type: ignore[attr-defined]

    first = run()
    assert {c for c, _ in first} == {"corrections", "cancelErrors"} and first == run()
