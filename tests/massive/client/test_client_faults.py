"""Reconnect, exact resubscribe and gap reporting after each fault the simulator can inject."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest

from tickwire import (
    AuthError,
    ConnectionLost,
    Disconnected,
    Dropped,
    EquityTrade,
    Reconnected,
)
from tickwire.sim import MassiveSimulator

from .conftest import events_until, fast_client

DESIRED = ["T.AAPL", "Q.MSFT", "AM.*", "T.BRK.A"]

FAULTS: dict[str, tuple[Callable[[MassiveSimulator], object], str]] = {
    "drop": (lambda s: s.drop(), "connection dropped (1006)"),
    "close_1000": (lambda s: s.close(1000), "server closed (1000)"),
    "close_1001": (lambda s: s.close(1001), "server going away (1001)"),
    "close_1011": (lambda s: s.close(1011), "server error (1011)"),
    "slow_consumer": (lambda s: s.send_status("slow_consumer", "too slow", close_code=1008), "slow_consumer"),
    "force_disconnect": (
        lambda s: s.send_status("force_disconnect", "bye", close_code=1000),
        "force_disconnect",
    ),
}


def subscribe_actions_of_last_connection(sim: MassiveSimulator) -> list[str]:
    actions = sim.actions("stocks")
    last_conn = max(a.conn_id for a in actions)
    return [p for a in actions if a.conn_id == last_conn and a.action == "subscribe" for p in a.params]


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_reconnect_and_exact_resubscribe(sim: MassiveSimulator, fault: str) -> None:
    inject, reason = FAULTS[fault]
    async with fast_client(sim) as client:
        await client.subscribe(*DESIRED)
        await events_until(client, lambda ev, s: isinstance(ev, EquityTrade))
        before = time.time()
        inject(sim)
        seen = await events_until(
            client,
            lambda ev, s: any(isinstance(e, Reconnected) for e in s) and isinstance(ev, EquityTrade),
        )
        await sim.wait_subscribed("stocks", set(DESIRED), timeout=5)
    disc = [e for e in seen if isinstance(e, Disconnected)]
    rec = [e for e in seen if isinstance(e, Reconnected)]
    assert len(disc) == 1 and len(rec) == 1
    assert disc[0].reason == reason and disc[0].will_reconnect and disc[0].retry_in is not None
    assert before <= rec[0].gap_start <= rec[0].gap_end <= time.time()
    assert rec[0].gap_start == disc[0].at
    assert rec[0].resubscribed == DESIRED
    assert seen.index(disc[0]) < seen.index(rec[0])
    # the new connection was sent exactly the desired set, once
    assert sorted(subscribe_actions_of_last_connection(sim)) == sorted(DESIRED)
    assert client.metrics().reconnects == 1


async def test_mute_socket_is_detected_by_the_staleness_watchdog(sim: MassiveSimulator) -> None:
    async with fast_client(sim, stale_timeout=0.6) as client:
        await client.subscribe("T.*")
        await events_until(client, lambda ev, s: isinstance(ev, EquityTrade))
        sim.mute()  # socket open, pings answered, nothing else
        seen = await events_until(
            client, lambda ev, s: any(isinstance(e, Reconnected) for e in s) and isinstance(ev, EquityTrade)
        )
    disc = next(e for e in seen if isinstance(e, Disconnected))
    assert disc.reason == "stale"


async def test_auth_failed_stops_with_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = "bad-key-SECRET-42"
    async with MassiveSimulator(plan_denied_keys=[key], tick_interval=0.02) as sim:
        client = fast_client(sim, api_key=key)
        seen = []
        with pytest.raises(AuthError) as err:
            async with client:
                await client.subscribe("T.*")
                async for ev in client:
                    seen.append(ev)
        assert sim.counters.auth_failed == 1 and sim.counters.handshakes == 1  # never retried
    text = str(err.value)
    assert "plan doesn't include websocket access" in text and "stocks" in text
    assert key not in text and key not in repr(client)
    assert key not in caplog.text
    final = [e for e in seen if isinstance(e, Disconnected)]
    assert final and final[-1].reason == "auth_failed" and not final[-1].will_reconnect


async def test_http_401_at_the_upgrade_is_fatal(sim: MassiveSimulator) -> None:
    sim.refuse_handshakes(401)
    with pytest.raises(AuthError, match="401"):
        async with fast_client(sim) as client:
            async for _ in client:
                pass
    assert sim.counters.refused == 1


async def test_refused_handshakes_back_off_then_recover(sim: MassiveSimulator) -> None:
    sim.refuse_handshakes(503, count=3)
    async with fast_client(sim) as client:
        await client.subscribe("T.AAPL")
        seen = await events_until(client, lambda ev, s: isinstance(ev, EquityTrade))
        # changes made while not connected are remembered and sent once connected
    refused = [e for e in seen if isinstance(e, Disconnected)]
    assert [e.reason for e in refused] == ["handshake_refused"] * 3
    assert all(e.code == 503 for e in refused)
    assert sim.counters.refused == 3


async def test_max_reconnects_ends_in_connection_lost(sim: MassiveSimulator) -> None:
    sim.refuse_handshakes(503)
    with pytest.raises(ConnectionLost, match="2 reconnect attempts"):
        async with fast_client(sim, max_reconnects=2) as client:
            async for _ in client:
                pass
    assert sim.counters.refused == 3  # the first try and two reconnects


async def test_max_connections_never_reconnects_faster_than_the_cooldown(sim: MassiveSimulator) -> None:
    cooldown = 0.8
    a = fast_client(sim, max_connections_cooldown=cooldown)
    b = fast_client(sim, max_connections_cooldown=cooldown)
    async with a, b:
        await a.subscribe("T.*")
        await events_until(a, lambda ev, s: isinstance(ev, EquityTrade))
        await b.subscribe("T.*")  # b authenticates with the same key: a is evicted
        seen_a = await events_until(a, lambda ev, s: isinstance(ev, Disconnected))
        evicted = seen_a[-1]
        assert isinstance(evicted, Disconnected)
        assert evicted.reason == "max_connections" and evicted.retry_in is not None
        assert evicted.retry_in >= cooldown
        # the two now evict each other, but no faster than the cooldown allows
        t0 = time.time()
        await asyncio.sleep(2.5)
        elapsed = time.time() - t0
    auths = [x for x in sim.actions("stocks", "auth") if x.at >= t0]
    assert len(auths) <= 2 * (elapsed / cooldown + 1)
    assert sim.counters.evictions >= 1


async def test_slow_handler_drop_oldest_is_counted_and_bounded(sim: MassiveSimulator) -> None:
    async with fast_client(sim, queue_size=20, overflow="drop_oldest") as client:
        await client.subscribe("T.*", "Q.*")
        await events_until(client, lambda ev, s: isinstance(ev, EquityTrade))
        await asyncio.sleep(1.0)  # a consumer that does not read
        depth = client.metrics().queue_depth
        seen = await events_until(client, lambda ev, s: isinstance(ev, Dropped))
    dropped = [e for e in seen if isinstance(e, Dropped)]
    assert dropped[0].count > 0 and client.metrics().dropped >= dropped[0].count
    assert depth <= 20  # the bound (the marker takes the place of a frame)


async def test_slow_handler_block_pauses_reading_and_loses_nothing(sim: MassiveSimulator) -> None:
    async with fast_client(sim, queue_size=20, overflow="block", ping_interval=None) as client:
        await client.subscribe("T.*", "Q.*")
        await events_until(client, lambda ev, s: isinstance(ev, EquityTrade))
        await asyncio.sleep(1.0)
        m = client.metrics()
        assert m.paused and m.dropped == 0 and m.queue_depth <= 20 + 50  # bound + what one read held
        seen = await events_until(client, lambda ev, s: len(s) > 2_000, within=10)
    seqs: dict[str, list[int]] = {}
    for e in seen:
        if isinstance(e, EquityTrade) and e.symbol and e.sequence_number is not None:
            seqs.setdefault(e.symbol, []).append(e.sequence_number)
    assert all(s == sorted(s) for s in seqs.values())
    assert client.metrics().dropped == 0


async def test_disconnect_policy_drops_the_connection_and_reports_the_gap(sim: MassiveSimulator) -> None:
    async with fast_client(sim, queue_size=10, overflow="disconnect") as client:
        await client.subscribe("T.*", "Q.*")
        await events_until(client, lambda ev, s: isinstance(ev, EquityTrade))
        await asyncio.sleep(0.5)
        seen = await events_until(client, lambda ev, s: isinstance(ev, Reconnected), within=10)
    disc = [e for e in seen if isinstance(e, Disconnected)]
    assert disc and disc[0].reason == "slow_consumer_local"


async def test_key_never_appears_in_logs_or_reprs(
    sim: MassiveSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "sk_live_NEVER_LOG_ME_1234"
    async with fast_client(sim, api_key=key) as client:
        await client.subscribe("T.*")
        await events_until(client, lambda ev, s: isinstance(ev, EquityTrade))
        sim.drop()
        await events_until(client, lambda ev, s: isinstance(ev, Reconnected))
        text = repr(client) + repr(client.session) + repr(client.metrics()) + caplog.text
    assert key not in text
