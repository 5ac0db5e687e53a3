"""The Massive session as the simulator speaks it (polygon.md §1.2-1.4), over real loopback sockets."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed

from tickwire.sim import MassiveSimulator, key_id
from tickwire.sim.channels import parse_route, split_channel, split_params
from tickwire.sim.protocol import PLAN_DENIED_MESSAGE, AuthPolicy, ServerSession

from .sim_client import open_client


def status(s: str, message: str) -> dict[str, str]:
    return {"ev": "status", "status": s, "message": message}


async def test_connect_auth_subscribe_unsubscribe_exact_messages(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"), key=None)
    assert await client.auth("k") == status("auth_success", "authenticated")
    assert await client.subscribe("T.MSFT,Q.MSFT,AM.*") == [
        status("success", "subscribed to: T.MSFT"),
        status("success", "subscribed to: Q.MSFT"),
        status("success", "subscribed to: AM.*"),
    ]
    await sim.wait_subscribed("stocks", ["T.MSFT", "Q.MSFT", "AM.*"])
    events = await client.collect(lambda ev: len(ev) >= 3, ev={"T"})
    assert {e["sym"] for e in events} == {"MSFT"}
    assert set(events[0]) >= {"ev", "sym", "x", "i", "z", "p", "s", "t", "q"}
    assert isinstance(events[0]["i"], str)

    await client.send("unsubscribe", "T.MSFT")
    assert await client.statuses() == [status("success", "unsubscribed to: T.MSFT")]
    assert sim.subscriptions("stocks") == {"Q.MSFT", "AM.*"}
    await client.ws.close()


async def test_params_with_spaces_and_first_dot_split(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"))
    replies = await client.subscribe("T.BRK.A, AM.AAPL,  Q.BRK.A")
    assert [r["message"] for r in replies] == [
        "subscribed to: T.BRK.A",
        "subscribed to: AM.AAPL",
        "subscribed to: Q.BRK.A",
    ]
    info = await sim.wait_subscribed("stocks", ["T.BRK.A", "AM.AAPL", "Q.BRK.A"])
    assert info.key_id == key_id("k")
    events = await client.collect(lambda ev: len(ev) >= 2, within=10, ev={"Q"})
    assert {e["sym"] for e in events} == {"BRK.A"}
    await client.ws.close()


async def test_wildcard_delivers_all_tickers_and_a_star_does_not_touch_am(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"), subscribe="T.*")
    events = await client.collect(lambda ev: len({e["sym"] for e in ev}) >= 8, ev={"T"})
    assert len({e["sym"] for e in events}) >= 8

    other = await open_client(sim.url_for("stocks"), key="k2", subscribe="AM.AAPL,A.*")
    await other.send("unsubscribe", "A.*")
    assert await other.statuses() == [status("success", "unsubscribed to: A.*")]
    info = next(c for c in sim.connections("stocks") if c.key_id == key_id("k2"))
    assert info.subscriptions == {"AM.AAPL"}
    await client.ws.close()
    await other.ws.close()


async def test_unknown_channel_and_malformed_params_get_error_statuses(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("crypto"))
    replies = await client.subscribe("T.AAPL,XT.BTC-USD,XT,.X,XT.")
    assert replies[0]["status"] == "error" and "T.AAPL" in replies[0]["message"]
    assert replies[1] == status("success", "subscribed to: XT.BTC-USD")
    assert [r["status"] for r in replies[2:]] == ["error", "error", "error"]
    assert all(name in r["message"] for r, name in zip(replies[2:], ["XT", ".X", "XT."], strict=True))
    await client.ws.close()


async def test_subscribe_before_auth_and_invalid_json(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks"), key=None)
    await client.send("subscribe", "T.AAPL")
    (reply,) = await client.statuses()
    assert reply["status"] == "auth_required"
    await client.ws.send("{not json")
    assert await client.statuses() == [status("error", "Invalid JSON")]
    await client.ws.send('{"action": "subscribe", "params": ["T.AAPL"]}')
    assert await client.statuses() == [status("error", "Invalid JSON")]
    assert await client.auth() == status("auth_success", "authenticated")
    actions = [a.action for a in sim.actions("stocks")]
    assert actions == ["subscribe", "invalid", "invalid", "auth"]
    await client.ws.close()


async def test_auth_failed_for_unknown_key_then_close_1008() -> None:
    async with MassiveSimulator(valid_keys={"good"}, close_timeout=0.5) as sim:
        client = await open_client(sim.url_for("stocks"), key=None)
        assert await client.auth("bad") == status("auth_failed", "authentication failed")
        with pytest.raises(ConnectionClosed) as info:
            await client.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1008
        ok = await open_client(sim.url_for("stocks"), key="good")
        assert sim.counters.auth_failed == 1 and sim.counters.auth_success == 1
        assert all("bad" not in repr(a) and "good" not in repr(a) for a in sim.actions())
        await ok.ws.close()


async def test_auth_failed_for_plan_without_websocket_access() -> None:
    async with MassiveSimulator(plan_denied_keys={"cheap"}) as sim:
        client = await open_client(sim.url_for("options"), key=None)
        assert await client.auth("cheap") == status("auth_failed", PLAN_DENIED_MESSAGE)
        assert "massive.com/pricing" in PLAN_DENIED_MESSAGE


async def test_auth_timeout_then_close() -> None:
    async with MassiveSimulator(auth_timeout=0.2, close_timeout=0.5) as sim:
        client = await open_client(sim.url_for("stocks"), key=None)
        assert await client.statuses() == [status("auth_timeout", "No authentication request received.")]
        with pytest.raises(ConnectionClosed):
            await client.recv()
        assert sim.counters.auth_timeout == 1


async def test_legacy_auth_dialect() -> None:
    async with MassiveSimulator(legacy_auth=True) as sim:
        client = await open_client(sim.url_for("stocks"), key=None)
        assert await client.auth("k") == status("success", "authenticated")
        await client.ws.close()


async def test_delayed_feed_refuses_realtime_only_channels_and_lags_15_minutes(sim: MassiveSimulator) -> None:
    client = await open_client(sim.url_for("stocks", delayed=True))
    replies = await client.subscribe("Q.AAPL,T.*")
    assert replies[0]["status"] == "error" and "Q.AAPL" in replies[0]["message"]
    assert replies[1] == status("success", "subscribed to: T.*")
    events = await client.collect(lambda ev: len(ev) >= 5, ev={"T"})
    lag = sim.now_ms() - max(e["t"] for e in events)
    assert 900_000 - 1_000 < lag < 900_000 + 3_000
    assert sim.subscriptions("stocks", delayed=True) == {"T.*"}
    assert sim.subscriptions("stocks") == frozenset()
    await client.ws.close()


async def test_unknown_path_is_a_404() -> None:
    from websockets.exceptions import InvalidStatus

    async with MassiveSimulator() as sim:
        with pytest.raises(InvalidStatus) as info:
            await open_client(sim.url + "/bonds")
        assert info.value.response.status_code == 404
        assert sim.counters.refused == 1


def test_channel_helpers() -> None:
    assert split_params("T.MSFT, Q.MSFT,,AM.* ") == ["T.MSFT", "Q.MSFT", "AM.*"]
    assert split_channel("T.BRK.A") == ("T", "BRK.A")
    assert split_channel("XT") is None
    route = parse_route("/delayed/futures/cme?x=1")
    assert route is not None and (route.family, route.venue, route.delayed) == ("futures", "cme", True)
    assert parse_route("/nope") is None


def test_server_session_sans_io() -> None:
    route = parse_route("/options")
    assert route is not None
    session = ServerSession(route, AuthPolicy.from_keys(None), option_quote_limit=2)
    assert session.handle(b'{"action":"auth","params":""}').auth == "failed"
    assert session.handle(b'{"action":"auth","params":"k"}').auth == "ok"
    out = session.handle(b'{"action":"subscribe","params":"Q.O:A,Q.O:B,Q.O:C,Q.*"}')
    assert [r[0] for r in out.replies] == ["success", "success", "error", "success"]
    assert list(session.subscriptions) == ["Q.O:A", "Q.O:B", "Q.*"]
    out = session.handle(b'{"action":"ping"}')
    assert out.replies == [("error", "unknown action: ping")]
