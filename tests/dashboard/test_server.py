"""The dashboard server over real sockets: bounded, coalesced pushes, /metrics, the page and its files."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from tests.dashboard.conftest import MASSIVE_TICKS, until
from tickwire.dashboard import Dashboard
from tickwire.sim import MassiveSimulator


async def test_pushes_are_bounded_and_coalesced_while_the_stream_is_fast(dash: Dashboard) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(dash.url + "ws") as ws:
        first = json.loads((await ws.receive(timeout=30)).data)
        assert first["type"] == "snapshot" and set(first["symbols"]) >= {"AAPL", "MSFT"}
        events0, started = dash.state.events, time.monotonic()
        messages: list[dict[str, Any]] = []
        while time.monotonic() - started < 2.0:
            messages.append(json.loads((await ws.receive(timeout=30)).data))
        elapsed = time.monotonic() - started
        events = dash.state.events - events0
    # push_interval is 0.2 s: at most ~elapsed / 0.2 messages (+1 for timing slack), whatever the event rate
    assert len(messages) <= elapsed / 0.2 + 1
    assert events > 20 * len(messages)  # many events per push: coalesced
    assert all(m["type"] == "update" for m in messages)
    tape = [row for m in messages for row in m["tape"]]
    assert [r["seq"] for r in tape] == sorted({r["seq"] for r in tape})  # no row twice, in order
    for m in messages:  # at most one quote row per symbol per push
        syms = [r["sym"] for r in m["tape"] if r["kind"] == "Q"]
        assert len(syms) == len(set(syms))
    times = [c["time"] for m in messages for c in m["symbols"].get("AAPL", {}).get("candles", [])]
    assert times and all(t % 60 == 0 for t in times)


async def test_a_page_that_never_reads_does_not_hold_up_the_others(fast_sim: MassiveSimulator) -> None:
    from tests.massive.client.conftest import fast_client

    client = fast_client(fast_sim, subscriptions=["T.*", "Q.*"])
    async with (
        client,
        Dashboard(client, ticks=MASSIVE_TICKS, interval=60, push_interval=0.05) as dash,
        aiohttp.ClientSession() as s,
    ):
        stuck = await s.ws_connect(dash.url + "ws", max_msg_size=0)  # never read from
        async with s.ws_connect(dash.url + "ws") as live:
            got = 0
            async with asyncio.timeout(30):
                while got < 30:
                    msg = await live.receive()
                    got += msg.type == aiohttp.WSMsgType.TEXT
        # the live page left; the stuck one is still served
        assert not stuck.closed and dash.server.pages == 1
        await stuck.close()
    assert dash.server.pushes >= 30


async def test_metrics_page_and_static_files(dash: Dashboard) -> None:
    async with aiohttp.ClientSession() as s:
        await until(lambda: dash.state.market_events >= 10)
        async with s.get(dash.url + "metrics") as r:
            assert r.status == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
            text = await r.text()
        samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
        assert float(samples["tickwire_events_total"]) >= 10
        assert samples["tickwire_connected"] == "1"
        for name in ("tickwire_reconnects_total", "tickwire_dropped_total", "tickwire_gaps_total"):
            assert samples[name] == "0"
        assert "# TYPE tickwire_alerts_total counter" in text
        async with s.get(dash.url) as r:
            page = await r.text()
            assert r.status == 200 and "<title>tickwire · dashboard</title>" in page
            assert (
                'src="/static/lightweight-charts.standalone.production.js"' in page and "https://" not in page
            )
        async with s.get(dash.url + "static/lightweight-charts.standalone.production.js") as r:
            assert r.status == 200 and "Lightweight Charts" in (await r.text())[:300]
        async with s.get(dash.url + "static/LICENSE.lightweight-charts") as r:
            assert r.status == 200 and "Apache License" in await r.text()
        async with s.get(dash.url + "static/../app.py") as r:
            assert r.status in (403, 404)
        async with s.get(dash.url + "api/state") as r:
            state = await r.json()
            assert state["type"] == "snapshot" and state["conn"]["state"] == "connected"
