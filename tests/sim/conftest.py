"""Fixtures for the simulator tests: a fast simulator (short ticks, busy market)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tickwire.sim import MassiveSimulator


@pytest.fixture
async def sim() -> AsyncIterator[MassiveSimulator]:
    async with MassiveSimulator(
        seed=7, tick_interval=0.02, rate=20.0, auth_timeout=5.0, close_timeout=0.5
    ) as s:
        yield s
