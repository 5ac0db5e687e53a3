"""Alert rules on Polymarket US prices: scripted trades, books and lite prices sent by the Polymarket
simulator over loopback to a dashboard; cross, move, spread and stale fire exactly when they should."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.alerts.test_alerts_sim import ScriptClock
from tests.dashboard.conftest import POLYMARKET, pm_open, until
from tests.dashboard.conftest import pm_sim as pm_sim  # the fixture
from tickwire.alerts import Alert, AlertNotifier, parse_rule
from tickwire.dashboard import Dashboard
from tickwire.polymarket_us.client import PolymarketClient
from tickwire.polymarket_us.enums import SubscriptionType
from tickwire.sim.polymarket import PolymarketSimulator
from tickwire.sim.polymarket.account import rfc3339

S = 1_000  # ms
A = "btc-100k-2026"  # trades only
B = "fed-cut-june"  # books and lite prices


def usd(value: float) -> dict[str, str]:
    return {"value": f"{value:.3f}", "currency": "USD"}


def trade(rid: str, price: float, ms: int) -> dict[str, Any]:
    return {
        "requestId": rid,
        "subscriptionType": "SUBSCRIPTION_TYPE_TRADE",
        "trade": {
            "marketSlug": A,
            "price": usd(price),
            "quantity": usd(10),
            "tradeTime": rfc3339(ms * 1_000_000),
            "maker": {"side": "ORDER_SIDE_SELL"},
            "taker": {"side": "ORDER_SIDE_BUY"},
        },
    }


def book(rid: str, bid: float, ask: float, current: float, ms: int) -> dict[str, Any]:
    return {
        "requestId": rid,
        "subscriptionType": "SUBSCRIPTION_TYPE_MARKET_DATA",
        "marketData": {
            "marketSlug": B,
            "bids": [{"px": usd(bid), "qty": "100"}, {"px": usd(bid - 0.01), "qty": "50"}],
            "offers": [{"px": usd(ask), "qty": "80"}],
            "state": "MARKET_STATE_OPEN",
            "stats": {"currentPx": usd(current)},
            "transactTime": rfc3339(ms * 1_000_000),
        },
    }


def lite(rid: str, bid: float, ask: float, current: float) -> dict[str, Any]:
    return {
        "requestId": rid,
        "subscriptionType": "SUBSCRIPTION_TYPE_MARKET_DATA_LITE",
        "marketDataLite": {
            "marketSlug": B,
            "currentPx": usd(current),
            "bestBid": usd(bid),
            "bestAsk": usd(ask),
        },
    }


async def test_rules_fire_on_polymarket_trades_books_and_lite_prices(pm_sim: PolymarketSimulator) -> None:
    rules = [
        parse_rule(f"cross {A} level=0.5 direction=up cooldown=60"),
        parse_rule(f"move {A} pct=10 window=10 cooldown=0"),
        parse_rule(f"cross {B} level=0.6 direction=up cooldown=0"),
        parse_rule(f"spread {B} max=0.05 cooldown=0"),
        parse_rule(f"stale {B} after=5 cooldown=30"),
    ]
    seen: list[Alert] = []
    pm_sim.pause_data()  # only the subscription snapshots and the scripted frames below reach the client
    t0 = time.time_ns() // 1_000_000 + S
    clock = ScriptClock(t0)
    client = pm_open(pm_sim, [f"trade:{A}", f"market_data:{B}", f"market_data_lite:{B}"], [])
    assert isinstance(client, PolymarketClient)
    rid = {stype: r for r, (stype, _) in client.subscriptions.items()}
    async with (
        client,
        Dashboard(
            client,
            ticks=POLYMARKET.ticks,
            rules=rules,
            notifier=AlertNotifier([seen.append]),
            clock=clock,
            clock_interval=0.02,
        ) as dash,
    ):
        await pm_sim.wait_subscribed("markets", rid.values(), timeout=20)
        await until(lambda: dash.state.market_events >= 2)  # B's book and lite snapshots
        sent = dash.state.market_events

        async def send(*frames: dict[str, Any]) -> None:
            nonlocal sent
            for frame in frames:
                assert pm_sim.send_raw(json.dumps(frame), "markets") == 1
            sent += len(frames)
            await until(lambda: dash.state.market_events >= sent)  # the dashboard has consumed them

        def fired(kind: str, symbol: str) -> list[int]:
            return [(a.at_ns // 1_000_000 - t0) // S for a in seen if a.kind == kind and a.symbol == symbol]

        tr, md, lt = (
            rid[SubscriptionType.TRADE],
            rid[SubscriptionType.MARKET_DATA],
            rid[SubscriptionType.MARKET_DATA_LITE],
        )

        # A's trades: +12.5% in 2 s fires the move at t=2; the up-cross of 0.5 at t=3 (again at t=5, but
        # within the 60 s de-bounce); at t=21, 0.42 is 19% under t=5's 0.52 (the price 10 s before): a move.
        await send(*(trade(tr, p, t0 + s * S) for s, p in [(0, 0.40), (1, 0.42), (2, 0.45), (3, 0.51)]))
        assert (fired("move", A), fired("cross", A)) == ([2], [3])
        await send(*(trade(tr, p, t0 + s * S) for s, p in [(4, 0.49), (5, 0.52), (20, 0.47), (21, 0.42)]))
        assert (fired("move", A), fired("cross", A)) == ([2, 21], [3])

        # B's current price (lite, then books) crosses 0.6 upwards twice; whatever the snapshot said,
        # 0.55 puts it below first.
        await send(lite(lt, 0.54, 0.56, 0.55), lite(lt, 0.61, 0.63, 0.62))
        assert len([a for a in seen if a.kind == "cross" and a.symbol == B]) == 1
        # B's books: the spread widens to 0.10 at t=3 and, after narrowing, to 0.20 at t=5; the current
        # price dips (t=2) and crosses up again (t=3).
        await send(book(md, 0.57, 0.59, 0.58, t0 + 2 * S), book(md, 0.55, 0.65, 0.61, t0 + 3 * S))
        await send(book(md, 0.60, 0.62, 0.61, t0 + 4 * S), book(md, 0.50, 0.70, 0.60, t0 + 5 * S))
        assert fired("spread", B) == [3, 5]
        assert [round(a.value, 3) for a in seen if a.kind == "spread"] == [0.1, 0.2]
        assert fired("cross", B)[1:] == [3]

        # B stale 5 s after its last book (t=5), on the dashboard's clock: not at t=9, at t=11; a book at
        # t=12 ends it; stale again at t=20 but within the 30 s de-bounce.
        await clock.set(t0 + 9 * S)
        assert fired("stale", B) == []
        await clock.set(t0 + 11 * S)
        assert fired("stale", B) == [11]
        await send(book(md, 0.60, 0.62, 0.61, t0 + 12 * S))
        await clock.set(t0 + 20 * S)
        assert fired("stale", B) == [11]

        assert dash.engine.suppressed == {
            f"cross {A} 0.5 up": 1,
            f"move {A} 10% 10s any": 0,
            f"cross {B} 0.6 up": 0,
            f"spread {B} > 0.05": 0,
            f"stale {B} 5s": 1,
        }
        assert [a["symbol"] for a in dash.state.alerts] == [a.symbol for a in seen]  # on the page too
        assert all(a.symbol in (A, B) for a in seen)  # named as the stream spells them
