"""Every Alpaca error code is reachable, with its exact wire message (spec §B2), in JSON and msgpack;
the closing ones close, the others leave the session as it was."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import msgspec
import pytest
from websockets.exceptions import ConnectionClosed

from tickwire.sim.alpaca import SIM_KEY_ID, SIM_SECRET_KEY, AlpacaSimulator

from .conftest import fast_sim
from .raw_client import Encoding, RawAlpaca

AUTHENTICATED = [{"T": "success", "msg": "authenticated"}]


def error(code: int, msg: str) -> list[dict[str, object]]:
    return [{"T": "error", "code": code, "msg": msg}]


@pytest.fixture(params=["json", "msgpack"])
def encoding(request: pytest.FixtureRequest) -> Encoding:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def limited() -> AsyncIterator[AlpacaSimulator]:
    """A simulator with every limit that makes an error reachable set small."""
    sim = fast_sim(
        keys={"PKBASIC": "basic-secret", "PKOLD": "old-secret"},
        plans={"PKBASIC": ["iex"]},
        v2_disabled_keys=["PKOLD"],
        symbol_limit=2,
        auth_timeout=1.5,  # short for the 404 test, long enough for a login on a loaded machine
    )
    async with sim:
        yield sim


async def login(sim: AlpacaSimulator, encoding: Encoding, feed: str = "iex") -> RawAlpaca:
    client = await RawAlpaca.open(sim.url_for(feed), encoding)
    assert await client.login(SIM_KEY_ID, SIM_SECRET_KEY) == AUTHENTICATED
    return client


async def test_400_invalid_syntax_keeps_the_session(limited: AlpacaSimulator, encoding: Encoding) -> None:
    client = await RawAlpaca.open(limited.url_for("iex"), encoding)
    assert await client.recv() == [{"T": "success", "msg": "connected"}]
    for bad in ({"action": "dance"}, {"action": "subscribe", "trades": "AAPL"}, {"nothing": 1}):
        await client.send(bad)
        assert await client.recv() == error(400, "invalid syntax")
    await client.ws.send(b"\xc1garbage" if encoding == "msgpack" else "{not json")
    assert await client.recv() == error(400, "invalid syntax")
    await client.send({"action": "auth", "key": SIM_KEY_ID, "secret": SIM_SECRET_KEY})
    assert await client.recv() == AUTHENTICATED
    assert [a.action for a in limited.actions()][-1] == "auth"
    await client.close()


async def test_401_not_authenticated(limited: AlpacaSimulator, encoding: Encoding) -> None:
    client = await RawAlpaca.open(limited.url_for("iex"), encoding)
    await client.recv()
    await client.send({"action": "subscribe", "trades": ["AAPL"]})
    assert await client.recv() == error(401, "not authenticated")
    assert limited.connections("iex")[0].subscriptions == {}
    await client.close()


async def test_402_auth_failed_closes(limited: AlpacaSimulator, encoding: Encoding) -> None:
    client = await RawAlpaca.open(limited.url_for("iex"), encoding)
    assert await client.login(SIM_KEY_ID, "wrong") == error(402, "auth failed")
    assert await client.closed() == 1008
    assert limited.counters.auth_failed == 1


async def test_403_already_authenticated(limited: AlpacaSimulator, encoding: Encoding) -> None:
    client = await login(limited, encoding)
    await client.send({"action": "auth", "key": SIM_KEY_ID, "secret": SIM_SECRET_KEY})
    assert await client.recv() == error(403, "already authenticated")
    await client.send({"action": "subscribe", "quotes": ["AAPL"]})
    assert (await client.recv())[0]["T"] == "subscription"
    await client.close()


async def test_404_auth_timeout_closes(limited: AlpacaSimulator, encoding: Encoding) -> None:
    client = await RawAlpaca.open(limited.url_for("iex"), encoding)
    await client.recv()
    assert await client.recv(timeout=3) == error(404, "auth timeout")
    assert await client.closed() == 1008
    assert limited.counters.auth_timeout == 1


async def test_405_symbol_limit_leaves_the_subscriptions_unchanged(
    limited: AlpacaSimulator, encoding: Encoding
) -> None:
    client = await login(limited, encoding)
    await client.send({"action": "subscribe", "trades": ["AAPL"], "bars": ["*"]})
    assert (await client.recv())[0]["trades"] == ["AAPL"]
    await client.send({"action": "subscribe", "trades": ["MSFT"], "quotes": ["NVDA"]})
    assert await client.recv() == error(405, "symbol limit exceeded")
    assert limited.connections("iex")[0].subscriptions == {"trades": ("AAPL",), "bars": ("*",)}
    await client.send({"action": "subscribe", "quotes": ["AAPL"]})  # two symbols: within the limit
    ack = (await client.recv())[0]
    assert (ack["trades"], ack["quotes"], ack["bars"]) == (["AAPL"], ["AAPL"], ["*"])
    await client.close()


async def test_406_second_connection_refused_the_first_kept(
    limited: AlpacaSimulator, encoding: Encoding
) -> None:
    first = await login(limited, encoding)
    second = await RawAlpaca.open(limited.url_for("iex"), encoding)
    assert await second.login(SIM_KEY_ID, SIM_SECRET_KEY) == error(406, "connection limit exceeded")
    assert await second.closed() == 1008
    other_feed = await login(limited, encoding, "sip")  # the limit is per feed
    assert len(limited.connections(authenticated=True)) == 2
    await first.close()
    await limited.wait_connections(0, "iex")  # closed with a handshake: the slot is free at once
    third = await login(limited, encoding)
    for c in (other_feed, third):
        await c.close()


async def test_406_while_a_dropped_session_is_reaped(encoding: Encoding) -> None:
    async with fast_sim(reap_window=0.6) as sim:
        client = await login(sim, encoding)
        sim.drop("iex")
        await client.closed()
        await sim.wait_connections(0, "iex")
        assert sim.held_slots("iex") == 1
        retry = await RawAlpaca.open(sim.url_for("iex"), encoding)
        assert await retry.login(SIM_KEY_ID, SIM_SECRET_KEY) == error(406, "connection limit exceeded")
        await sim.wait_until(lambda: sim.held_slots("iex") == 0, 3, "the dead session to be reaped")
        again = await login(sim, encoding)
        sim.drop("iex")
        await sim.wait_connections(0, "iex")
        assert sim.reap() == 1
        await (await login(sim, encoding)).close()
        await again.closed()


async def test_407_slow_client_closes(encoding: Encoding) -> None:
    async with fast_sim(
        slow_client_bytes=32 * 1024, socket_send_buffer=8192, rate=5.0, close_timeout=5.0
    ) as sim:
        client = await RawAlpaca.open(sim.url_for("sip"), encoding, max_queue=1)
        await client.login(SIM_KEY_ID, SIM_SECRET_KEY)
        await client.send({"action": "subscribe", "trades": ["*"], "quotes": ["*"]})
        await sim.wait_counter("slow_clients", 1, timeout=20)  # the client reads nothing meanwhile
        assert (sim.errors_sent()[-1][1]) == 407
        frames = []
        with contextlib.suppress(ConnectionClosed):  # raised when the server's 1008 arrives
            async with asyncio.timeout(10):
                async for data in client.ws:
                    frames.append(data)
        last = (
            msgspec.msgpack.decode(frames[-1]) if encoding == "msgpack" else msgspec.json.decode(frames[-1])
        )
        assert last == error(407, "slow client")
        assert client.ws.close_code == 1008


async def test_408_v2_not_enabled(limited: AlpacaSimulator, encoding: Encoding) -> None:
    client = await RawAlpaca.open(limited.url_for("iex"), encoding)
    assert await client.login("PKOLD", "old-secret") == error(408, "v2 not enabled")
    assert await client.closed() == 1008


async def test_409_insufficient_subscription_for_a_feed_outside_the_plan(
    limited: AlpacaSimulator, encoding: Encoding
) -> None:
    client = await RawAlpaca.open(limited.url_for("sip"), encoding)
    assert await client.login("PKBASIC", "basic-secret") == error(409, "insufficient subscription")
    assert await client.closed() == 1008
    ok = await RawAlpaca.open(limited.url_for("iex"), encoding)
    assert await ok.login("PKBASIC", "basic-secret") == AUTHENTICATED
    await ok.close()


async def test_410_invalid_subscribe_action_for_this_feed(
    limited: AlpacaSimulator, encoding: Encoding
) -> None:
    client = await login(limited, encoding)
    for bad in ({"orderbooks": ["BTC/USD"]}, {"corrections": ["AAPL"]}, {"news": ["*"]}):
        await client.send({"action": "subscribe", **bad})
        assert await client.recv() == error(410, "invalid subscribe action for this feed")
    await client.send({"action": "unsubscribe", "orderbooks": ["BTC/USD"]})
    assert await client.recv() == error(410, "invalid subscribe action for this feed")
    crypto = await login(limited, encoding, "crypto")
    await crypto.send({"action": "subscribe", "statuses": ["*"]})
    assert await crypto.recv() == error(410, "invalid subscribe action for this feed")
    for c in (client, crypto):
        await c.close()


async def test_500_and_any_code_through_the_fault_api(limited: AlpacaSimulator, encoding: Encoding) -> None:
    client = await login(limited, encoding)
    assert limited.send_error(500, "stocks") == 1
    assert await client.recv() == error(500, "internal error")
    assert limited.send_error(407) == 1  # a closing code closes, even when injected
    assert await client.recv() == error(407, "slow client")
    assert await client.closed() == 1008


async def test_error_frames_are_sent_even_to_a_muted_connection_when_they_close(
    limited: AlpacaSimulator,
) -> None:
    client = await RawAlpaca.open(limited.url_for("iex"))
    await client.recv()
    limited.mute("iex")
    assert await client.recv(timeout=3) == error(404, "auth timeout")
    assert await client.closed() == 1008
