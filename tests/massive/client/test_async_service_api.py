"""``AsyncStreamClient``'s ``polygon``-style service API: subscribe_* with handler_function,
change_handler (which works, unlike the ``polygon`` package's), and handle_messages."""

from __future__ import annotations

import asyncio

from tickwire import EquityAgg, EquityTrade, StreamServicePrefix
from tickwire.events import Event
from tickwire.sim import MassiveSimulator

from .conftest import fast_client


async def test_handler_function_and_change_handler(sim: MassiveSimulator) -> None:
    first: list[Event] = []
    second: list[Event] = []
    aggs: list[Event] = []
    async with fast_client(sim) as client:
        await client.subscribe_stock_trades(["aapl"], handler_function=first.append)
        await client.subscribe_stock_second_aggregates(["AAPL"], handler_function=aggs.append)
        async with asyncio.timeout(8):
            while len(first) < 3 or not aggs:
                assert await client.handle_messages()
        await client.change_handler(StreamServicePrefix.STOCK_TRADES, second.append)
        n = len(first)
        async with asyncio.timeout(8):
            while len(second) < 3:
                await client.handle_messages(reconnect=True)  # polygon's arguments are accepted
        assert len(first) == n  # the old handler no longer fires
        assert all(isinstance(e, EquityTrade) and e.symbol == "AAPL" for e in first + second)
        assert all(isinstance(e, EquityAgg) for e in aggs)
    sent = [c for a in sim.actions("stocks", "subscribe") for c in a.params]
    assert sent == ["T.AAPL", "A.AAPL"]  # upper-cased; batched in one request if made before auth


async def test_async_handlers_and_unsubscribe(sim: MassiveSimulator) -> None:
    got: list[Event] = []

    async def handler(ev: Event) -> None:
        got.append(ev)

    async with fast_client(sim) as client:
        await client.subscribe_stock_trades(None, handler_function=handler)  # None: every ticker
        async with asyncio.timeout(8):
            while len(got) < 2:
                await client.handle_messages()
        await client.unsubscribe_stock_trades()
        await sim.wait_actions(1, "unsubscribe", "stocks")
    assert [a.params for a in sim.actions("stocks", "unsubscribe")] == [("T.*",)]
    assert client.subscriptions == []
