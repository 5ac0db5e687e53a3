"""Fixtures for the Polymarket US tests: a fast simulator and fast-failing clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tickwire.backoff import Backoff
from tickwire.events import Event
from tickwire.polymarket_us.client import PolymarketClient
from tickwire.sim.polymarket import PolymarketSimulator


@pytest.fixture
async def pm_sim() -> AsyncIterator[PolymarketSimulator]:
    async with PolymarketSimulator(
        seed=5, tick_interval=0.02, heartbeat_interval=0.05, account_interval=0.05, close_timeout=0.3
    ) as s:
        yield s


def pm_client(sim: PolymarketSimulator, socket: str = "markets", **overrides: Any) -> PolymarketClient:
    """A client with short timeouts and backoff, signed with the simulator's test key."""
    options: dict[str, Any] = {
        "key_id": sim.key_id,
        "secret_key": sim.secret_key,
        "base_url": sim.url,
        "backoff": Backoff(base=0.02, cap=0.1, seed=3),
        "stable_after": 60.0,
        "heartbeat_timeout": 0.5,
        "ping_interval": 0.5,
        "ping_timeout": 1.0,
        "dotenv_path": None,
    }
    options.update(overrides)
    return PolymarketClient(socket, **options)


async def pm_events_until(
    client: PolymarketClient, done: Callable[[Event, list[Event]], bool], within: float = 8.0
) -> list[Event]:
    """Consume events until ``done(event, seen)``; fail after ``within`` seconds."""
    seen: list[Event] = []
    try:
        async with asyncio.timeout(within):
            async for ev in client:
                seen.append(ev)
                if done(ev, seen):
                    return seen
    except TimeoutError:
        kinds = [e.event_type for e in seen[-20:]]
        raise AssertionError(f"condition not met within {within} s; last events: {kinds}") from None
    raise AssertionError(f"stream ended early; last events: {[e.event_type for e in seen[-20:]]}")
