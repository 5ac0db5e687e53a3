"""The base's fault API on the Alpaca dialect, connections selected by feed or asset class."""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from tickwire.sim.alpaca import SIM_KEY_ID, SIM_SECRET_KEY, AlpacaSimulator

from .conftest import fast_sim
from .raw_client import RawAlpaca


async def subscribed(sim: AlpacaSimulator, feed: str = "iex", symbol: str = "AAPL") -> RawAlpaca:
    client = await RawAlpaca.open(sim.url_for(feed))
    await client.login(SIM_KEY_ID, SIM_SECRET_KEY)
    await client.send({"action": "subscribe", "trades": [symbol]})
    await client.recv()
    await client.recv_until("t", timeout=10)
    return client


async def test_mute_silences_the_selected_feed_only(alpaca: AlpacaSimulator) -> None:
    stocks = await subscribed(alpaca)
    crypto = await subscribed(alpaca, "crypto", "BTC/USD")
    assert alpaca.mute("stocks") == 1  # the asset class selects /v2/iex
    while True:  # drain what was sent before the mute
        try:
            await stocks.recv(timeout=0.3)
        except TimeoutError:
            break
    sent = alpaca.connections("iex")[0].frames_sent
    assert (await crypto.recv_until("t"))["S"] == "BTC/USD"
    assert alpaca.connections("iex")[0].frames_sent == sent
    await stocks.ws.ping()  # a muted connection still answers pings
    alpaca.unmute()
    assert (await stocks.recv_until("t"))["S"] == "AAPL"
    for c in (stocks, crypto):
        await c.close()


async def test_close_with_a_code_frees_the_slot_at_once() -> None:
    async with fast_sim(reap_window=30.0) as sim:
        client = await subscribed(sim)
        assert sim.close(1012, "restart", endpoint="iex") == 1
        assert await client.closed() == 1012
        await sim.wait_connections(0, "iex")
        assert sim.held_slots() == 0  # the server closed it: nothing to reap
        again = await RawAlpaca.open(sim.url_for("iex"))
        assert (await again.login(SIM_KEY_ID, SIM_SECRET_KEY))[0]["msg"] == "authenticated"
        await again.close()


async def test_restart_forgets_dead_sessions() -> None:
    async with fast_sim(reap_window=30.0) as sim:
        await subscribed(sim)
        sim.drop()
        await sim.wait_connections(0)
        assert sim.held_slots("iex") == 1
        await sim.restart()
        assert sim.held_slots() == 0
        client = await subscribed(sim)
        await client.close()


async def test_refused_handshakes_then_accepted(alpaca: AlpacaSimulator) -> None:
    alpaca.refuse_handshakes(429, count=1)
    with pytest.raises(InvalidStatus) as refused:
        await RawAlpaca.open(alpaca.url_for("sip"))
    assert refused.value.response.status_code == 429
    assert alpaca.handshakes[-1].status == 429
    client = await subscribed(alpaca, "sip")
    await client.close()


async def test_paused_data_sends_nothing_then_resumes(alpaca: AlpacaSimulator) -> None:
    client = await subscribed(alpaca)
    alpaca.pause_data()
    while True:
        try:
            await client.recv(timeout=0.3)
        except TimeoutError:
            break
    alpaca.resume_data()
    assert (await client.recv_until("t"))["S"] == "AAPL"
    await client.close()


async def test_send_raw_garbage(alpaca: AlpacaSimulator) -> None:
    client = await subscribed(alpaca)
    assert alpaca.send_raw("[{not json", "iex") == 1
    while (await client.recv_raw()) != "[{not json":
        pass
    await client.close()
