"""Fixtures: a simulator serving REST (any key but the bad/denied ones) and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tickwire import Backoff
from tickwire.massive.rest import AsyncRestClient, RestClient
from tickwire.sim import MassiveSimulator, SimulatorThread

KEY = "rest-test-key"
DENIED = "denied-key"


@pytest.fixture
async def sim() -> AsyncIterator[MassiveSimulator]:
    async with MassiveSimulator(seed=5, rest=True, valid_keys=[KEY, DENIED], plan_denied_keys=[DENIED]) as s:
        yield s


@pytest.fixture
def sim_thread() -> Iterator[SimulatorThread]:
    with MassiveSimulator(seed=5, rest=True, valid_keys=[KEY]).run_in_thread() as s:
        yield s


def rest_options(base_url: str, **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "base_url": base_url,
        "dotenv_path": None,
        "backoff": Backoff(base=0.01, cap=0.05, seed=1),
        "max_retries": 3,
    }
    options.update(overrides)
    return options


def async_client(sim: MassiveSimulator, key: str = KEY, **overrides: Any) -> AsyncRestClient:
    return AsyncRestClient(key, **rest_options(sim.rest_url, **overrides))


def sync_client(url: str, key: str = KEY, **overrides: Any) -> RestClient:
    return RestClient(key, **rest_options(url, **overrides))
