"""Slow consumers, token auth, statuses passed through, /metrics, a failing upstream: over real sockets."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.sim.sim_client import open_client
from tests.waiting import until
from tickwire.errors import AuthError, ConfigError
from tickwire.gateway import Gateway
from tickwire.sim import MassiveSimulator

from .conftest import Collector, start_gateway, tw_client, upstream_for


async def test_a_client_that_stops_reading_is_cut_with_slow_consumer_and_the_others_keep_going() -> None:
    async with MassiveSimulator(seed=2, tick_interval=0.02, rate=100.0) as sim:
        gw = await start_gateway(sim, buffer_bytes=64 * 1024, socket_send_buffer=8 * 1024, close_timeout=5.0)
        try:
            fast = Collector(tw_client(gw, "T.AAPL", "Q.AAPL"))
            slow = await open_client(gw.url, "tok", subscribe="T.*,Q.*", rcvbuf=4096, max_queue=1)
            await gw.wait_until(lambda: gw.counters.slow_consumers == 1, 15, "the slow client cut")
            cut_at = len(fast.events)
            # the slow client sees its backlog, then the real server's status, then a normal close
            statuses: list[dict[str, object]] = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    statuses += [e for e in await slow.recv(5) if e["ev"] == "status"]
            assert [s["status"] for s in statuses] == ["slow_consumer"]
            assert "65536 bytes" in str(statuses[0]["message"])
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
            await until(lambda: len(fast.events) > cut_at + 200, 10, "the fast client still streaming")
            assert gw.disconnect_reasons == {"slow_consumer": 1}
            assert [c.channels for c in gw.clients()] == [{"T.AAPL", "Q.AAPL"}]  # only the fast one is left
            assert gw.router.upstream == {"T.AAPL", "Q.AAPL"}  # the cut client's channels were released
            assert sim.counters.handshakes == 1
            await fast.stop()
        finally:
            await gw.aclose()


async def test_tokens_are_checked_and_the_vendor_key_never_leaves_the_gateway(sim: MassiveSimulator) -> None:
    gw = await start_gateway(sim, upstream=upstream_for(sim, key="vendor-key-123"), tokens=["t1", "t2"])
    try:
        bad = await open_client(gw.url, None)
        await bad.send("auth", "vendor-key-123")  # the vendor key is not a client token
        assert await bad.recv() == [
            {"ev": "status", "status": "auth_failed", "message": "authentication failed"}
        ]
        with pytest.raises(ConnectionClosed) as closed:
            await bad.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

        good = await open_client(gw.url, None)
        await good.send("subscribe", "T.AAPL")
        (required,) = await good.recv()
        assert required["status"] == "auth_required"
        await good.send("auth", "t2")
        assert await good.recv() == [{"ev": "status", "status": "auth_success", "message": "authenticated"}]
        await good.send("subscribe", "T.AAPL,T.BRK.A,ZZ.AAPL")
        replies = await good.statuses()
        assert [(r["status"], r["message"]) for r in replies[:2]] == [
            ("success", "subscribed to: T.AAPL"),
            ("success", "subscribed to: T.BRK.A"),
        ]
        assert replies[2]["status"] == "error"
        await good.ws.send("{not json")
        assert await good.statuses() == [{"ev": "status", "status": "error", "message": "Invalid JSON"}]
        events = await good.collect(lambda got: len(got) >= 3, ev={"T"})
        assert {e["sym"] for e in events} <= {"AAPL", "BRK.A"}
        await good.send("unsubscribe", "T.AAPL")
        assert await good.statuses() == [
            {"ev": "status", "status": "success", "message": "unsubscribed to: T.AAPL"}
        ]
        await sim.wait_until(
            lambda: sim.subscriptions("stocks") == {"T.BRK.A"}, 5, "T.AAPL unsubscribed upstream"
        )
        assert gw.disconnect_reasons == {"auth_failed": 1}
        assert "vendor-key-123" not in gw.metrics_text() and "vendor-key-123" not in repr(gw)
        with pytest.raises(InvalidStatus) as refused:
            await open_client(gw.url.replace("/stocks", "/crypto"), None)
        assert refused.value.response.status_code == 404
        await good.ws.close()
    finally:
        await gw.aclose()


async def test_auth_timeout(sim: MassiveSimulator) -> None:
    gw = await start_gateway(sim, auth_timeout=0.2)
    try:
        idle = await open_client(gw.url, None)
        assert await idle.recv() == [
            {"ev": "status", "status": "auth_timeout", "message": "No authentication request received."}
        ]
        with pytest.raises(ConnectionClosed):
            await idle.recv()
    finally:
        await gw.aclose()


async def test_upstream_statuses_reach_the_clients_they_concern(sim: MassiveSimulator) -> None:
    # the delayed feed refuses Q (real-time only): the holder gets upstream's error, and loses the channel
    gw = await start_gateway(sim, upstream=upstream_for(sim, delayed=True))
    try:
        quotes = await open_client(gw.url, "x", subscribe="Q.AAPL")
        trades = await open_client(gw.url, "x", subscribe="T.AAPL")
        (error,) = await quotes.statuses()
        assert error["status"] == "error" and "real-time only" in str(error["message"])
        await gw.wait_until(lambda: gw.router.upstream == {"T.AAPL"}, 5, "Q.AAPL forgotten")
        assert [c.channels for c in gw.clients()] == [frozenset(), {"T.AAPL"}]
        # an informational status goes to everyone; the gateway's own lifecycle statuses do not
        sim.send_status("notice", "maintenance at 22:00")
        for client in (quotes, trades):
            assert await client.statuses() == [
                {"ev": "status", "status": "notice", "message": "maintenance at 22:00"}
            ]
        assert gw.counters.upstream_statuses_passed == 1
    finally:
        await gw.aclose()


async def test_metrics_on_the_same_port_and_on_its_own(sim: MassiveSimulator) -> None:
    gw = await start_gateway(sim, metrics_port=0)
    try:
        client = Collector(tw_client(gw, "T.AAPL"))
        await until(lambda: len(client.events) >= 3, 10, "events")
        for port in (gw.port, gw.metrics_port):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            raw = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            head, _, body = raw.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and b"text/plain; version=0.0.4" in head
            text = body.decode()
            (cid,) = [c.id for c in gw.clients()]
            line = next(
                x for x in text.splitlines() if x.startswith("tickwire_gateway_client_events_sent_total{")
            )
            assert f'client="{cid}"' in line and int(line.rsplit(" ", 1)[1]) >= 3
            assert "tickwire_gateway_upstream_connected 1" in text
            assert "tickwire_gateway_client_buffer_bytes{" in text
            assert "tickwire_gateway_upstream_channels 1" in text
        await client.stop()
    finally:
        await gw.aclose()


async def test_a_rejected_upstream_key_ends_the_gateway_and_tells_the_clients() -> None:
    async with MassiveSimulator(seed=1, tick_interval=0.02, valid_keys=["right"]) as sim:
        gw = Gateway(upstream_for(sim, key="wrong"), auth_timeout=3.0, ping_interval=None)
        await gw.start()
        try:
            client = await open_client(gw.url, "x")
            with pytest.raises(AuthError):
                await asyncio.wait_for(gw.run(), 5)
            (status,) = await client.statuses()
            assert status["status"] == "force_disconnect" and "authentication failed" in str(
                status["message"]
            )
            assert "wrong" not in json.dumps(status)
            with pytest.raises(ConnectionClosed):
                await client.recv()
        finally:
            await gw.aclose()


async def test_clients_stay_connected_while_the_upstream_reconnects_and_resubscribes(
    sim: MassiveSimulator, gateway: Gateway
) -> None:
    a = Collector(tw_client(gateway, "T.AAPL"))
    b = Collector(tw_client(gateway, "T.MSFT", "Q.MSFT"))
    try:
        await until(lambda: a.has_all({"T.AAPL"}) and b.has_all({"T.MSFT", "Q.MSFT"}), 10, "streaming")
        assert sim.drop("stocks") == 1  # the gateway's one upstream connection
        await sim.wait_handshakes(2)
        await sim.wait_until(
            lambda: sim.subscriptions("stocks") == {"T.AAPL", "T.MSFT", "Q.MSFT"}, 5, "resubscribed"
        )
        counts = len(a.events), len(b.events)
        await until(lambda: len(a.events) > counts[0] + 3 and len(b.events) > counts[1] + 3, 10, "data again")
        assert gateway.counters.upstream_disconnects == 1 and gateway.counters.upstream_connects == 2
        assert len(gateway.clients()) == 2 and gateway.counters.connections == 2  # nobody reconnected
        assert len(sim.connections("stocks")) == 1
    finally:
        await a.stop()
        await b.stop()


def test_a_gateway_off_loopback_needs_a_token(sim: MassiveSimulator) -> None:
    with pytest.raises(ConfigError, match="not loopback"):
        Gateway(upstream_for(sim), host="0.0.0.0")
    Gateway(upstream_for(sim), host="0.0.0.0", tokens=["t"])  # constructed, not started
    Gateway(upstream_for(sim), host="::1")
