"""The dashboard's "live" badge turns green only once data flows, and ``/metrics`` lag is measured on
the stream's own clock: never negative on a simulator whose market clock runs fast."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from tests.dashboard.conftest import MASSIVE_TICKS, sim_clock, until
from tests.massive.client.conftest import fast_client
from tickwire.dashboard import Dashboard
from tickwire.sim import MassiveSimulator

WAIT = 60_000


async def _lag(dash: Dashboard) -> float:
    async with aiohttp.ClientSession() as s, s.get(dash.url + "metrics") as r:
        text = await r.text()
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return float(samples["tickwire_lag_seconds"])


async def test_metrics_lag_is_never_negative_on_a_fast_simulator(dash: Dashboard) -> None:
    """At 120x, events are stamped minutes ahead of the wall clock: lag against it would be negative."""
    await until(lambda: dash.state.market_events >= 20)
    for _ in range(5):
        await until(lambda: dash.state.panel.lag_seconds is not None)
        lag = await _lag(dash)
        assert 0.0 <= lag < 60.0, lag


@pytest.mark.timeout(180)
async def test_badge_is_not_live_before_data(chromium_page: Any) -> None:
    async with MassiveSimulator(seed=3, speed=60.0, tick_interval=0.05, close_timeout=0.3) as sim:
        sim.pause_data()  # connected and subscribed, but nothing flows yet
        client = fast_client(sim, subscriptions=["T.AAPL"])
        async with (
            client,
            Dashboard(
                client, ticks=MASSIVE_TICKS, symbols=["AAPL"], clock=sim_clock(sim), push_interval=0.1
            ) as dash,
        ):
            page = chromium_page
            await page.goto(dash.url, timeout=WAIT)
            await page.wait_for_selector("#conn[data-state='connected']", timeout=WAIT)
            await page.wait_for_function("() => Number(document.body.dataset.messages) >= 3", timeout=WAIT)
            assert await page.get_attribute("#page-status", "data-status") == "waiting"
            assert await page.text_content("#page-status") == "waiting for data"
            sim.resume_data()
            await page.wait_for_selector("#page-status[data-status='live']", timeout=WAIT)
            assert await page.text_content("#page-status") == "live"
            leaving = time.monotonic()  # stop with the page open: the server closes its socket (1001)
        # a hang check, not a speed one: it used to wait out aiohttp's 30 s for the page to go away
        assert time.monotonic() - leaving < 10, "the dashboard waited for an open page to go away"
    await page.wait_for_selector("#page-status[data-status='offline']", timeout=WAIT)
