"""Fixtures for the Alpaca simulator tests: a fast simulator (short ticks, busy market, quick clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tickwire.sim.alpaca import AlpacaSimulator, AlpacaThread


def fast_sim(**overrides: Any) -> AlpacaSimulator:
    """A simulator for tests: market time 60x (a minute bar a second), about 60 trades/s per ticker."""
    options: dict[str, Any] = {
        "seed": 7,
        "tick_interval": 0.02,
        "rate": 1.0,
        "speed": 60.0,
        "auth_timeout": 2.0,
        "reap_window": 0.0,
        "close_timeout": 0.5,
        "news_interval": 20.0,
    }
    options.update(overrides)
    return AlpacaSimulator(**options)


@pytest.fixture
async def alpaca() -> AsyncIterator[AlpacaSimulator]:
    async with fast_sim() as sim:
        yield sim


@pytest.fixture
def alpaca_thread() -> Iterator[AlpacaThread]:
    with fast_sim().run_in_thread() as sim:
        yield sim
