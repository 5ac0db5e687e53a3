"""PolymarketClient against the simulator over loopback: every stream, both formats, faults, books."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from tickwire.errors import AuthError
from tickwire.events import Connected, Disconnected, Reconnected, SubscriptionRejected
from tickwire.polymarket_us.events import (
    AccountBalanceSnapshot,
    AccountBalanceUpdate,
    MarketData,
    MarketDataLite,
    OrderSnapshot,
    OrderUpdate,
    PositionUpdate,
    ReplayGap,
    Trade,
)
from tickwire.sim.polymarket import PolymarketSimulator

from .conftest import pm_client, pm_events_until

MARKET_TYPES = (MarketData, MarketDataLite, Trade)
PRIVATE_TYPES = (OrderSnapshot, OrderUpdate, PositionUpdate, AccountBalanceSnapshot, AccountBalanceUpdate)


def _seen_all(kinds: tuple[type, ...]):  # type: ignore[no-untyped-def]
    return lambda ev, seen: all(any(isinstance(e, k) for e in seen) for k in kinds)


@pytest.mark.parametrize("legacy", [False, True], ids=["camelCase", "legacy-snake_case"])
async def test_every_subscription_type_is_decoded(legacy: bool) -> None:
    async with PolymarketSimulator(
        seed=2, tick_interval=0.02, heartbeat_interval=0.05, account_interval=0.05, legacy=legacy
    ) as sim:
        slugs = sim.markets[:3]
        async with pm_client(sim, "markets") as pm:
            ids = [
                await pm.subscribe_market_data(*slugs),
                await pm.subscribe_market_data_lite(",".join(slugs)),
                await pm.subscribe_trades(*slugs),
            ]
            seen = await pm_events_until(pm, _seen_all(MARKET_TYPES))
        md = next(e for e in seen if isinstance(e, MarketData))
        assert md.request_id == ids[0] and md.market_slug in slugs
        assert md.state == "MARKET_STATE_OPEN"  # a name, also when the wire had a number
        assert (
            isinstance(md.bids[0].price, Decimal) and Decimal(0) < md.bids[0].price < md.offers[0].price < 1
        )
        assert md.transact_time is not None and abs(md.transact_time / 1e9 - time.time()) < 30
        lite = next(e for e in seen if isinstance(e, MarketDataLite))
        assert lite.request_id == ids[1] and lite.best_bid is not None and lite.best_ask is not None
        assert lite.best_bid < lite.best_ask and lite.bid_depth == 5
        tr = next(e for e in seen if isinstance(e, Trade))
        assert tr.request_id == ids[2] and isinstance(tr.quantity, Decimal) and tr.quantity > 0
        assert tr.taker_side in ("ORDER_SIDE_BUY", "ORDER_SIDE_SELL") and tr.trade_time is not None
        assert not [e for e in seen if e.event_type in ("decode_error", "raw")]

        async with pm_client(sim, "private") as priv:
            await priv.subscribe_orders()
            await priv.subscribe_positions()
            await priv.subscribe_account_balance()
            await priv.request_order_snapshot()
            seen = await pm_events_until(priv, _seen_all(PRIVATE_TYPES))
        snaps = [e for e in seen if isinstance(e, OrderSnapshot)]
        assert snaps[-1].eof and all(not s.eof for s in snaps[:-1])
        assert len(snaps) >= 2  # paged: 5 open orders, 2 per frame
        order = snaps[0].orders[0]
        assert order.side == "ORDER_SIDE_BUY" and order.state.startswith("ORDER_STATE_")
        assert order.quantity == order.leaves_quantity + order.cum_quantity  # type: ignore[operator]
        upd = next(e for e in seen if isinstance(e, OrderUpdate))
        assert upd.execution.type.startswith("EXECUTION_TYPE_") and upd.execution.transact_time
        pos = next(e for e in seen if isinstance(e, PositionUpdate))
        assert pos.entry_type == "LEDGER_ENTRY_TYPE_ORDER_EXECUTION" and pos.after is not None
        bal = next(e for e in seen if isinstance(e, AccountBalanceSnapshot))
        assert bal.balances[0].current_balance == Decimal("1000.0")
        assert not [e for e in seen if e.event_type in ("decode_error", "raw", "subscription_rejected")]


async def test_books_match_the_simulator_after_every_update(pm_sim: PolymarketSimulator) -> None:
    slugs = pm_sim.markets[:4]
    checked = 0
    async with pm_client(pm_sim) as pm:
        await pm.subscribe_market_data(*slugs)
        async for ev in pm:
            if isinstance(ev, MarketData):
                assert ev.transact_time is not None
                book = pm.book(ev.market_slug)
                assert book is not None and not ev.crossed
                bids, offers = pm_sim.book(ev.market_slug, ev.transact_time)
                assert book.snapshot() == (tuple(bids), tuple(offers))
                assert book.best_bid == bids[0][0] and book.best_ask == offers[0][0]
                assert book.spread == offers[0][0] - bids[0][0] > 0
                assert book.depth("bid") == sum(q for _, q in bids)
                checked += 1
                if checked >= 60:
                    break
    assert checked == 60


async def test_errors_are_reported_and_large_subscriptions_split() -> None:
    markets = tuple(f"m-{i:03d}" for i in range(150))
    async with PolymarketSimulator(
        seed=1, markets=markets, tick_interval=0.05, heartbeat_interval=0.05
    ) as sim:
        async with pm_client(sim) as pm:
            rid = await pm.subscribe_market_data_lite(*markets, request_id="all-lite")
            assert rid == "all-lite" and set(pm.subscriptions) == {"all-lite", "all-lite.2"}
            bad = await pm.subscribe_trades("m-001", "not-a-market")
            seen = await pm_events_until(
                pm,
                lambda ev, s: (
                    any(isinstance(e, SubscriptionRejected) for e in s)
                    and {e.market_slug for e in s if isinstance(e, MarketDataLite)} >= {"m-000", "m-149"}
                ),
            )
        rej = next(e for e in seen if isinstance(e, SubscriptionRejected))
        assert rej.channel == bad and "not-a-market" in rej.message
        assert bad not in pm.subscriptions  # a rejected subscription is not re-sent after a reconnect
        assert all(len(r.get("subscribe", {}).get("marketSlugs", [])) <= 100 for r in sim.requests("markets"))


async def test_snapshot_error_rides_on_the_terminal_frame(pm_sim: PolymarketSimulator) -> None:
    pm_sim.fail_next_snapshot("deadline exceeded")
    async with pm_client(pm_sim, "private") as priv:
        rid = await priv.request_order_snapshot(request_id="snap-x")
        seen = await pm_events_until(priv, lambda ev, s: isinstance(ev, SubscriptionRejected))
    snap = next(e for e in seen if isinstance(e, OrderSnapshot))
    assert snap.request_id == rid and snap.eof and snap.error == "deadline exceeded"
    assert seen[-1].channel == "snap-x"  # type: ignore[attr-defined]


async def test_heartbeat_loss_reconnects_with_a_new_signature_and_resubscribes(
    pm_sim: PolymarketSimulator,
) -> None:
    async with pm_client(pm_sim, "private", heartbeat_timeout=0.3) as priv:
        orders = await priv.subscribe_orders()
        bal = await priv.subscribe_account_balance()
        await pm_events_until(priv, lambda ev, s: isinstance(ev, AccountBalanceSnapshot))
        before = await pm_sim.wait_subscribed("private", [orders, bal])
        pm_sim.pause_data()
        pm_sim.mute("private")  # no heartbeats, no data: a silent socket
        seen = await pm_events_until(priv, lambda ev, s: isinstance(ev, ReplayGap))
        info = await pm_sim.wait_subscribed("private", [orders, bal])
        pm_sim.resume_data()
        seen += await pm_events_until(priv, lambda ev, s: isinstance(ev, OrderSnapshot) and ev.eof)
    disc = next(e for e in seen if isinstance(e, Disconnected))
    assert disc.reason == "heartbeat_timeout" and disc.will_reconnect
    rec = next(e for e in seen if isinstance(e, Reconnected))
    assert set(rec.resubscribed) == {orders, bal} and rec.gap_end >= rec.gap_start
    gap = next(e for e in seen if isinstance(e, ReplayGap))
    assert gap.streams == ["orders"] and gap.snapshot_request_id is not None
    assert any(isinstance(e, OrderSnapshot) and e.request_id == gap.snapshot_request_id for e in seen)
    assert info.id != before.id  # resubscribed on the new connection
    first, second = [h for h in pm_sim.handshakes if h.status == 101][:2]
    assert second.timestamp > first.timestamp and second.signature != first.signature  # signed again
    assert any(isinstance(e, Connected) and e.epoch == 2 for e in seen)


async def test_dropped_markets_socket_resubscribes_and_books_resume(pm_sim: PolymarketSimulator) -> None:
    async with pm_client(pm_sim) as pm:
        rid = await pm.subscribe_market_data(pm_sim.markets[0])
        await pm_events_until(pm, lambda ev, s: isinstance(ev, MarketData))
        pm_sim.drop()
        seen = await pm_events_until(
            pm, lambda ev, s: any(isinstance(e, Reconnected) for e in s) and isinstance(ev, MarketData)
        )
    rec = next(e for e in seen if isinstance(e, Reconnected))
    assert rec.resubscribed == [rid]
    assert not any(isinstance(e, ReplayGap) for e in seen)  # books are re-sent: nothing to re-fetch


@pytest.mark.parametrize(
    ("key_id", "secret", "skew", "expected"),
    [
        (
            "00000000-0000-4000-8000-00000000beef",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            0,
            "bad signature",
        ),
        ("not-a-known-key", None, 0, "unknown key id"),
        (None, None, -120.0, "clock skew"),
    ],
    ids=["bad-signature", "unknown-key", "clock-skew"],
)
async def test_401_is_fatal_and_says_why(
    pm_sim: PolymarketSimulator, key_id: str | None, secret: str | None, skew: float, expected: str
) -> None:
    client = pm_client(pm_sim, key_id=key_id or pm_sim.key_id, secret_key=secret or pm_sim.secret_key)
    if skew:
        client.driver.clock = lambda: time.time() + skew
    with pytest.raises(AuthError, match=expected) as info:
        async with client:
            await client.subscribe_market_data(pm_sim.markets[0])
            await pm_events_until(client, lambda ev, s: False, within=5.0)
    assert "HTTP 401" in str(info.value)
    assert (secret or pm_sim.secret_key) not in str(info.value)  # never the secret
    assert [h.status for h in pm_sim.handshakes] == [401]  # not retried


async def test_429_backs_off_long_then_connects(pm_sim: PolymarketSimulator) -> None:
    pm_sim.refuse_handshakes(429, count=1)
    async with pm_client(pm_sim, rate_limit_cooldown=0.4) as pm:
        await pm.subscribe_market_data(pm_sim.markets[0])
        seen = await pm_events_until(pm, lambda ev, s: isinstance(ev, MarketData))
    disc = next(e for e in seen if isinstance(e, Disconnected))
    assert disc.code == 429 and disc.retry_in is not None and disc.retry_in >= 0.4
    ok = [h for h in pm_sim.handshakes if h.status == 101]
    assert ok and ok[0].at - pm_sim.handshakes[0].at >= 0.35


async def test_account_stays_consistent_with_what_the_client_saw() -> None:
    async with (
        PolymarketSimulator(
            seed=9, tick_interval=0.05, heartbeat_interval=0.05, account_interval=None
        ) as sim,
        pm_client(sim, "private") as priv,
    ):
        await priv.subscribe_orders()
        await priv.subscribe_positions()
        await priv.subscribe_account_balance()
        await priv.request_order_snapshot()
        seen = await pm_events_until(
            priv,
            lambda ev, s: (
                isinstance(ev, OrderSnapshot) and ev.eof and _seen_all((AccountBalanceSnapshot,))(ev, s)
            ),
        )
        for _ in range(15):
            last = sim.step_account()  # a fill, and a new order after a full fill
        final_id = last[-1][2].id  # type: ignore[union-attr]
        seen += await pm_events_until(
            priv, lambda ev, s: isinstance(ev, AccountBalanceUpdate) and ev.id == final_id
        )
    acct = sim.account()
    orders = {o.id: o for e in seen if isinstance(e, OrderSnapshot) for o in e.orders}
    positions: dict[str, Decimal] = {}
    balance = next(e for e in seen if isinstance(e, AccountBalanceSnapshot)).balances[0]
    fills = 0
    for e in seen:
        if isinstance(e, OrderUpdate) and e.execution.order is not None:
            orders[e.execution.order.id] = e.execution.order
            fills += e.execution.type != "EXECUTION_TYPE_NEW"
        elif isinstance(e, PositionUpdate) and e.after is not None and e.after.net_position is not None:
            positions[e.market_slug] = e.after.net_position
        elif isinstance(e, AccountBalanceUpdate):
            assert e.before == balance  # each change starts where the last one ended
            balance = e.after  # type: ignore[assignment]
    assert fills == 15
    # orders, positions and balances rebuilt from the stream equal the simulator's account
    for oid, o in orders.items():
        sim_order = acct.orders[oid]
        assert (o.state, o.cum_quantity, o.leaves_quantity) == (
            sim_order.state,
            sim_order.cum,
            sim_order.leaves,
        )
    open_ids = {
        oid for oid, o in orders.items() if o.state in ("ORDER_STATE_NEW", "ORDER_STATE_PARTIALLY_FILLED")
    }
    assert open_ids == {o.id for o in acct.open_orders}
    assert positions == {slug: p.net for slug, p in acct.positions.items()}
    assert balance is not None and balance.current_balance == acct.cash
    assert balance.open_orders == acct.open_orders_value
    assert balance.buying_power == balance.current_balance - balance.open_orders  # type: ignore[operator]
    spent = sum((p.cost for p in acct.positions.values()), Decimal(0))
    assert acct.cash == Decimal("1000.00") - spent


async def test_fault_injection_raw_close_stop_restart(pm_sim: PolymarketSimulator) -> None:
    async with pm_client(pm_sim) as pm:
        await pm.subscribe_market_data(pm_sim.markets[0])
        await pm_events_until(pm, lambda ev, s: isinstance(ev, MarketData))
        assert pm_sim.send_raw(b'{"marketData": [broken') == 1
        seen = await pm_events_until(pm, lambda ev, s: ev.event_type == "decode_error")
        pm_sim.close(1001, "going away")
        seen = await pm_events_until(pm, lambda ev, s: isinstance(ev, Reconnected))
        assert next(e for e in seen if isinstance(e, Disconnected)).code == 1001
        await pm_sim.stop()
        await pm_sim.restart()
        seen = await pm_events_until(pm, lambda ev, s: isinstance(ev, Reconnected))
        assert pm.metrics().reconnects >= 2 and pm.metrics().decode_errors == 1
