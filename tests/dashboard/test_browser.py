"""The dashboard in real headless Chromium, on the simulator: candles form and update, the tape moves,
the connection panel reports a forced reconnect, and a screenshot is taken."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tickwire.dashboard import Dashboard
from tickwire.sim import MassiveSimulator

WAIT = 60_000  # ms: generous, the machine is shared; every wait is on a DOM condition, never a sleep

CARD = "(s) => document.querySelector(`.card[data-symbol='${s}']`)"


async def card_data(page: Any, symbol: str) -> dict[str, str]:
    data: dict[str, str] = await page.evaluate(f"(s) => ({{...({CARD})(s).dataset}})", symbol)
    return data


@pytest.mark.timeout(240)
async def test_dashboard_in_chromium(
    dash: Dashboard, fast_sim: MassiveSimulator, chromium_page: Any, tmp_path: Path
) -> None:
    page = chromium_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(dash.url, timeout=WAIT)
    await page.wait_for_selector("#page-status[data-status='live']", timeout=WAIT)

    # Candles appear: at least two per symbol, held by the chart library itself (series.data()).
    for sym in ("AAPL", "MSFT"):
        await page.wait_for_function(
            "(s) => { const c = window.tickwire.series[s]; return c && c.data().length >= 2; }",
            arg=sym,
            timeout=WAIT,
        )
        # the chart is drawn: lightweight-charts renders into canvases inside the card
        assert await page.evaluate(f"(s) => ({CARD})(s).querySelectorAll('canvas').length", sym) >= 2

    # ... and update: the open candle changes and new candles are added.
    before = await card_data(page, "AAPL")
    await page.wait_for_function(
        f"""([s, n, t]) => {{ const d = ({CARD})(s).dataset;
            return Number(d.candles) > n && Number(d.lastTime) > t; }}""",
        arg=["AAPL", int(before["candles"]), int(before["lastTime"])],
        timeout=WAIT,
    )
    after = await card_data(page, "AAPL")
    assert int(after["updates"]) > int(before["updates"])

    # Finished candles equal the simulator's own minute bars (OHLC), computed from its model.
    candles: list[dict[str, Any]] = await page.evaluate("() => window.tickwire.series.AAPL.data()")
    checked = 0
    for c in candles[1:-1]:  # the first may be partial (joined mid-minute), the last is still open
        model = fast_sim.bars("stocks", "AAPL", c["time"] * 1000, c["time"] * 1000 + 1)
        if not model:
            continue
        bar = model[0]
        assert (c["open"], c["high"], c["low"], c["close"]) == (bar.open, bar.high, bar.low, bar.close)
        checked += 1
    assert checked >= 1, candles

    # The tape moves: new rows arrive with increasing sequence numbers.
    seq = int(await page.get_attribute("#tape", "data-last-seq") or 0)
    await page.wait_for_function(
        "(n) => Number(document.querySelector('#tape').dataset.lastSeq) > n + 20", arg=seq, timeout=WAIT
    )
    rows = await page.locator("#tape tbody tr").count()
    assert 20 <= rows <= 80  # bounded on the page too
    assert await page.locator("#tape tbody tr.T").count() > 0
    assert await page.locator("#tape tbody tr.Q").count() > 0

    # A forced reconnect (the server drops the socket, no close frame) shows in the connection panel.
    await page.wait_for_selector("#conn[data-state='connected']", timeout=WAIT)
    assert await page.get_attribute("#conn", "data-reconnects") == "0"
    assert fast_sim.drop() == 1
    await page.wait_for_function(
        """() => { const c = document.querySelector('#conn').dataset;
            return c.reconnects === '1' && c.gaps === '1' && c.state === 'connected'; }""",
        timeout=WAIT,
    )
    assert "1006" in (await page.text_content("#conn-reason") or "")
    assert int((await page.text_content("#conn-events") or "0").replace(",", "")) > 0

    # ... and the charts keep updating after it.
    mid = await card_data(page, "MSFT")
    await page.wait_for_function(
        f"([s, t]) => Number(({CARD})(s).dataset.lastTime) > t",
        arg=["MSFT", int(mid["lastTime"])],
        timeout=WAIT,
    )

    shot = tmp_path / "dashboard.png"
    await page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    keep = os.environ.get("TICKWIRE_DASHBOARD_SCREENSHOT")  # e.g. docs/dashboard.png, for the README
    if keep:
        shutil.copyfile(shot, keep)
    assert errors == [], errors
