"""The official ``polymarket-us`` SDK, unmodified, against the simulator: only its base URL changes."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from polymarket_us import AsyncPolymarketUS

from tickwire.sim import MassiveSimulator
from tickwire.sim.polymarket import PolymarketSimulator, attach_polymarket


async def _collect(ws: Any, names: list[str]) -> dict[str, list[Any]]:
    got: dict[str, list[Any]] = defaultdict(list)
    for name in [*names, "error"]:
        ws.on(name, lambda *args, _n=name: got[_n].append(args[0] if args else None))
    return got


async def _wait(got: dict[str, list[Any]], names: list[str], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not all(got[n] for n in names):  # noqa: ASYNC110 (the SDK's callbacks only append to lists)
            await asyncio.sleep(0.01)


async def _sdk_session(pm: PolymarketSimulator) -> None:
    async with AsyncPolymarketUS(
        key_id=pm.key_id, secret_key=pm.secret_key, api_base_url=f"http://127.0.0.1:{pm.port}"
    ) as client:
        markets = client.ws.markets()
        private = client.ws.private()
        mgot = await _collect(markets, ["market_data", "market_data_lite", "trade", "heartbeat"])
        pgot = await _collect(
            private,
            [
                "order_snapshot",
                "order_update",
                "position_update",
                "account_balance_snapshot",
                "account_balance_update",
            ],
        )
        await markets.connect()
        await private.connect()
        try:
            slugs = pm.markets[:4]
            await markets.subscribe_market_data("md-1", slugs)
            await markets.subscribe_market_data_lite("mdl-1", slugs)
            await markets.subscribe_trades("tr-1", slugs)
            await private.subscribe_orders("ord-1")
            await private.subscribe_positions("pos-1")
            await private.subscribe_account_balance("bal-1")
            await private.subscribe("snap-1", "SUBSCRIPTION_TYPE_ORDER_SNAPSHOT")
            await _wait(mgot, ["market_data", "market_data_lite", "trade", "heartbeat"])
            await _wait(
                pgot,
                [
                    "order_snapshot",
                    "order_update",
                    "position_update",
                    "account_balance_snapshot",
                    "account_balance_update",
                ],
            )
            await markets.subscribe_market_data("md-bad", ["no-such-market"])
            await _wait(mgot, ["error"])
        finally:
            await markets.close()
            await private.close()

    assert not pgot["error"]
    md = mgot["market_data"][0]["marketData"]
    assert md["marketSlug"] in slugs and md["bids"] and md["offers"]
    assert 0 < float(md["bids"][0]["px"]["value"]) < float(md["offers"][0]["px"]["value"]) < 1
    assert mgot["trade"][0]["trade"]["quantity"]["currency"] == "USD"
    snaps = pgot["order_snapshot"]
    assert snaps[-1]["orderSubscriptionSnapshot"]["eof"] is True
    assert pgot["account_balance_snapshot"][0]["accountBalancesSnapshot"]["balances"][0]["currency"] == "USD"
    err = mgot["error"][0]
    assert err.request_id == "md-bad" and "no-such-market" in str(err)
    # the SDK's signature passed the server's check on both sockets
    assert [h.status for h in pm.handshakes] == [101, 101]


async def test_official_sdk_against_standalone_simulator() -> None:
    async with PolymarketSimulator(
        seed=3, tick_interval=0.02, heartbeat_interval=0.05, account_interval=0.05, snapshot_page_size=2
    ) as pm:
        await _sdk_session(pm)


async def test_official_sdk_against_tickwire_sim_port() -> None:
    """What ``tickwire sim`` runs: the Massive simulator's port also serves the Polymarket paths."""
    async with MassiveSimulator(seed=1) as massive:
        pm = attach_polymarket(
            massive, announce=None, tick_interval=0.02, heartbeat_interval=0.05, account_interval=0.05
        )
        try:
            assert pm.port == massive.port
            await _sdk_session(pm)
        finally:
            await pm.aclose()
