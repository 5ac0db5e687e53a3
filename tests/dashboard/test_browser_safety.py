"""The dashboard's output safety in real headless Chromium: a token-protected page (the token goes
with its files and its WebSocket; the Content-Security-Policy lets the charts draw), hostile symbols
from the network shown as text only, and the symbol bound removing cards from the page."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.dashboard.conftest import MASSIVE_TICKS, sim_clock
from tests.massive.client.conftest import fast_client
from tickwire.dashboard import Dashboard
from tickwire.sim import MassiveSimulator

WAIT = 60_000  # ms; every wait is on a DOM condition
TOKEN = "page-t0ken&x=1"
HOSTILE = [
    '<img src=x onerror="window.pwned=1">',
    "[bold red]MKP[/]",
    "CLS\x1b[2J\x07",
    "__proto__",
    "constructor",
    "a'b\"c`${1}`",
]


# every tape cell's text as rows arrive (the tape keeps 80 rows; AAPL trades push them out quickly)
_WATCH_TAPE = """() => {
  window.seenTape = new Set();
  const tape = document.querySelector('#tape');
  new MutationObserver(() => tape.querySelectorAll('td').forEach((td) => window.seenTape.add(td.textContent)))
    .observe(tape, { childList: true, subtree: true });
}"""


def _trades(symbols: list[str], ts_ms: int) -> str:
    return json.dumps(
        [
            {"ev": "T", "sym": s, "x": 4, "i": str(n), "z": 3, "p": 10.0 + n, "s": 5, "t": ts_ms}
            for n, s in enumerate(symbols)
        ]
    )


@pytest.mark.timeout(240)
async def test_token_page_shows_hostile_symbols_as_text_and_drops_evicted_cards(
    fast_sim: MassiveSimulator, chromium_page: Any
) -> None:
    client = fast_client(fast_sim, subscriptions=["T.AAPL"])
    async with (
        client,
        Dashboard(
            client,
            ticks=MASSIVE_TICKS,
            symbols=["AAPL"],
            interval=60,
            push_interval=0.1,
            clock=sim_clock(fast_sim),
            token=TOKEN,
            max_symbols=len(HOSTILE),
        ) as dash,
    ):
        page = chromium_page
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        refused = await page.goto(dash.url, timeout=WAIT)
        assert refused is not None and refused.status == 401
        await page.goto(f"{dash.url}?token={quote(TOKEN, safe='')}", timeout=WAIT)
        await page.wait_for_selector("#page-status[data-status='live']", timeout=WAIT)
        await page.wait_for_function(
            "() => { const c = window.tickwire.series.AAPL; return c && c.data().length >= 1; }",
            timeout=WAIT,
        )
        assert await page.evaluate("() => document.querySelectorAll('.card canvas').length") >= 2

        await page.evaluate(_WATCH_TAPE)
        fast_sim.pause_data()  # only the hostile trades now: the page's coalesced tape cannot skip them
        fast_sim.send_raw(_trades(HOSTILE, fast_sim.now_ms()))
        await page.wait_for_function(
            "(n) => document.querySelectorAll('.card').length >= n", arg=len(HOSTILE) + 1, timeout=WAIT
        )
        shown = await page.evaluate(
            "() => [...document.querySelectorAll('.card .sym')].map((e) => e.textContent)"
        )
        assert set(HOSTILE) <= set(shown)
        await page.wait_for_function(  # the tape moves fast: the observer saw each row as it came
            "(names) => names.every((s) => window.seenTape.has(s))", arg=HOSTILE, timeout=WAIT
        )
        assert await page.evaluate("() => document.querySelectorAll('img').length") == 0
        assert await page.evaluate("() => window.pwned === undefined")
        assert await page.evaluate("() => Object.getPrototypeOf(window.tickwire.charts) === null")
        fast_sim.resume_data()

        # new symbols beyond the bound: the least recently updated hostile cards leave the page
        fresh = [f"NEW{i}" for i in range(3)]
        fast_sim.send_raw(_trades(fresh, fast_sim.now_ms()))
        await page.wait_for_function(
            "(names) => names.every((s) => document.querySelector(`.card[data-symbol='${s}']`))",
            arg=fresh,
            timeout=WAIT,
        )
        await page.wait_for_function("() => window.tickwire.removed >= 3", timeout=WAIT)
        left = await page.evaluate(
            "() => [...document.querySelectorAll('.card')].map((e) => e.dataset.symbol)"
        )
        assert set(left) == {"AAPL", *HOSTILE[3:], *fresh}, left
        assert dash.state.evicted == 3
        assert errors == []
