"""Stream + REST against one simulator: streamed AM bars equal REST bars, and a gap is backfilled once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.massive.client.conftest import events_until, fast_client
from tickwire import AsyncStreamClient
from tickwire.errors import ConfigError
from tickwire.events import Event, Reconnected
from tickwire.massive.backfill import BackfillConfig, Backfilled, BackfilledAggMin
from tickwire.massive.models import EquityAggMin
from tickwire.sim import MassiveSimulator

from .conftest import KEY, async_client

MINUTE = 60_000
TICKERS = ("AAPL", "MSFT")


@pytest.fixture
async def fast_sim() -> AsyncIterator[MassiveSimulator]:
    """A market running 60x: one minute bar per second of wall time."""
    async with MassiveSimulator(
        seed=21, rest=True, speed=60.0, tick_interval=0.02, valid_keys=[KEY], close_timeout=0.3
    ) as s:
        yield s


def _client(sim: MassiveSimulator, **overrides: Any) -> AsyncStreamClient:
    options: dict[str, Any] = {
        "api_key": KEY,
        "subscriptions": [f"AM.{t}" for t in TICKERS],
        "rest_url": sim.rest_url,
        "backfill": BackfillConfig(clock=lambda: sim.now_ms() / 1000, timeout=10.0),
    }
    options.update(overrides)
    return fast_client(sim, **options)


def _ohlcv(bar: Any) -> tuple[Any, ...]:
    return (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.vwap)


def _bars(events: list[Event], ticker: str) -> list[EquityAggMin]:
    return [e for e in events if isinstance(e, EquityAggMin) and e.symbol == ticker]


async def test_rest_bars_equal_streamed_am_bars(fast_sim: MassiveSimulator) -> None:
    async with _client(fast_sim, backfill=False) as client:
        seen = await events_until(client, lambda ev, s: len(_bars(s, "AAPL")) >= 4)
    streamed = _bars(seen, "AAPL")
    first, last = streamed[0].start_timestamp, streamed[-1].start_timestamp
    assert first is not None and last is not None
    async with async_client(fast_sim) as rest:
        bars = await rest.aggs("AAPL", 1, "minute", first, last)
    assert [b.timestamp for b in bars] == [b.start_timestamp for b in streamed]
    assert [_ohlcv(b) for b in bars] == [_ohlcv(b) for b in streamed]


async def test_missed_am_bars_are_backfilled_once_in_order(fast_sim: MassiveSimulator) -> None:
    sim = fast_sim
    async with _client(sim) as client:
        before = await events_until(client, lambda ev, s: all(len(_bars(s, t)) >= 2 for t in TICKERS))
        # Force a disconnect of about 4 s (4 market minutes): refuse reconnects meanwhile.
        gap_from = sim.now_ms()
        sim.refuse_handshakes(503)
        sim.drop()
        await sim.wait_until(
            lambda: sim.now_ms() >= gap_from + 4 * MINUTE, timeout=10, what="4 market minutes"
        )
        sim.accept_handshakes()

        def done(ev: Event, seen: list[Event]) -> bool:
            filled = [i for i, e in enumerate(seen) if isinstance(e, Backfilled)]
            return bool(filled) and all(
                len([b for b in _bars(seen[filled[0] :], t) if not isinstance(b, BackfilledAggMin)]) >= 2
                for t in TICKERS
            )

        after = await events_until(client, done, within=15.0)
    events = before + after
    kinds = [type(e) for e in events]
    rec = kinds.index(Reconnected)
    report = next(e for e in events if isinstance(e, Backfilled))
    filled = [e for e in events if isinstance(e, BackfilledAggMin)]
    assert report.error is None and report.events == len(filled) >= 2 * len(TICKERS)
    assert sorted(report.channels) == sorted(f"AM.{t}" for t in TICKERS)
    # backfilled bars come right after the Reconnected event, before the Backfilled report
    first_fill = events.index(filled[0])
    assert rec < first_fill and events.index(report) == first_fill + len(filled)
    assert [b.start_timestamp for b in filled] == sorted(b.start_timestamp for b in filled)  # type: ignore[type-var]
    for ticker in TICKERS:
        bars = _bars(events, ticker)
        starts = [b.start_timestamp for b in bars]
        assert starts == list(range(starts[0], starts[-1] + MINUTE, MINUTE)), f"{ticker}: gap or duplicate"  # type: ignore[arg-type, operator]
        mine = [b for b in filled if b.symbol == ticker]
        assert len(mine) >= 3 and all(b.backfilled for b in mine)
        model = {b.start: b for b in sim.bars("stocks", ticker, starts[0], starts[-1] + 1)}  # type: ignore[arg-type, operator]
        for bar in mine:
            assert _ohlcv(bar) == _ohlcv(model[bar.start_timestamp])  # type: ignore[index]
    assert client._gap_filler is not None and client._gap_filler.backfilled == len(filled)


async def test_backfill_failure_is_reported_not_raised(fast_sim: MassiveSimulator) -> None:
    sim = fast_sim
    async with _client(sim, subscriptions=["AM.AAPL"]) as client:
        await events_until(client, lambda ev, s: len(_bars(s, "AAPL")) >= 1)
        assert sim.rest is not None
        sim.rest.fail_next(403, count=1)
        gap_from = sim.now_ms()
        sim.refuse_handshakes(503)
        sim.drop()
        await sim.wait_until(
            lambda: sim.now_ms() >= gap_from + 2 * MINUTE, timeout=10, what="2 market minutes"
        )
        sim.accept_handshakes()
        seen = await events_until(client, lambda ev, s: isinstance(ev, Backfilled))
        report = seen[-1]
        assert isinstance(report, Backfilled) and report.events == 0
        assert report.error is not None and "plan" in report.error
        more = await events_until(client, lambda ev, s: len(_bars(s, "AAPL")) >= 1)  # the stream goes on
        assert not isinstance(_bars(more, "AAPL")[0], BackfilledAggMin)


def test_backfill_needs_a_rest_endpoint_with_a_custom_url() -> None:
    with pytest.raises(ConfigError, match="rest_url"):
        AsyncStreamClient("k", url="ws://127.0.0.1:9", backfill=True, dotenv_path=None)
    client = AsyncStreamClient("k", url="ws://127.0.0.1:9", dotenv_path=None)
    assert client._gap_filler is None  # auto: off without a known REST endpoint
    assert AsyncStreamClient("k", dotenv_path=None)._gap_filler is not None  # official service: on


async def test_filler_orders_around_queued_live_bars() -> None:
    """Unit: bars fetched for a gap stop before the first live bar already queued, and live dups drop."""
    from tickwire.massive.backfill import GapFiller
    from tickwire.massive.rest.models import Agg

    fetched = [Agg(open=1, high=1, low=1, close=1, volume=1, timestamp=t * MINUTE) for t in range(10, 16)]

    async def fetch(symbol: str, timespan: str, lo: int, hi: int) -> list[Agg]:
        return [a for a in fetched if a.timestamp is not None and lo <= a.timestamp <= hi]

    filler = GapFiller(fetch, lambda: ["AM.X"], BackfillConfig(clock=lambda: 20 * MINUTE / 1000))

    def live(minute: int) -> EquityAggMin:
        return EquityAggMin(symbol="X", start_timestamp=minute * MINUTE, end_timestamp=(minute + 1) * MINUTE)

    out = await filler.process([[live(9)]])
    assert out == [[live(9)]]
    gap = Reconnected(gap_start=0.0, gap_end=1.0, attempts=1, epoch=2)
    out = await filler.process([[gap, live(14)], [live(15)]])
    flat = [e for b in out for e in b]
    starts = [e.start_timestamp // MINUTE for e in flat if isinstance(e, EquityAggMin)]  # type: ignore[operator]
    assert starts == [10, 11, 12, 13, 14, 15]  # 10-13 backfilled, 14 and 15 live, in order
    report = next(e for e in flat if isinstance(e, Backfilled))
    assert report.events == 4 and report.skipped == 2
    # a live bar arriving later for a backfilled minute is dropped
    filler.delivered.add(("AM", "X", 16 * MINUTE))
    assert await filler.process([[live(16)], [live(17)]]) == [[live(17)]]
    assert filler.duplicates_dropped == 1
    await asyncio.sleep(0)
