"""Every event type of every cluster, streamed over loopback from the simulator and decoded.

The simulator runs its market clock 60x faster so that minute bars, LULD bands and
imbalances arrive within seconds; values are checked against the simulator's market model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tickwire import CurrencyAgg, EquityAgg, Event, FuturesAgg, MassiveEvent
from tickwire.massive.catalog import channels
from tickwire.sim import MassiveSimulator

from .conftest import events_until, fast_client

MARKETS = ["stocks", "options", "forex", "crypto", "indices", "futures"]


@pytest.fixture
async def fast_market() -> AsyncIterator[MassiveSimulator]:
    async with MassiveSimulator(seed=5, tick_interval=0.02, rate=5.0, speed=60.0, close_timeout=0.3) as s:
        yield s


def _bar_fields(ev: Event) -> tuple[float | None, ...]:
    assert isinstance(ev, EquityAgg | CurrencyAgg | FuturesAgg)
    return (ev.open, ev.high, ev.low, ev.close)


@pytest.mark.parametrize("market", MARKETS)
async def test_every_channel_of_every_cluster(fast_market: MassiveSimulator, market: str) -> None:
    sim = fast_market
    catalogue = channels(market)
    expected = {info.event for info in catalogue.values()}
    async with fast_client(sim, market=market) as client:
        await client.subscribe(*(f"{p}.*" for p in sorted(catalogue)))
        seen = await events_until(client, lambda ev, s: expected <= {type(e) for e in s}, within=30)
    data = [e for e in seen if isinstance(e, MassiveEvent)]
    assert {type(e) for e in data} == expected
    for ev in data:
        assert ev.symbol, ev
        assert ev.time_ns is not None and ev.time_ns > 1_600_000_000 * 10**9, ev
    # bars equal the model's bars for the same interval and ticker
    checked = 0
    for ev in data:
        if not isinstance(ev, EquityAgg | CurrencyAgg | FuturesAgg) or ev.start_timestamp is None:
            continue
        span = "second" if ev.event_type in ("A", "XAS", "CAS") else "minute"
        if ev.event_type == "AM" and market in ("forex", "crypto"):
            continue  # launchpad AM is a different host's product; its ticker is class-prefixed
        ticker = ev.symbol
        assert ticker is not None
        model = sim.bars(market, ticker, ev.start_timestamp, ev.start_timestamp + 1, span)
        assert len(model) == 1, (ev, model)
        m = model[0]
        assert _bar_fields(ev) == (m.open, m.high, m.low, m.close), (ev, m)
        assert ev.end_timestamp == m.end
        checked += 1
    assert checked > 0
