"""The dashboard in real headless Chromium, on the simulators. Massive: candles form and update, the
tape moves, the connection panel reports a forced reconnect. Polymarket US: charts and book ladders
per market slug, checked in the DOM and in the screenshot's pixels; a hostile slug stays text."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.dashboard.conftest import PM_MARKETS, POLYMARKET, pm_open, until
from tickwire.alerts import parse_rule
from tickwire.dashboard import Dashboard
from tickwire.polymarket_us.client import PolymarketClient
from tickwire.sim import MassiveSimulator
from tickwire.sim.polymarket import PolymarketSimulator

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


# --- Polymarket US ---------------------------------------------------------------------------

HOSTILE = 'fed-cut<img src=x onerror="window.pwned=1">&june'  # a market slug is network text
UP, DOWN = (0x26, 0xA6, 0x9A), (0xEF, 0x53, 0x50)  # the candle (and ladder) colours


def colour_pixels(png: bytes, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels of a screenshot are (close to) ``rgb``."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return int((np.abs(pixels - np.array(rgb, dtype=np.int16)) <= tolerance).all(axis=2).sum())


PM_CARD = "(s) => [...document.querySelectorAll('.card')].find((c) => c.dataset.symbol === s)"


@pytest.mark.timeout(240)
async def test_polymarket_dashboard_in_chromium(chromium_page: Any, tmp_path: Path) -> None:
    page = chromium_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    slugs = [PM_MARKETS[0], HOSTILE]
    async with PolymarketSimulator(
        seed=11, tick_interval=0.05, heartbeat_interval=0.5, close_timeout=0.3, markets=[*PM_MARKETS, HOSTILE]
    ) as sim:
        client = pm_open(sim, ["trade", "market_data", "market_data_lite"], slugs)
        rules = [parse_rule("move * pct=0.01 window=60 cooldown=1000")]  # fires at the first move
        async with (
            client,
            Dashboard(
                client,
                ticks=POLYMARKET.ticks,
                symbols=slugs,
                interval=1,
                push_interval=0.1,
                rules=rules,
                title="Polymarket US",
            ) as dash,
        ):
            await page.goto(dash.url, timeout=WAIT)
            await page.wait_for_selector("#page-status[data-status='live']", timeout=WAIT)
            for slug in slugs:  # a chart of a few candles and a ladder of the simulator's 5 levels a side
                await page.wait_for_function(
                    f"""(s) => {{ const c = ({PM_CARD})(s); const l = c && c.querySelector('.ladder');
                        return l && l.dataset.bids === '5' && l.dataset.asks === '5'
                            && window.tickwire.series[s].data().length >= 3; }}""",
                    arg=slug,
                    timeout=WAIT,
                )
            await page.wait_for_function(
                "(s) => [...document.querySelectorAll('#alerts li')].some((li) => li.dataset.symbol === s)",
                arg=HOSTILE,
                timeout=WAIT,
            )

            # the books stand still: the page's ladders settle on the dashboard's (= the client's) books
            sim.pause_data()
            assert isinstance(client, PolymarketClient)
            for slug in slugs:
                book = client.book(slug)
                assert book is not None
                bids = tuple((float(p), float(q)) for p, q in book.snapshot()[0])
                await until(lambda slug=slug, bids=bids: dash.state.symbol(slug).bids == bids)
                ask = dash.state.symbol(slug).asks[0][0]
                await page.wait_for_function(
                    f"""([s, b, a]) => {{ const l = ({PM_CARD})(s).querySelector('.ladder');
                        return l.dataset.bestBid === b && l.dataset.bestAsk === a; }}""",
                    arg=[slug, repr(bids[0][0]), repr(ask)],
                    timeout=WAIT,
                )
                rows = await page.evaluate(
                    f"""(s) => [...({PM_CARD})(s).querySelectorAll('.ladder tbody.bids tr')]
                        .map((tr) => [tr.querySelector('.px').textContent, tr.querySelector('.sz').textContent])""",
                    slug,
                )
                assert [r[0] for r in rows] == [f"{p:.3f}" for p, _ in bids]  # best first, 0.001 ticks

            # network strings are text: the slug is shown as written, nothing it holds became markup
            shown = await page.evaluate(
                "() => [...document.querySelectorAll('.card .sym')].map((e) => e.textContent)"
            )
            assert shown == slugs
            assert await page.evaluate("() => document.querySelectorAll('img').length") == 0
            assert await page.evaluate("() => window.pwned === undefined")
            alert_text = await page.evaluate(
                "(s) => [...document.querySelectorAll('#alerts li')].find((li) => li.dataset.symbol === s).textContent",
                HOSTILE,
            )
            assert HOSTILE in alert_text

            # the screenshot shows it: candles drawn in the chart, a two-coloured ladder beside it
            shot = tmp_path / "polymarket.png"
            await page.screenshot(path=str(shot), full_page=True)
            card = page.locator(f".card[data-symbol='{PM_MARKETS[0]}']")
            chart = await card.locator(".chart").screenshot()
            ladder = await card.locator(".ladder").screenshot()
            assert colour_pixels(chart, UP) + colour_pixels(chart, DOWN) > 100
            assert colour_pixels(ladder, UP, 60) > 20 and colour_pixels(ladder, DOWN, 60) > 20
            keep = os.environ.get("TICKWIRE_POLYMARKET_SCREENSHOT")  # e.g. docs/dashboard-polymarket.png
            if keep:
                shutil.copyfile(shot, keep)
    assert errors == [], errors
