"""AlpacaStreamClient and AlpacaCallbackClient over loopback against the simulator's Alpaca dialect.

The server is the real :class:`~tickwire.sim.alpaca.AlpacaSimulator` (the one ``tickwire sim``
serves): its seeded market gives the values the client must deliver, and its record of every
client message (:meth:`~tickwire.sim.alpaca.AlpacaSimulator.actions`) says what the client sent.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest

from tickwire.alpaca import AlpacaCallbackClient, AlpacaStreamClient
from tickwire.alpaca.codes import AlpacaAuthError
from tickwire.alpaca.models import AlpacaError, Bar, OrderBook, Quote, Trade
from tickwire.backoff import Backoff
from tickwire.errors import ConfigError
from tickwire.events import Connected, Disconnected, Event, Reconnected, SubscriptionRejected
from tickwire.provider import get_provider, register_provider
from tickwire.sim.alpaca import SIM_KEY_ID, SIM_SECRET_KEY, AlpacaSimulator
from tickwire.sim.alpaca import wire as sim_wire
from tickwire.sim.observe import key_id

T = "2024-01-02T15:00:00.123456789Z"
TRADE = {"T": "t", "S": "FAKEPACA", "i": 1, "x": "V", "p": 100.5, "s": 3, "c": ["@"], "z": "A", "t": T}
WITHIN = 8.0


def sim_options(**kw: Any) -> dict[str, Any]:
    """A quick simulator: FAKEPACA trades every few ticks, no news, dead sessions reaped at once."""
    options: dict[str, Any] = {"seed": 5, "tick_interval": 0.02, "rate": 20.0, "reap_window": 0.0}
    options["news_interval"] = None
    options.update(kw)
    return options


@pytest.fixture
async def sim() -> AsyncIterator[AlpacaSimulator]:
    async with AlpacaSimulator(**sim_options()) as server:
        yield server


def client(server: AlpacaSimulator, market: str = "test", **kw: Any) -> AlpacaStreamClient:
    options: dict[str, Any] = {
        "key_id": SIM_KEY_ID,
        "secret_key": SIM_SECRET_KEY,
        "url": server.url,
        "backoff": Backoff(base=0.02, cap=0.05, minimum=0.01, seed=1),
        "dotenv_path": None,
        "ping_interval": None,
        "stale_timeout": None,
        "connection_limit_cooldown": 0.3,
    }
    options.update(kw)
    return AlpacaStreamClient(market=market, **options)


async def until(
    c: AlpacaStreamClient, done: Callable[[Event, list[Event]], bool], within: float = WITHIN
) -> list[Event]:
    seen: list[Event] = []
    async with asyncio.timeout(within):
        async for ev in c:
            seen.append(ev)
            if done(ev, seen):
                return seen
    raise AssertionError(f"stream ended; saw {[e.event_type for e in seen]}")


def count(kind: type[Event], n: int) -> Callable[[Event, list[Event]], bool]:
    return lambda _ev, seen: sum(isinstance(e, kind) for e in seen) >= n


def sent(server: AlpacaSimulator, feed: str, conn_id: int | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``(action, channels)`` of every client message on ``feed`` (one connection's, if given)."""
    return [(a.action, a.channels) for a in server.actions(feed, conn_id=conn_id)]


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
async def test_trades_arrive_typed_with_the_simulators_values(sim: AlpacaSimulator, encoding: str) -> None:
    async with client(sim, encoding=encoding) as c:
        await c.subscribe_trades("FAKEPACA")
        seen = await until(c, count(Trade, 3))
    trades = [e for e in seen if isinstance(e, Trade)]
    first, last = trades[0].timestamp // 1_000_000, trades[-1].timestamp // 1_000_000
    served = {
        (x.i, x.p, x.s, x.x, tuple(x.c), x.z, x.t.ns)  # type: ignore[attr-defined]
        for x in sim.trades("test", "FAKEPACA", first, last + 1)
    }
    for t in trades:
        assert (t.id, t.price, t.size, t.exchange, tuple(t.conditions), t.tape, t.timestamp) in served, t
        assert t.symbol == "FAKEPACA" and t.datetime.year >= 2024
    (handshake,) = sim.handshakes
    assert handshake.path == "/v2/test" and handshake.encoding == encoding
    assert sent(sim, "test") == [("auth", {}), ("subscribe", {"trades": ("FAKEPACA",)})]
    assert sim.actions("test", "auth")[0].key_id == key_id(SIM_KEY_ID)
    assert c.metrics().events >= 3


async def test_header_auth_and_path_of_each_market(sim: AlpacaSimulator) -> None:
    for market, path in (
        ("crypto", "/v1beta3/crypto/us"),
        ("opra", "/v1beta1/opra"),
        ("news", "/v1beta1/news"),
    ):
        async with client(sim, market, header_auth=True) as c:
            await until(c, lambda ev, _: isinstance(ev, Connected))
            handshake = sim.handshakes[-1]
            assert handshake.path == path and handshake.header_key_id == key_id(SIM_KEY_ID)
            assert handshake.encoding == ("msgpack" if market == "opra" else "json")
            (conn,) = sim.connections(sim.handshakes[-1].feed)
            assert conn.authenticated and sent(sim, handshake.feed, conn.id) == []  # no auth message


async def test_reconnect_resubscribes_exactly_and_reports_the_gap(sim: AlpacaSimulator) -> None:
    async with client(sim) as c:
        await c.subscribe_trades("FAKEPACA", "OTHER")
        await c.subscribe_bars("*")
        await c.unsubscribe("trades", "OTHER")
        await sim.wait_subscribed("test", {"trades": ["FAKEPACA"], "bars": ["*"]})
        await until(c, lambda ev, _: ev.event_type == "subscription" and c.session.acks_due == 0)
        (first,) = sim.connections("test")
        assert sim.drop("test") == 1
        seen = await until(c, lambda ev, _: isinstance(ev, Reconnected))
        await sim.wait_subscribed("test", {"trades": ["FAKEPACA"], "bars": ["*"]})
        (second,) = sim.connections("test")
    assert second.id != first.id
    assert sent(sim, "test", second.id) == [
        ("auth", {}),
        ("subscribe", {"trades": ("FAKEPACA",), "bars": ("*",)}),
    ]
    assert second.subscriptions == {"trades": ("FAKEPACA",), "bars": ("*",)}
    (gap,) = [e for e in seen if isinstance(e, Reconnected)]
    assert sorted(gap.resubscribed) == ["bars:*", "trades:FAKEPACA"]


async def test_406_after_a_drop_waits_the_reaping_window_once() -> None:
    """A fast reconnect finds the dropped session's slot still held: one 406, then a wait, no storm."""
    async with (
        AlpacaSimulator(**sim_options(reap_window=0.3)) as sim,
        client(sim, connection_limit_cooldown=0.4) as c,
    ):
        await c.subscribe_trades("FAKEPACA")
        await until(c, count(Trade, 1))
        sim.drop("test")
        seen = await until(c, lambda ev, _: isinstance(ev, Reconnected))
    (err,) = [e for e in seen if isinstance(e, AlpacaError)]
    assert err.code == 406 and err.action == "reconnect"
    dropped, limited = [e for e in seen if isinstance(e, Disconnected)]
    assert dropped.reason == "connection dropped (1006)"
    assert limited.reason == "connection_limit" and limited.will_reconnect
    assert limited.retry_in == pytest.approx(0.4)
    back = next(e for e in seen if isinstance(e, Connected) and e.at > limited.at)
    assert back.at - limited.at >= 0.35
    assert [code for _, code in sim.errors_sent()] == [406] and len(sim.handshakes) == 3


async def test_402_is_fatal_without_retry(sim: AlpacaSimulator) -> None:
    async with client(sim, secret_key="wrong-secret-xyz") as c:
        with pytest.raises(AlpacaAuthError, match="APCA_API_KEY_ID") as info:
            await until(c, lambda ev, _: False)
    assert info.value.code == 402 and "wrong-secret-xyz" not in str(info.value)
    assert len(sim.handshakes) == 1 and [code for _, code in sim.errors_sent()] == [402]


async def test_a_subscribe_over_the_symbol_limit_is_rejected_and_forgotten() -> None:
    async with AlpacaSimulator(**sim_options(symbol_limit=1)) as sim, client(sim) as c:
        await c.subscribe_quotes("FAKEPACA")
        await sim.wait_subscribed("test", {"quotes": ["FAKEPACA"]})
        await c.subscribe_quotes("AAPL")
        seen = await until(c, lambda ev, _: isinstance(ev, SubscriptionRejected))
        assert sim.subscriptions("test") == {"quotes": ("FAKEPACA",)}
    (err,) = [e for e in seen if isinstance(e, AlpacaError)]
    assert err.code == 405
    assert seen[-1].channel == "quotes:AAPL"  # type: ignore[attr-defined]
    assert c.subscriptions == {"quotes": ["FAKEPACA"]}


async def test_crypto_books_are_kept_equal_to_the_servers() -> None:
    """The snapshot on subscribe, then only changed levels (one message per market second: ten a
    second here), kept by the client equal to the book the server last published."""
    async with (
        AlpacaSimulator(**sim_options(speed=10.0)) as sim,
        client(sim, "crypto", encoding="msgpack") as c,
    ):
        await c.subscribe_orderbooks("BTC/USD")
        seen = await until(c, count(OrderBook, 4))
        sim.pause_data()
        (conn,) = sim.connections("crypto")
        total = sum(isinstance(e, OrderBook) for e in seen)
        if total < conn.events_sent:  # drain what was sent before the pause
            await until(c, count(OrderBook, conn.events_sent - total))
        book = c.book("BTC/USD")
        served = sim.book("BTC/USD")
    books = [e for e in seen if isinstance(e, OrderBook)]
    assert books[0].reset and not any(b.reset for b in books[1:])  # a snapshot, then changes only
    assert book is not None and served is not None
    bids, asks = book.snapshot()
    assert (list(bids), list(asks)) == served
    assert bids[0][0] < asks[0][0]


async def test_quotes_and_bars_through_batches() -> None:
    async with AlpacaSimulator(**sim_options(speed=60.0)) as sim, client(sim) as c:  # a minute bar a second
        await c.subscribe("quotes", "FAKEPACA")
        await c.subscribe_bars("FAKEPACA")
        got: list[Event] = []
        async with asyncio.timeout(WITHIN):
            async for batch in c.batches():
                got.extend(batch)
                if any(isinstance(e, Bar) for e in got) and any(isinstance(e, Quote) for e in got):
                    break
    bar = next(e for e in got if isinstance(e, Bar))
    start = bar.timestamp // 1_000_000
    (served,) = sim.bars("test", "FAKEPACA", start, start + 1)
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count) == (
        served.o,
        served.h,
        served.l,
        served.c,
        served.v,
        served.n,
    )
    quote = next(e for e in got if isinstance(e, Quote))
    assert quote.symbol == "FAKEPACA" and 0 < quote.bid_price <= quote.ask_price


def test_callback_client_delivers_on_its_thread_and_stops() -> None:
    with AlpacaSimulator(**sim_options()).run_in_thread() as sim:
        got: list[Trade] = []
        done = threading.Event()
        closed = threading.Event()
        cb = AlpacaCallbackClient(
            SIM_KEY_ID,
            SIM_SECRET_KEY,
            "test",
            url=sim.url,
            dotenv_path=None,
            ping_interval=None,
            on_close=closed.set,
        )
        cb.on("t", lambda ev: (got.append(ev), done.set()))  # type: ignore[arg-type, func-returns-value]
        cb.subscribe("trades", "FAKEPACA")
        cb.start()
        try:
            assert done.wait(WITHIN), "no trade delivered"
            assert threading.current_thread().name == "MainThread" and got[0].symbol == "FAKEPACA"
            assert cb.subscriptions == {"trades": ["FAKEPACA"]}
            subscribes = [a.channels for a in sim.actions("test", "subscribe")]
            assert subscribes == [{"trades": ("FAKEPACA",)}]
        finally:
            cb.stop()
    assert closed.is_set() and cb.error is None


async def test_the_provider_contract(sim: AlpacaSimulator) -> None:
    register_provider("alpaca", "tickwire.alpaca.provider")
    p = get_provider("alpaca")
    assert p.market(None) == "iex" and "opra" in p.markets
    assert p.default_channels("crypto")[-1] == "orderbooks:*"
    frame = msgspec.json.encode([TRADE, {**TRADE, "c": ["T"]}])
    assert p.count_events(frame) == 2
    events = p.decoder("test").decode(frame)
    ticks = [t for e in events for t in p.ticks(e)]
    assert [(t.kind, t.symbol, t.price) for t in ticks] == [("trade", "FAKEPACA", 100.5)] * 2
    tables = p.tables("test")
    spec = tables.table_for(Trade)
    assert spec is not None and spec.name == "alpaca_stocks_trades" and spec.time_column == "timestamp"
    assert tables.route(events[0]) == ("t", "FAKEPACA")
    c = p.open_client(
        "test",
        ["trades:FAKEPACA", "bars"],
        key_id=SIM_KEY_ID,
        secret_key=SIM_SECRET_KEY,
        url=sim.url,
        dotenv_path=None,
    )
    async with c:
        (subscribe,) = await sim.wait_actions(1, "subscribe", "test")
    assert subscribe.channels == {"trades": ("FAKEPACA",), "bars": ("*",)} and subscribe.error is None


def test_the_simulators_frames_decode_in_both_encodings() -> None:
    """The simulator's own encoder (RFC 3339 text in JSON, the Timestamp extension in msgpack)
    and the client's decoder agree to the nanosecond."""
    from tickwire.alpaca.decoder import AlpacaDecoder

    ns = 1_704_207_600_123_456_789
    item = sim_wire.Trade("FAKEPACA", 7, "V", 100.5, 3.0, ["@"], "C", sim_wire.WireTime(ns))
    for encoding in ("json", "msgpack"):
        (trade,) = AlpacaDecoder().decode(sim_wire.control_frame(item, encoding))  # type: ignore[arg-type]
        assert isinstance(trade, Trade) and (trade.timestamp, trade.id, trade.price) == (ns, 7, 100.5)


def test_keys_come_from_the_environment_and_never_show(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", "PKENVKEY123")
    monkeypatch.setenv("APCA_API_SECRET_KEY", "env-secret-xyz")
    c = AlpacaStreamClient(market="iex", dotenv_path=None)
    text = repr(c) + repr(c.session) + repr(c.session.subscriptions)
    assert "PKENVKEY123" not in text and "env-secret-xyz" not in text
    assert c.url == "wss://stream.data.alpaca.markets/v2/iex"
    monkeypatch.delenv("APCA_API_KEY_ID")
    monkeypatch.delenv("APCA_API_SECRET_KEY")
    env = tmp_path / ".env"
    env.write_text("APCA_API_KEY_ID=PKDOTENV\nAPCA_API_SECRET_KEY=dot-secret\n")
    c2 = AlpacaStreamClient(market="sip", sandbox=True, dotenv_path=env)
    assert c2.url == "wss://stream.data.sandbox.alpaca.markets/v2/sip"
    with pytest.raises(Exception, match="APCA_API_SECRET_KEY"):
        AlpacaStreamClient(key_id="only-id", market="iex", dotenv_path=None)


async def test_a_local_server_needs_no_keys(sim: AlpacaSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    async with client(sim, key_id=None, secret_key=None) as c:
        await c.subscribe_trades("FAKEPACA")
        await until(c, count(Trade, 1))
    assert sim.actions("test", "auth")[0].key_id == key_id(SIM_KEY_ID)
    with pytest.raises(ConfigError, match="--key-id"):
        AlpacaStreamClient(market="iex", url="wss://stream.data.alpaca.markets/v2/iex", dotenv_path=None)
