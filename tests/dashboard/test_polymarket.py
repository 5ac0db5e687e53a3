"""A Polymarket US dashboard over the Polymarket simulator on loopback: book ladders equal the books
the simulator sent, candles carry exactly the simulated trades' volume, the tape and the pushes
carry markets by slug."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from tests.dashboard.conftest import PM_MARKETS, until
from tickwire.dashboard import Cursor, Dashboard
from tickwire.polymarket_us.client import PolymarketClient
from tickwire.sim.polymarket import PolymarketSimulator

NS = 1_000_000_000


def _floats(levels: list[tuple[Decimal, Decimal]]) -> tuple[tuple[float, float], ...]:
    return tuple((float(p), float(q)) for p, q in levels)


def _model_volume(sim: PolymarketSimulator, slug: str, start_ns: int, end_ns: int) -> float:
    """The simulated trades' quantity with a trade time in ``[start_ns, end_ns)``."""
    total = Decimal(0)
    for step in range(sim.step_at(start_ns) - 1, sim.step_at(end_ns) + 2):
        for t in sim.model.trades(slug, step):
            if start_ns <= sim.step_time_ns(step) + t.seq * 1000 < end_ns:
                total += t.qty
    return float(total)


async def test_ladders_are_the_books_the_simulator_sent(
    pm_dash: Dashboard, pm_sim: PolymarketSimulator
) -> None:
    client = pm_dash.source
    assert isinstance(client, PolymarketClient)
    state = pm_dash.state
    for slug in PM_MARKETS:
        await until(lambda slug=slug: state.symbol(slug).book_rev > 0 and client.book(slug) is not None)
    pm_sim.pause_data()  # from here the books stand still: the dashboard catches up with the client's

    def same_as_client(slug: str) -> bool:
        book = client.book(slug)
        assert book is not None
        bids, asks = book.snapshot()
        sym = state.symbol(slug)
        return (sym.bids, sym.asks) == (_floats(list(bids)), _floats(list(asks)))

    for slug in PM_MARKETS:
        await until(lambda slug=slug: same_as_client(slug))
        book = client.book(slug)
        assert book is not None and book.transact_time is not None
        model_bids, model_asks = pm_sim.book(slug, book.transact_time)  # what the simulator sent then
        sym = state.symbol(slug)
        assert sym.bids == _floats(model_bids) and sym.asks == _floats(model_asks)
        assert len(sym.bids) == 5 and sym.bids[0][0] < sym.asks[0][0]
        assert (sym.bid, sym.ask) == (sym.bids[0][0], sym.asks[0][0])
        assert sym.decimals == 3  # the simulator's 0.001 tick


async def test_candles_carry_the_simulated_trades_volume(
    pm_dash: Dashboard, pm_sim: PolymarketSimulator
) -> None:
    state = pm_dash.state
    slug = PM_MARKETS[0]
    # three finished one-second candles after the first (which may be partial): volume only from trades
    await until(lambda: len(state.symbol(slug).history) >= 4 and state.symbol(slug).trades > 0)
    candles = list(state.symbol(slug).history)
    checked = 0
    for c in candles[1:]:
        start = c["time"] * NS
        assert c["volume"] == pytest.approx(_model_volume(pm_sim, slug, start, start + NS), abs=1e-6), c
        assert 0 < c["low"] <= c["open"] <= c["high"] < 1 and c["low"] <= c["close"] <= c["high"]
        checked += c["volume"] > 0
    assert checked >= 1, candles
    assert state.aggregator.late == 0
    tape = pm_dash.state.update_for(Cursor())["tape"]
    trades = [r for r in tape if r["kind"] == "T"]
    assert trades and {r["sym"] for r in tape} <= set(PM_MARKETS)
    assert all(0 < r["price"] < 1 and r["size"] > 0 for r in trades)


async def test_pages_get_books_and_prices_by_slug(pm_dash: Dashboard) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(pm_dash.url + "ws") as ws:
        snap: dict[str, Any] = json.loads((await ws.receive(timeout=30)).data)
        assert snap["type"] == "snapshot" and set(snap["symbols"]) >= set(PM_MARKETS)
        books: dict[str, Any] = {k: v["book"] for k, v in snap["symbols"].items() if "book" in v}
        async with asyncio.timeout(30):
            while set(books) < set(PM_MARKETS):  # a book is pushed once a market has one
                msg = json.loads((await ws.receive()).data)
                books.update({k: v["book"] for k, v in msg["symbols"].items() if "book" in v})
    for slug in PM_MARKETS:
        bids, asks = books[slug]["bids"], books[slug]["asks"]
        assert 1 <= len(bids) <= 10 and 1 <= len(asks) <= 10
        assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
        assert [p for p, _ in asks] == sorted(p for p, _ in asks)
        assert bids[0][0] < asks[0][0]
    async with aiohttp.ClientSession() as s, s.get(pm_dash.url + "metrics") as r:
        text = await r.text()
    assert "tickwire_events_total" in text and "tickwire_connected 1" in text
