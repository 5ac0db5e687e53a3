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
from tickwire.backoff import Backoff
from tickwire.dashboard import Dashboard
from tickwire.provider import get_provider
from tickwire.sim import MassiveSimulator
from tickwire.sim.polymarket import PolymarketSimulator
from tickwire.stream.consumer import StreamConsumer

MASSIVE_TICKS = get_provider("massive").ticks
POLYMARKET = get_provider("polymarket")
PM_MARKETS = ["btc-100k-2026", "fed-cut-june"]

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
            client,
            ticks=MASSIVE_TICKS,
            symbols=["AAPL", "MSFT"],
            interval=60,
            push_interval=0.2,
            clock=sim_clock(fast_sim),
        ) as d,
    ):
        yield d


@pytest.fixture
async def pm_sim() -> AsyncIterator[PolymarketSimulator]:
    """The Polymarket US simulator, a market step every 50 ms (real time: its clock is the wall clock)."""
    async with PolymarketSimulator(
        seed=11, tick_interval=0.05, heartbeat_interval=0.5, close_timeout=0.3
    ) as sim:
        yield sim


def pm_open(
    sim: PolymarketSimulator, channels: list[str], markets: list[str], **overrides: Any
) -> StreamConsumer:
    """A markets-socket client opened the way the CLI opens one (``provider.open_client``), fast-failing."""
    options: dict[str, Any] = {
        "key_id": sim.key_id,
        "secret_key": sim.secret_key,
        "base_url": sim.url,
        "backoff": Backoff(base=0.02, cap=0.1, seed=3),
        "heartbeat_timeout": 2.0,
        "ping_interval": 0.5,
        "ping_timeout": 2.0,
        "dotenv_path": None,
    }
    options.update(overrides)
    return POLYMARKET.open_client("markets", channels, markets=markets, **options)


@pytest.fixture
async def pm_dash(pm_sim: PolymarketSimulator) -> AsyncIterator[Dashboard]:
    """A dashboard of two Polymarket markets: trades, books and lite prices, one-second candles."""
    client = pm_open(pm_sim, ["trade", "market_data", "market_data_lite"], PM_MARKETS)
    async with (
        client,
        Dashboard(client, ticks=POLYMARKET.ticks, symbols=PM_MARKETS, interval=1, push_interval=0.1) as d,
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
