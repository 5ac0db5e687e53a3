"""Fixtures for client-against-simulator tests: a fast simulator and fast-failing clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tickwire import AsyncStreamClient, Backoff
from tickwire.events import Event
from tickwire.sim import MassiveSimulator


@pytest.fixture
async def sim() -> AsyncIterator[MassiveSimulator]:
    async with MassiveSimulator(
        seed=11, tick_interval=0.02, rate=20.0, auth_timeout=3.0, close_timeout=0.3
    ) as s:
        yield s


def fast_client(sim: MassiveSimulator, **overrides: Any) -> AsyncStreamClient:
    """A client with short timeouts and backoff, pointed at ``sim``."""
    options: dict[str, Any] = {
        "api_key": "test-key-0000",
        "market": "stocks",
        "url": sim.url,
        "backoff": Backoff(base=0.02, cap=0.1, seed=3),
        "stable_after": 60.0,
        "auth_timeout": 2.0,
        "ping_interval": 0.5,
        "ping_timeout": 1.0,
        "stale_timeout": None,
        "max_connections_cooldown": 1.0,
        "dotenv_path": None,
    }
    options.update(overrides)
    return AsyncStreamClient(**options)


async def events_until(
    client: AsyncStreamClient, done: Callable[[Event, list[Event]], bool], within: float = 8.0
) -> list[Event]:
    """Consume events until ``done(event, seen)`` is true; fail after ``within`` seconds."""
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
