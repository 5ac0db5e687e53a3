"""Alert rules against scripted prices from the simulator: each fires exactly when it should, once per
de-bounce, and reaches the log, the page, a webhook and a NATS subject."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from aiohttp import web

from tests.dashboard.conftest import MASSIVE_TICKS, until
from tests.massive.client.conftest import fast_client
from tests.services import service_url, unavailable
from tickwire.alerts import Alert, AlertNotifier, NatsSink, WebhookSink, parse_rule
from tickwire.dashboard import Dashboard
from tickwire.sim import MassiveSimulator

S = 1_000  # ms


class ScriptClock:
    """The dashboard's clock, set by the test; counts reads so a test can wait for a check to have run."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms
        self.reads = 0

    def __call__(self) -> int:
        self.reads += 1
        return self.now_ms * 1_000_000

    async def set(self, now_ms: int) -> None:
        self.now_ms = now_ms
        start = self.reads
        await until(lambda: self.reads >= start + 2)  # at least one full check ran at the new time


def trade(sym: str, price: float, t: int, size: int = 100) -> dict[str, Any]:
    return {"ev": "T", "sym": sym, "i": "1", "x": 4, "p": price, "s": size, "t": t, "q": 1, "z": 3}


def quote(sym: str, bid: float, ask: float, t: int) -> dict[str, Any]:
    return {
        "ev": "Q",
        "sym": sym,
        "bx": 4,
        "bp": bid,
        "bs": 1,
        "ax": 4,
        "ap": ask,
        "as": 1,
        "t": t,
        "q": 1,
        "z": 3,
    }


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A local webhook receiver: its URL and the JSON bodies it got."""
    got: list[dict[str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook/{token}", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/hook/secret-token-123", got
    await runner.cleanup()


async def test_scripted_prices_fire_each_rule_exactly_once_per_debounce(
    hook: tuple[str, list[dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    import nats

    try:
        nc = await nats.connect(
            service_url("TICKWIRE_NATS_URL"),
            connect_timeout=3,
            allow_reconnect=False,
            max_reconnect_attempts=1,
        )
    except Exception as exc:
        unavailable("NATS", exc)
    subject = f"tickwire.test.alerts.{uuid.uuid4().hex}"
    sub = await nc.subscribe(subject)
    hook_url, hooked = hook
    rules = [
        parse_rule("cross AAPL level=100 direction=up cooldown=60"),
        parse_rule("move AMD pct=5 window=10 cooldown=0"),
        parse_rule("volume NVDA factor=3 window=10 baseline=3 cooldown=0"),
        parse_rule("spread MSFT max=0.5 cooldown=0"),
        parse_rule("stale TSLA after=5 cooldown=30"),
    ]
    seen: list[Alert] = []
    notifier = AlertNotifier(
        [seen.append], [WebhookSink(hook_url), NatsSink(service_url("TICKWIRE_NATS_URL"), subject)]
    )
    caplog.set_level(logging.WARNING, logger="tickwire.alerts")

    async with MassiveSimulator(seed=1, tick_interval=0.02, close_timeout=0.3) as sim:
        sim.pause_data()  # only the scripted frames below reach the client
        t0 = sim.now_ms()
        clock = ScriptClock(t0)
        client = fast_client(sim, subscriptions=["T.AAPL", "T.AMD", "T.NVDA", "T.TSLA", "Q.MSFT"])
        async with (
            client,
            Dashboard(
                client,
                ticks=MASSIVE_TICKS,
                rules=rules,
                notifier=notifier,
                clock=clock,
                clock_interval=0.02,
            ) as dash,
        ):
            await sim.wait_subscribed("stocks", ["T.AAPL", "T.AMD", "T.NVDA", "T.TSLA", "Q.MSFT"], timeout=20)
            sent = 0

            async def send(*events: dict[str, Any]) -> None:
                nonlocal sent
                assert sim.send_raw(json.dumps(list(events))) == 1
                sent += len(events)
                await until(lambda: dash.state.market_events >= sent)  # the dashboard has consumed them

            def fired(kind: str) -> list[tuple[str, int]]:
                return [(a.symbol, (a.at_ns // 1_000_000 - t0) // S) for a in seen if a.kind == kind]

            # cross up at 100: fires at t=1; the down-cross (t=2) is the wrong way; the up-cross at t=3 is
            # within the 60 s de-bounce; after it, the up-cross at t=71 fires again.
            await send(trade("AAPL", 99, t0), trade("AAPL", 101, t0 + 1 * S))
            assert fired("cross") == [("AAPL", 1)]
            await send(
                trade("AAPL", 99, t0 + 2 * S), trade("AAPL", 101, t0 + 3 * S), trade("AAPL", 102, t0 + 4 * S)
            )
            assert fired("cross") == [("AAPL", 1)]
            await send(trade("AAPL", 99, t0 + 70 * S), trade("AAPL", 100, t0 + 71 * S))
            assert fired("cross") == [("AAPL", 1), ("AAPL", 71)]

            # 5% move over 10 s: up at t=4 (once while it stays up), down 5.9% at t=25 against t=15's 105.
            await send(
                *(trade("AMD", p, t0 + s * S) for s, p in [(0, 100), (2, 103), (4, 105), (6, 106), (15, 105)])
            )
            assert fired("move") == [("AMD", 4)]
            await send(trade("AMD", 104, t0 + 16 * S), trade("AMD", 98.8, t0 + 25 * S))
            assert fired("move") == [("AMD", 4), ("AMD", 25)]

            # volume: 100 a second for 45 s (warm-up, no alert), then a burst: 3100 in 10 s >= 3 x 1000.
            await send(*(trade("NVDA", 50, t0 + s * S) for s in range(45)))
            await send(trade("NVDA", 50, t0 + 45 * S, size=2000))
            assert fired("volume") == []
            await send(trade("NVDA", 50, t0 + 45 * S + 500, size=200), trade("NVDA", 50, t0 + 46 * S))
            assert fired("volume") == [("NVDA", 45)]

            # spread > 0.5: fires when it widens (t=1), not again while wide, again after narrowing (t=4).
            await send(
                quote("MSFT", 10, 10.1, t0),
                quote("MSFT", 10, 11, t0 + S),
                quote("MSFT", 10, 11.2, t0 + 2 * S),
            )
            await send(quote("MSFT", 10, 10.1, t0 + 3 * S), quote("MSFT", 10, 10.7, t0 + 4 * S))
            assert fired("spread") == [("MSFT", 1), ("MSFT", 4)]

            # stale after 5 s without a trade, on the dashboard's clock: at t=4 not yet, at t=6 yes (once);
            # a trade at t=7 ends it; stale again at t=13 but within the 30 s de-bounce; and at t=40.
            await send(trade("TSLA", 200, t0))
            await clock.set(t0 + 4 * S)
            assert fired("stale") == []
            await clock.set(t0 + 6 * S)
            await clock.set(t0 + 6 * S + 500)
            assert fired("stale") == [("TSLA", 6)]
            await send(trade("TSLA", 201, t0 + 7 * S))
            await clock.set(t0 + 13 * S)
            assert fired("stale") == [("TSLA", 6)]
            await send(trade("TSLA", 202, t0 + 30 * S))
            await clock.set(t0 + 40 * S)
            assert fired("stale") == [("TSLA", 6), ("TSLA", 40)]

            assert dash.engine.suppressed == {
                "cross AAPL 100 up": 1,
                "move AMD 5% 10s any": 0,
                "volume NVDA 3x 10s": 0,
                "spread MSFT > 0.5": 0,
                "stale TSLA 5s": 1,
            }
            # on the page (pushed with the next update) and in /metrics
            assert [a["kind"] for a in dash.state.alerts] == [a.kind for a in seen]
            await notifier.drain()
            metrics = await _get(dash.url + "metrics")
            assert 'tickwire_alerts_total{rule="cross AAPL 100 up"} 2' in metrics
            assert 'tickwire_alerts_suppressed_total{rule="stale TSLA 5s"} 1' in metrics

        # every alert logged, delivered to the webhook and to NATS, in order
        logged = [r.getMessage() for r in caplog.records if r.name == "tickwire.alerts"]
        assert len(seen) == 9 and logged == [f"ALERT {a.rule}: {a.message}" for a in seen]
        assert [h["message"] for h in hooked] == [a.message for a in seen]
        assert hooked[0] == msgspec.to_builtins(seen[0])
        got = [msgspec.json.decode((await sub.next_msg(timeout=5)).data) for _ in seen]
        assert [g["rule"] for g in got] == [a.rule for a in seen]
        assert notifier.errors == 0 and notifier.dropped == 0
    await nc.close()


async def _get(url: str) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.get(url) as r:
        assert r.status == 200
        return await r.text()


async def test_a_failing_webhook_is_counted_and_never_logs_its_url(caplog: pytest.LogCaptureFixture) -> None:
    notifier = AlertNotifier(sinks=[WebhookSink("http://127.0.0.1:9/hook/secret-token-xyz", timeout=2)])
    caplog.set_level(logging.INFO, logger="tickwire.alerts")
    notifier.publish(Alert(rule="r", kind="cross", symbol="A", message="m", value=1.0, at_ns=0))
    await notifier.drain()
    await notifier.aclose()
    assert notifier.errors == 1 and notifier.delivered == 0
    assert "secret-token-xyz" not in caplog.text and "alert sink webhook failed" in caplog.text
