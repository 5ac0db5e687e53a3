"""Fixtures for the simulator tests: fast simulators (short ticks, busy markets), one per dialect."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tickwire.sim import MassiveSimulator
from tickwire.sim.polymarket import PolymarketSimulator

from .dialects import Dialect


@pytest.fixture
async def sim() -> AsyncIterator[MassiveSimulator]:
    async with MassiveSimulator(
        seed=7, tick_interval=0.02, rate=20.0, auth_timeout=5.0, close_timeout=0.5
    ) as s:
        yield s


def massive_dialect() -> Dialect:
    sim = MassiveSimulator(seed=7, tick_interval=0.02, rate=20.0, close_timeout=0.5, max_connections=None)
    return Dialect("massive", sim, "stocks", "crypto")


def polymarket_dialect() -> Dialect:
    sim = PolymarketSimulator(
        seed=7, tick_interval=0.02, heartbeat_interval=0.02, account_interval=None, close_timeout=0.5
    )
    return Dialect("polymarket", sim, "markets", "private")


@pytest.fixture(params=[massive_dialect, polymarket_dialect], ids=["massive", "polymarket"])
async def dialect(request: pytest.FixtureRequest) -> AsyncIterator[Dialect]:
    """Each simulator dialect in turn, running, with a raw client that speaks it."""
    d: Dialect = request.param()
    async with d.sim:
        yield d
