"""The server base's fault API, lifecycle and waits: the same behaviour on every dialect, over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tickwire.sim import MassiveSimulator
from tickwire.sim.base import SimulatorBase
from tickwire.sim.observe import SimCounters
from tickwire.sim.polymarket import PolymarketSimulator

from .dialects import Dialect, frames_between_markers, next_matching


def equal_to(payload: str) -> Callable[[str | bytes], bool]:
    return lambda frame: frame == payload


async def closed(ws: ClientConnection, within: float = 3.0) -> ConnectionClosed:
    """Read until the connection ends; the closing exception."""
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(within):
            while True:
                await ws.recv()
    return info.value


@pytest.mark.parametrize("graceful", [False, True], ids=["reset", "fin"])
async def test_drop_ends_the_connection_without_a_close_frame(dialect: Dialect, graceful: bool) -> None:
    ws = await dialect.connect()
    await dialect.subscribe(ws)
    assert dialect.sim.drop(dialect.endpoint, graceful=graceful) == 1
    assert (await closed(ws)).rcvd is None  # the client sees 1006
    await dialect.sim.wait_connections(0)
    counters = dialect.sim.counters
    assert (counters.drops, counters.disconnects, counters.handshakes) == (1, 1, 1)


@pytest.mark.parametrize("code", [1000, 1001, 1011, 4000])
async def test_close_sends_the_code_and_reason(dialect: Dialect, code: int) -> None:
    ws = await dialect.connect()
    assert dialect.sim.close(code, "bye", dialect.endpoint) == 1
    frame = (await closed(ws)).rcvd
    assert frame is not None and (frame.code, frame.reason) == (code, "bye")
    await dialect.sim.wait_connections(0)


async def test_faults_select_connections_by_endpoint(dialect: Dialect) -> None:
    sim = dialect.sim
    mine = await dialect.connect()
    other = await dialect.connect(dialect.other)
    await sim.wait_connections(2)
    assert len(sim.connections(dialect.endpoint)) == len(sim.connections(dialect.other)) == 1
    assert sim.close(1001, endpoint=dialect.other) == 1
    await closed(other)
    assert len(await sim.wait_connections(1)) == len(sim.connections(dialect.endpoint)) == 1
    assert sim.drop(dialect.other) == 0  # nothing left there
    await mine.close()


async def test_mute_silences_everything_but_pings_until_unmute(dialect: Dialect) -> None:
    sim = dialect.sim
    ws = await dialect.connect()
    await dialect.subscribe(ws)
    assert sim.mute(dialect.endpoint) == 1
    assert [c.muted for c in sim.connections()] == [True]
    assert await frames_between_markers(dialect, ws) == []  # no data, no heartbeat, no reply
    await asyncio.wait_for(await ws.ping(), 2)  # pings are still answered
    assert sim.unmute(dialect.endpoint) == 1
    await next_matching(ws, dialect.is_data)
    await ws.close()


async def test_mute_new_connections_sends_them_nothing_until_unmute(dialect: Dialect) -> None:
    sim = dialect.sim
    sim.mute(new_connections=True)
    ws = await dialect.open()  # Massive: not even ``connected`` comes
    (info,) = await sim.wait_connections(1)
    assert info.muted
    assert await frames_between_markers(dialect, ws) == []
    sim.unmute()
    await dialect.prove_alive(ws)
    later = await dialect.connect()  # and new connections are no longer muted
    assert [c.muted for c in sim.connections()] == [False, False]
    await ws.close()
    await later.close()


async def test_send_raw_text_and_binary_even_when_muted(dialect: Dialect) -> None:
    sim = dialect.sim
    ws = await dialect.connect(max_size=None)
    sim.mute()
    for payload in ("not json at all", '{"marketData": [broken', "[" + " " * (2 * 1024 * 1024) + "]"):
        assert sim.send_raw(payload, dialect.endpoint) == 1
        assert await next_matching(ws, equal_to(payload)) == payload
    assert sim.send_raw(b"\x00\x01", binary=True) == 1
    assert await next_matching(ws, lambda f: isinstance(f, bytes)) == b"\x00\x01"
    assert sim.connections()[0].frames_sent >= 4
    await ws.close()


@pytest.mark.parametrize("status", [401, 429, 503])
async def test_refuse_handshakes_with_a_status_then_accept(dialect: Dialect, status: int) -> None:
    sim = dialect.sim
    sim.refuse_handshakes(status, count=2)
    for _ in range(2):
        with pytest.raises(InvalidStatus) as info:
            await dialect.open()
        assert info.value.response.status_code == status
    first = await dialect.connect()
    assert (sim.counters.refused, sim.counters.handshakes) == (2, 1)
    sim.refuse_handshakes(503)  # every upgrade, until accept_handshakes
    for _ in range(3):
        with pytest.raises(InvalidStatus):
            await dialect.open()
    sim.accept_handshakes()
    second = await dialect.connect()
    await sim.wait_handshakes(2)
    assert sim.counters.refused == 5
    await first.close()
    await second.close()


async def test_pause_data_sends_no_data_and_resume_brings_it_back(dialect: Dialect) -> None:
    sim = dialect.sim
    ws = await dialect.connect()
    await dialect.subscribe(ws)
    sim.pause_data()
    assert sim.data_paused
    await sim.wait_counter("ticks", sim.counters.ticks + 2)  # frames in flight before the pause arrive
    assert not [f for f in await frames_between_markers(dialect, ws) if dialect.is_data(f)]
    sim.resume_data()
    assert not sim.data_paused
    await next_matching(ws, dialect.is_data)
    await ws.close()


async def test_stop_closes_with_a_code_and_restart_listens_on_the_same_or_a_new_port(
    dialect: Dialect,
) -> None:
    sim = dialect.sim
    ws = await dialect.connect()
    port = sim.port
    await sim.stop(code=1012)
    frame = (await closed(ws)).rcvd
    assert frame is not None and frame.code == 1012
    assert not sim.running
    with pytest.raises(OSError):
        await dialect.open()
    await sim.restart()
    assert sim.port == port and sim.running
    again = await dialect.connect()
    await sim.restart(port=0)  # aborts the connection, listens elsewhere
    assert (await closed(again)).rcvd is None
    moved = await dialect.connect()
    assert sim.running and sim.counters.handshakes == 3
    await moved.close()


async def test_waits_time_out_and_name_what_they_waited_for(dialect: Dialect) -> None:
    sim = dialect.sim
    with pytest.raises(TimeoutError, match=r"2 connection\(s\) \(now 0\)"):
        await sim.wait_connections(2, timeout=0.05)
    with pytest.raises(AttributeError, match="no counter named 'nope'"):
        await sim.wait_counter("nope", 1)
    ws = await dialect.connect()
    assert (await sim.wait_handshakes(1)).handshakes == 1
    assert len(await sim.wait_connections(1, dialect.endpoint, authenticated=True)) == 1
    await ws.close()
    await sim.wait_connections(0)
    assert sim.counters.disconnects == 1


async def test_counters_are_snapshots(dialect: Dialect) -> None:
    before = dialect.sim.counters
    ws = await dialect.connect()
    assert before.handshakes == 0 and dialect.sim.counters.handshakes == 1
    assert type(before) is type(dialect.sim.counters)
    await ws.close()


def test_thread_facade_drives_the_fault_api_from_synchronous_code(dialect_class: type) -> None:
    from websockets.sync.client import connect

    from .dialects import pm_headers

    if dialect_class is MassiveSimulator:
        sim: MassiveSimulator | PolymarketSimulator = MassiveSimulator(seed=1, tick_interval=0.02)
        url, endpoint, headers = "/stocks", "stocks", None
    else:
        sim = PolymarketSimulator(seed=1, tick_interval=0.02, heartbeat_interval=None, account_interval=None)
        url, endpoint, headers = "/v1/ws/markets", "markets", pm_headers("/v1/ws/markets")
    with sim.run_in_thread() as running:
        assert running.port == sim.port and running.url == sim.url
        with connect(running.url + url, additional_headers=headers, open_timeout=5) as ws:
            running.wait_connections(1, timeout=5)
            assert running.send_raw("hello", endpoint) == 1
            while ws.recv(timeout=3) != "hello":
                pass
            running.refuse_handshakes(429, count=1)
            with pytest.raises(InvalidStatus):
                connect(running.url + url, additional_headers=headers, open_timeout=5)
            assert running.drop(endpoint) == 1
            with pytest.raises(ConnectionClosed):
                while True:
                    ws.recv(timeout=3)
        running.wait_until(lambda: not sim.connections(), 5, "no connection")
        assert running.counters.drops == 1 and running.counters.refused == 1
        running.stop()
        running.restart()
        with connect(running.url + url, additional_headers=headers, open_timeout=5):
            running.wait_connections(1, timeout=5)


@pytest.fixture(params=[MassiveSimulator, PolymarketSimulator], ids=["massive", "polymarket"])
def dialect_class(request: pytest.FixtureRequest) -> type:
    cls: type = request.param
    return cls


async def test_an_attached_dialect_serves_on_the_host_port_and_stops_alone() -> None:
    from .dialects import pm_headers

    async with MassiveSimulator(seed=1, tick_interval=0.02) as massive:
        pm = PolymarketSimulator(attach_to=massive, tick_interval=0.02, heartbeat_interval=None)
        await pm.start()
        polymarket = Dialect("polymarket", pm, "markets", "private")
        assert pm.port == massive.port and pm.running
        ws = await polymarket.connect()
        await polymarket.subscribe(ws)
        await pm.stop()  # Polymarket answers 503, Massive goes on
        assert (await closed(ws)).rcvd is None
        with pytest.raises(InvalidStatus) as info:
            await polymarket.open()
        assert info.value.response.status_code == 503
        stocks = await Dialect("massive", massive, "stocks", "crypto").connect()
        await pm.restart()
        await (await polymarket.connect()).close()
        await pm.aclose()  # detached: the path is unknown to the host again
        with pytest.raises(InvalidStatus) as info:
            await polymarket.open()
        assert info.value.response.status_code == 404
        assert massive.counters.handshakes == 1 and pm.counters.handshakes == 2
        assert pm_headers("/v1/ws/markets")["X-PM-Access-Key"] == pm.key_id
        await stocks.close()


def test_a_dialect_without_fixed_paths_cannot_be_attached() -> None:
    class Bare(SimulatorBase[Any, SimCounters, Any]):
        dialect = "bare"

    with pytest.raises(ValueError, match="the bare dialect cannot be attached"):
        Bare(
            host="127.0.0.1", port=0, counters=SimCounters(), close_timeout=1.0, attach_to=MassiveSimulator()
        )
