"""Simulator realism: US equity sessions and NYSE holidays, 24/7 crypto, 24/5 forex, a U-shaped
intraday volume, a price path without jumps at midnight, and a market clock that starts in a session."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from tickwire.sim import MassiveSimulator
from tickwire.sim.calendar import ET, MarketClock, is_trading_day, nyse_holidays, session_start_ms
from tickwire.sim.market import MarketModel, Rates

MIN = 60_000


def et_ms(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    return int(datetime(y, mo, d, h, mi, tzinfo=ET).timestamp() * 1000)


MODEL = MarketModel(seed=7, rates=Rates(trades_per_second=4))


def trades(ticker: str, start: int, minutes: int, cluster: str = "stocks") -> int:
    return len(MODEL.trades(cluster, ticker, start, start + minutes * MIN))


def test_nyse_holidays_of_2025_and_2026() -> None:
    assert sorted(nyse_holidays(2025)) == [
        date(2025, 1, 1), date(2025, 1, 20), date(2025, 2, 17), date(2025, 4, 18), date(2025, 5, 26),
        date(2025, 6, 19), date(2025, 7, 4), date(2025, 9, 1), date(2025, 11, 27), date(2025, 12, 25),
    ]  # fmt: skip
    assert date(2026, 7, 3) in nyse_holidays(2026)  # July 4th on a Saturday: observed on Friday
    assert date(2022, 12, 31) not in nyse_holidays(2022) and not is_trading_day(date(2022, 12, 31))
    assert is_trading_day(date(2025, 11, 24)) and not is_trading_day(date(2025, 11, 29))


@pytest.mark.parametrize(
    ("when", "what"),
    [
        (et_ms(2025, 11, 23, 11), "Sunday"),
        (et_ms(2025, 12, 25, 11), "Christmas"),
        (et_ms(2025, 11, 24, 2), "2:00 on a Monday"),
        (et_ms(2025, 11, 24, 21), "21:00 on a Monday"),
    ],
)
def test_stocks_do_not_trade_while_closed(when: int, what: str) -> None:
    assert trades("AAPL", when, 10) == 0, what
    assert trades("O:SPY251219C00600000", when, 10, "options") == 0, what
    assert trades("BTC-USD", when, 10, "crypto") > 0, f"crypto trades on {what} too"


def test_extended_hours_trade_thinly_and_the_regular_session_is_u_shaped() -> None:
    day = (2025, 11, 24)
    pre = trades("AAPL", et_ms(*day, 7), 30)
    opening = trades("AAPL", et_ms(*day, 9, 30), 30)
    lunch = trades("AAPL", et_ms(*day, 12, 15), 30)
    closing = trades("AAPL", et_ms(*day, 15, 30), 30)
    after = trades("AAPL", et_ms(*day, 17), 30)
    assert 0 < pre < lunch and 0 < after < lunch
    assert opening > 2 * lunch and closing > 1.7 * lunch
    assert trades("O:SPY251219C00600000", et_ms(*day, 7), 30, "options") == 0  # regular hours only


def test_forex_is_closed_on_the_weekend_and_open_sunday_evening() -> None:
    assert trades("EUR/USD", et_ms(2025, 11, 22, 12), 10, "forex") == 0  # Saturday
    assert trades("EUR/USD", et_ms(2025, 11, 23, 18), 10, "forex") > 0  # Sunday 18:00
    assert trades("EUR/USD", et_ms(2025, 11, 24, 3), 10, "forex") > 0


def test_the_price_path_is_continuous_across_midnight() -> None:
    inst = MODEL.instrument("crypto", "BTC-USD")
    first = et_ms(2025, 11, 1, 0) // 86_400_000
    jumps, steps = [], []
    for day in range(first, first + 20):
        s = (day + 1) * 86_400
        jumps.append(abs(math.log(MODEL.level(inst, s) / MODEL.level(inst, s - 1))))
        steps.append(abs(math.log(MODEL.level(inst, s - 3600) / MODEL.level(inst, s - 3601))))
    assert max(jumps) < 0.002, jumps  # was ~5 %: a new random level every UTC day
    assert max(jumps) < 10 * max(steps) + 1e-4


def test_the_same_seed_gives_the_same_sessions_and_sessions_off_trades_around_the_clock() -> None:
    sunday = et_ms(2025, 11, 23, 11)
    again = MarketModel(seed=7, rates=Rates(trades_per_second=4))
    monday = et_ms(2025, 11, 24, 10)
    assert again.trades("stocks", "AAPL", monday, monday + MIN) == MODEL.trades(
        "stocks", "AAPL", monday, monday + MIN
    )
    flat = MarketModel(seed=7, rates=Rates(trades_per_second=4), sessions=False)
    assert len(flat.trades("stocks", "AAPL", sunday, sunday + MIN)) > 0


@pytest.mark.parametrize(
    ("wall", "start"),
    [
        (et_ms(2025, 11, 24, 12), et_ms(2025, 11, 24, 12)),  # in the session: the wall clock
        (et_ms(2025, 11, 24, 9), et_ms(2025, 11, 21, 11)),  # Monday before the open: Friday 11:00
        (et_ms(2025, 11, 24, 17), et_ms(2025, 11, 24, 11)),  # after the close: that day's 11:00
        (et_ms(2025, 11, 23, 3), et_ms(2025, 11, 21, 11)),  # Sunday night
        (et_ms(2025, 11, 28, 12), et_ms(2025, 11, 28, 12)),  # the day after Thanksgiving trades
        (et_ms(2025, 11, 27, 12), et_ms(2025, 11, 26, 11)),  # Thanksgiving itself does not
    ],
)
def test_the_market_clock_starts_in_a_regular_session(wall: int, start: int) -> None:
    assert session_start_ms(wall) == start


async def test_a_simulator_started_on_a_closed_market_streams_a_session_on_request() -> None:
    clock = MarketClock(et_ms(2025, 11, 23, 11))  # a Sunday
    assert clock.shifted and abs(clock.now_ms() - et_ms(2025, 11, 23, 11)) < 5_000
    async with MassiveSimulator(seed=1, start=et_ms(2025, 11, 24, 11), rate=20) as sim:
        assert abs(sim.now_ms() - et_ms(2025, 11, 24, 11)) < 5_000
        now = sim.now_ms()
        assert len(sim.trades("stocks", "AAPL", now - MIN, now)) > 0
    async with MassiveSimulator(seed=1, start=et_ms(2025, 11, 23, 11), rate=20) as sim:
        now = sim.now_ms()
        assert sim.trades("stocks", "AAPL", now - MIN, now) == []  # Sunday: no stock trades
        assert len(sim.trades("crypto", "BTC-USD", now - MIN, now)) > 0
    with pytest.raises(ValueError, match="start must be"):
        MarketClock("yesterday")
