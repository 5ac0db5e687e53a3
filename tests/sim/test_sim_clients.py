"""The official ``massive`` client against the simulator, the thread facade, and the feed's time windows."""

from __future__ import annotations

import asyncio
import json

import pytest
from massive import WebSocketClient  # type: ignore[import-untyped]
from massive.websocket.models import EquityTrade, WebSocketMessage  # type: ignore[import-untyped]
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as sync_connect

from tickwire.sim import MassiveSimulator, serve
from tickwire.sim.channels import parse_route
from tickwire.sim.feed import RouteFeed, assemble_frames
from tickwire.sim.market import MINUTE_MS, MarketModel

from .sim_client import open_client


async def test_official_massive_client_connects_authenticates_and_parses(sim: MassiveSimulator) -> None:
    client = WebSocketClient(
        api_key="k",
        feed=f"127.0.0.1:{sim.port}",
        market="stocks",
        secure=False,
        subscriptions=["T.AAPL", "AM.*"],
    )
    received: list[WebSocketMessage] = []
    enough = asyncio.Event()

    async def processor(messages: list[WebSocketMessage]) -> None:
        received.extend(messages)
        if sum(isinstance(m, EquityTrade) for m in received) >= 3:
            enough.set()

    task = asyncio.create_task(client.connect(processor))
    await asyncio.wait_for(enough.wait(), 10)
    assert sim.subscriptions("stocks") == {"T.AAPL", "AM.*"}
    await client.close()
    await asyncio.wait_for(task, 5)
    trades = [m for m in received if isinstance(m, EquityTrade)]
    assert {t.symbol for t in trades} == {"AAPL"}
    assert all(t.price and t.size and t.timestamp and t.sequence_number for t in trades)
    assert [a.action for a in sim.actions()] == ["auth", "subscribe"]


def test_thread_facade_from_sync_code() -> None:
    with MassiveSimulator(seed=1, tick_interval=0.02, rate=20.0).run_in_thread() as sim:
        assert sim.url.startswith("ws://127.0.0.1:")
        with sync_connect(sim.url_for("stocks"), open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=3))[0]["status"] == "connected"
            ws.send(json.dumps({"action": "auth", "params": "k"}))
            assert json.loads(ws.recv(timeout=3))[0]["status"] == "auth_success"
            ws.send(json.dumps({"action": "subscribe", "params": "T.AAPL"}))
            info = sim.wait_subscribed("stocks", ["T.AAPL"])
            assert info.subscriptions == {"T.AAPL"}
            assert sim.connections()[0].id == info.id
            events: list[dict[str, object]] = []
            while not any(e["ev"] == "T" for e in events):
                events += json.loads(ws.recv(timeout=3))
            assert sim.drop() == 1
            with pytest.raises(ConnectionClosed):
                while True:
                    ws.recv(timeout=3)
        sim.wait_connections(0)
        assert sim.counters.drops == 1
        with pytest.raises(TimeoutError):
            sim.wait_connections(1, timeout=0.1)
        sim.refuse_handshakes(503, count=1)
        sim.restart(port=0)
        assert sim.port != 0


def test_feed_publishes_minute_bars_at_the_boundary_equal_to_the_model() -> None:
    model = MarketModel(seed=3)
    route = parse_route("/stocks")
    assert route is not None
    feed = RouteFeed(model, route, max_events=4)
    boundary = 1_764_000_000_000 - 1_764_000_000_000 % MINUTE_MS
    feed.skip(boundary - 20)
    assert feed.collect(boundary - 10, {"AM": None}) == {}
    pieces = feed.collect(boundary + 10, {"AM": None, "T": frozenset({"AAPL"})})
    am = json.loads(b"[" + pieces[("AM", "AAPL")][0][1] + b"]")[0]
    bar = model.minute_bar(model.instrument("stocks", "AAPL"), boundary // MINUTE_MS - 1)
    assert bar is not None
    assert (am["s"], am["e"], am["o"], am["c"], am["v"], am["vw"]) == (
        bar.start,
        bar.end,
        bar.open,
        bar.close,
        bar.volume,
        bar.vwap,
    )
    frames = assemble_frames(pieces, {"AM": None}, 4)
    assert all(n <= 4 for _, n in frames)
    assert (
        sum(n for _, n in frames)
        == sum(len(json.loads(f)) for f, _ in frames)
        == len([k for k in pieces if k[0] == "AM"])
    )


def test_delayed_feed_window_is_shifted() -> None:
    model = MarketModel(seed=3)
    route = parse_route("/delayed/stocks")
    assert route is not None
    feed = RouteFeed(model, route, delay_ms=900_000)
    now = 1_764_000_000_000
    feed.skip(now)
    pieces = feed.collect(now + 2_000, {"T": None})
    events = [e for chunks in pieces.values() for _, data in chunks for e in json.loads(b"[" + data + b"]")]
    assert events and all(now - 900_000 < e["t"] <= now - 898_000 for e in events)


def test_launchpad_minute_aggs_on_crypto_carry_prefixed_symbols() -> None:
    model = MarketModel(seed=3)
    route = parse_route("/crypto")
    assert route is not None
    feed = RouteFeed(model, route)
    assert feed.canonical("X:BTC-USD") == "BTC-USD"
    boundary = 1_764_000_000_000 - 1_764_000_000_000 % MINUTE_MS
    feed.skip(boundary - 10)
    pieces = feed.collect(boundary + 10, {"AM": frozenset({"BTC-USD"}), "XA": frozenset({"BTC-USD"})})
    (am,) = json.loads(b"[" + pieces[("AM", "BTC-USD")][0][1] + b"]")
    (xa,) = json.loads(b"[" + pieces[("XA", "BTC-USD")][0][1] + b"]")
    assert am["ev"] == "AM" and am["sym"] == "X:BTC-USD" and {"av", "op", "vw", "a", "z"} <= set(am)
    assert xa["ev"] == "XA" and xa["pair"] == "BTC-USD" and isinstance(xa["v"], float)
    assert (am["o"], am["c"], am["s"], am["e"]) == (xa["o"], xa["c"], xa["s"], xa["e"])


async def test_serve_announces_urls_and_runs_until_cancelled() -> None:
    lines: list[str] = []
    running: list[MassiveSimulator] = []
    ready = asyncio.Event()

    def started(sim: MassiveSimulator) -> None:
        running.append(sim)
        ready.set()

    task = asyncio.create_task(serve(port=0, seed=2, announce=lines.append, started=started))
    await asyncio.wait_for(ready.wait(), 5)
    (sim,) = running
    assert lines[0] == f"Massive simulator (seed 2) listening on {sim.url}"
    assert any(sim.url_for("futures/cme") in line for line in lines)
    client = await open_client(sim.url_for("indices"), subscribe="V.I:SPX")
    assert (await client.collect(lambda ev: len(ev) >= 1, within=5))[0]["T"] == "I:SPX"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not sim.running


def test_quirks_mode_sends_forex_exchange_as_string() -> None:
    model = MarketModel(seed=3)
    route = parse_route("/forex")
    assert route is not None
    feed = RouteFeed(model, route, quirks=True)
    feed.skip(1_764_000_000_000)
    pieces = feed.collect(1_764_000_002_000, {"C": None})
    events = [e for chunks in pieces.values() for _, data in chunks for e in json.loads(b"[" + data + b"]")]
    assert events and all(isinstance(e["x"], str) for e in events)
