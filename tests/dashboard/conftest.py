"""Fixtures for the dashboard: a fast simulator, a client on it, a dashboard, and headless Chromium."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.massive.client.conftest import fast_client
from tests.services import unavailable
from tickwire import AsyncStreamClient
from tickwire.dashboard import Dashboard
from tickwire.sim import MassiveSimulator

CHROMIUM = os.environ.get("TICKWIRE_CHROMIUM", "/usr/bin/chromium")
HAVE_CHROMIUM = Path(CHROMIUM).exists()
# Headless (Playwright's default), no sandbox (we may be root), no GPU, no calls home; Playwright gives
# every launch a fresh temporary profile.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
async def fast_sim() -> AsyncIterator[MassiveSimulator]:
    """Market time at 120x: a one-minute candle every half second of wall time."""
    async with MassiveSimulator(seed=7, speed=120.0, tick_interval=0.05, rate=2.0, close_timeout=0.3) as sim:
        yield sim


async def until(cond: Callable[[], bool], within: float = 30.0) -> None:
    """Wait until ``cond()`` holds (checked every 10 ms); fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not cond():  # noqa: ASYNC110 - a condition on plain attributes, nothing to await
            await asyncio.sleep(0.01)


def sim_clock(sim: MassiveSimulator) -> Any:
    return lambda: sim.now_ms() * 1_000_000


@pytest.fixture
async def dash(fast_sim: MassiveSimulator) -> AsyncIterator[Dashboard]:
    client: AsyncStreamClient = fast_client(fast_sim, subscriptions=["T.AAPL", "T.MSFT", "Q.AAPL", "Q.MSFT"])
    async with (
        client,
        Dashboard(
            client, symbols=["AAPL", "MSFT"], interval=60, push_interval=0.2, clock=sim_clock(fast_sim)
        ) as d,
    ):
        yield d


@pytest.fixture
async def chromium_page() -> AsyncIterator[Any]:
    """A page in real headless Chromium (Debian's, installed by scripts/setup-system.sh), via Playwright."""
    if not HAVE_CHROMIUM:
        unavailable("chromium", FileNotFoundError(f"{CHROMIUM}: run scripts/setup-system.sh"))
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            timeout=90_000,
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            yield page
        finally:
            await browser.close()
