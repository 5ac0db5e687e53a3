"""Server policies (max_connections, slow_consumer) and every injectable fault, over real sockets."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tickwire.sim import MassiveSimulator

from .sim_client import RawClient, open_client


async def closed_with(client: RawClient, within: float = 3.0) -> ConnectionClosed:
    """Read until the connection ends; return the closing exception."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await client.recv(max(0.01, deadline - loop.time()))
    return info.value


async def test_max_connections_evicts_the_older_with_1008(sim: MassiveSimulator) -> None:
    old = await open_client(sim.url_for("stocks"), subscribe="T.*")
    new = await open_client(sim.url_for("stocks"), subscribe="T.AAPL")
    statuses = await old.statuses()
    assert statuses[0]["status"] == "max_connections"
    assert statuses[0]["message"].startswith("Maximum number of websocket connections exceeded.")
    closed = await closed_with(old)
    assert closed.rcvd is not None and closed.rcvd.code == 1008
    events = await new.collect(lambda ev: len(ev) >= 2, ev={"T"})
    assert {e["sym"] for e in events} == {"AAPL"}
    assert sim.counters.evictions == 1
    await sim.wait_connections(1, "stocks")
    # Another key, or another cluster, does not count against the limit.
    other_key = await open_client(sim.url_for("stocks"), key="k2")
    other_cluster = await open_client(sim.url_for("crypto"))
    await sim.wait_connections(3)
    for c in (new, other_key, other_cluster):
        await c.ws.close()


async def test_max_connections_is_configurable() -> None:
    async with MassiveSimulator(max_connections=2, tick_interval=0.02) as sim:
        clients = [await open_client(sim.url_for("stocks")) for _ in range(3)]
        await closed_with(clients[0])
        await sim.wait_connections(2, "stocks", authenticated=True)
        for c in clients[1:]:
            await c.ws.close()


async def test_slow_consumer_is_cut_off() -> None:
    async with MassiveSimulator(
        rate=400.0,
        tick_interval=0.01,
        slow_consumer_bytes=64 * 1024,
        socket_send_buffer=8192,
        close_timeout=0.3,
    ) as sim:
        client = await open_client(sim.url_for("stocks"), subscribe="T.*,Q.*", rcvbuf=4096, max_queue=1)
        # Stop reading: the client's queue and socket buffers fill, then the server's buffer.
        await sim.wait_counter("slow_consumers", 1, timeout=10)
        await sim.wait_connections(0, timeout=5)
        with pytest.raises(ConnectionClosed):
            while True:
                frame = await client.recv(within=2)
                for event in frame:
                    if event.get("status") == "slow_consumer":
                        assert "Slow consumer" in event["message"]


async def test_drop_aborts_without_close_frame(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"), subscribe="T.AAPL")
    assert sim.drop() == 1
    closed = await closed_with(client)
    assert closed.rcvd is None  # no close frame: the client sees 1006
    assert sim.counters.drops == 1


@pytest.mark.parametrize("code", [1000, 1001, 1011, 4000])
async def test_close_with_code(sim: MassiveSimulator, code: int) -> None:
    client = await open_client(sim.url_for("crypto"))
    assert sim.close(code, "bye", endpoint="crypto") == 1
    closed = await closed_with(client)
    assert closed.rcvd is not None and (closed.rcvd.code, closed.rcvd.reason) == (code, "bye")
    await sim.wait_connections(0)


async def test_close_by_cluster_leaves_others(sim: MassiveSimulator) -> None:
    stocks = await open_client(sim.url_for("stocks"))
    forex = await open_client(sim.url_for("forex"))
    assert sim.close(1001, endpoint="forex") == 1
    await closed_with(forex)
    assert [c.market for c in await sim.wait_connections(1)] == ["stocks"]
    await stocks.ws.close()


async def test_mute_keeps_pings_but_sends_nothing(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"), subscribe="T.*")
    await client.collect(lambda ev: len(ev) >= 1)
    assert sim.mute() == 1
    await asyncio.sleep(0.05)  # let frames already in flight arrive
    while True:
        try:
            await client.recv(within=0.1)
        except TimeoutError:
            break
    await asyncio.wait_for(await client.ws.ping(), 2)  # still answers pings
    with pytest.raises(TimeoutError):
        await client.recv(within=0.3)
    sim.unmute()
    await client.collect(lambda ev: len(ev) >= 1)
    await client.ws.close()


async def test_mute_new_connections_sends_not_even_connected(sim: MassiveSimulator) -> None:
    from websockets.asyncio.client import connect

    sim.mute(new_connections=True)
    async with connect(sim.url_for("stocks")) as ws:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)
        sim.unmute()
        await ws.send('{"action":"auth","params":"k"}')
        assert "auth_success" in str(await asyncio.wait_for(ws.recv(), 2))


async def test_send_raw_garbage_partial_and_oversize(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"), max_size=None)
    assert sim.send_raw("not json at all") == 1
    assert await client.ws.recv() == "not json at all"
    sim.send_raw('[{"ev":"T","sym":"AAPL","p":1')
    assert await client.ws.recv() == '[{"ev":"T","sym":"AAPL","p":1'
    big = b"[" + b" " * (2 * 1024 * 1024) + b"]"
    sim.send_raw(big)
    assert len(await client.ws.recv()) == len(big)
    sim.send_raw(b"\x00\x01", binary=True)
    assert await client.ws.recv() == b"\x00\x01"
    await client.ws.close()


async def test_send_status_then_close(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"))
    sim.send_status("force_disconnect", "kicked by operator", close_code=1008)
    assert await client.statuses() == [
        {"ev": "status", "status": "force_disconnect", "message": "kicked by operator"}
    ]
    closed = await closed_with(client)
    assert closed.rcvd is not None and closed.rcvd.code == 1008


@pytest.mark.parametrize("status", [401, 429, 503])
async def test_refuse_handshakes(sim: MassiveSimulator, status: int) -> None:
    sim.refuse_handshakes(status, count=2)
    for _ in range(2):
        with pytest.raises(InvalidStatus) as info:
            await open_client(sim.url_for("stocks"))
        assert info.value.response.status_code == status
    client = await open_client(sim.url_for("stocks"))
    assert sim.counters.refused == 2
    sim.refuse_handshakes(503)
    with pytest.raises(InvalidStatus):
        await open_client(sim.url_for("stocks"), key="k2")
    sim.accept_handshakes()
    await (await open_client(sim.url_for("stocks"), key="k2")).ws.close()
    await client.ws.close()


async def test_stop_and_restart_same_and_new_port(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"))
    port = sim.port
    await sim.stop(code=1012)
    closed = await closed_with(client)
    assert closed.rcvd is not None and closed.rcvd.code == 1012
    with pytest.raises(OSError):
        await open_client(sim.url_for("stocks"))
    await sim.restart()
    assert sim.port == port
    again = await open_client(sim.url_for("stocks"), subscribe="T.AAPL")
    await again.collect(lambda ev: len(ev) >= 1)
    await sim.restart(port=0)  # drops the connection, listens elsewhere
    assert (await closed_with(again)).rcvd is None
    moved = await open_client(sim.url_for("stocks"))
    assert sim.running and sim.counters.handshakes == 3
    await moved.ws.close()


async def test_pause_data(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"), subscribe="T.*")
    await client.collect(lambda ev: len(ev) >= 1)
    sim.pause_data()
    await asyncio.sleep(0.05)
    while True:
        try:
            await client.recv(within=0.1)
        except TimeoutError:
            break
    with pytest.raises(TimeoutError):
        await client.recv(within=0.3)
    await client.send("subscribe", "Q.AAPL")  # statuses still flow
    assert (await client.statuses())[0]["message"] == "subscribed to: Q.AAPL"
    sim.resume_data()
    await client.collect(lambda ev: len(ev) >= 1)
    await client.ws.close()


async def test_actions_record_resubscription_after_reconnect(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"), subscribe="T.AAPL,AM.*")
    sim.drop()
    await closed_with(client)
    sim.clear_actions()
    again = await open_client(sim.url_for("stocks"), subscribe="T.AAPL,AM.*")
    actions = await sim.wait_actions(2)
    assert [(a.action, a.params) for a in actions] == [
        ("auth", (actions[0].params[0],)),
        ("subscribe", ("T.AAPL", "AM.*")),
    ]
    assert actions[0].params[0].startswith("sha256:")
    await again.ws.close()
