"""AlpacaStreamClient and AlpacaCallbackClient over loopback against a spec-written Alpaca server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from tickwire.alpaca import AlpacaCallbackClient, AlpacaStreamClient
from tickwire.alpaca.codes import AlpacaAuthError
from tickwire.alpaca.models import AlpacaError, Bar, OrderBook, Quote, Trade
from tickwire.backoff import Backoff
from tickwire.events import Connected, Disconnected, Event, Reconnected, SubscriptionRejected
from tickwire.provider import get_provider, register_provider

from .fake_alpaca import KEY_ID, SECRET, FakeAlpaca

T = "2024-01-02T15:00:00.123456789Z"
TRADE = {"T": "t", "S": "FAKEPACA", "i": 1, "x": "V", "p": 100.5, "s": 3, "c": ["@"], "z": "A", "t": T}


def client(server: FakeAlpaca, market: str = "test", **kw: Any) -> AlpacaStreamClient:
    options: dict[str, Any] = {
        "key_id": KEY_ID,
        "secret_key": SECRET,
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
    c: AlpacaStreamClient, done: Callable[[Event, list[Event]], bool], within: float = 8.0
) -> list[Event]:
    seen: list[Event] = []
    async with asyncio.timeout(within):
        async for ev in c:
            seen.append(ev)
            if done(ev, seen):
                return seen
    raise AssertionError(f"stream ended; saw {[e.event_type for e in seen]}")


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
async def test_trades_arrive_typed_in_both_encodings(encoding: str) -> None:
    async with FakeAlpaca() as server, client(server, encoding=encoding) as c:
        await c.subscribe_trades("FAKEPACA")
        conn = await server.connection()
        assert conn.msgpack == (encoding == "msgpack")
        assert await conn.next_request(0) == {"action": "auth", "key": KEY_ID, "secret": SECRET}
        assert await conn.next_request(1) == {"action": "subscribe", "trades": ["FAKEPACA"]}
        await until(c, lambda ev, _: ev.event_type == "subscription")
        conn.send([TRADE, {**TRADE, "i": 2, "p": 101.0}])
        seen = await until(c, lambda ev, s: sum(isinstance(e, Trade) for e in s) == 2)
    trades = [e for e in seen if isinstance(e, Trade)]
    assert [t.price for t in trades] == [100.5, 101.0]
    assert trades[0].timestamp == 1_704_207_600_123_456_789 and trades[0].conditions == ["@"]
    assert server.paths == ["/v2/test"]
    assert c.metrics().events >= 2


async def test_header_auth_and_path_of_each_market() -> None:
    async with FakeAlpaca() as server:
        for market, path in (
            ("crypto", "/v1beta3/crypto/us"),
            ("opra", "/v1beta1/opra"),
            ("news", "/v1beta1/news"),
        ):
            async with client(server, market, header_auth=True) as c:
                seen = await until(c, lambda ev, _: isinstance(ev, Connected))
                assert any(isinstance(e, Connected) for e in seen)
                conn = server.conns[-1]
                assert conn.requests == [] and conn.headers["apca-api-key-id"] == KEY_ID
                assert conn.msgpack == (market == "opra")
            assert server.paths[-1] == path


async def test_reconnect_resubscribes_exactly_and_reports_the_gap() -> None:
    async with FakeAlpaca() as server, client(server) as c:
        await c.subscribe_trades("FAKEPACA", "OTHER")
        await c.subscribe_bars("*")
        await c.unsubscribe("trades", "OTHER")
        first = await server.connection()
        await until(c, lambda ev, _: ev.event_type == "subscription" and c.session.acks_due == 0)
        first.drop()
        second = await server.connection()
        await until(c, lambda ev, _: isinstance(ev, Reconnected))
        resub = await second.next_request(1)
        assert resub == {"action": "subscribe", "trades": ["FAKEPACA"], "bars": ["*"]}
        assert second.subs["trades"] == ["FAKEPACA"] and second.subs["bars"] == ["*"]


async def test_406_waits_the_reaping_window_then_connects() -> None:
    async with FakeAlpaca() as server:
        server.replies["auth"] = [{"T": "error", "code": 406, "msg": "connection limit exceeded"}]
        async with client(server, connection_limit_cooldown=0.4) as c:
            seen = await until(c, lambda ev, _: isinstance(ev, Connected))
    err = next(e for e in seen if isinstance(e, AlpacaError))
    assert err.code == 406
    gone = next(e for e in seen if isinstance(e, Disconnected))
    assert gone.reason == "connection_limit" and gone.will_reconnect and gone.retry_in == pytest.approx(0.4)
    assert len(server.paths) == 2


async def test_402_is_fatal_without_retry() -> None:
    async with FakeAlpaca() as server, client(server, secret_key="wrong") as c:
        with pytest.raises(AlpacaAuthError, match="APCA_API_KEY_ID") as info:
            await until(c, lambda ev, _: False)
    assert info.value.code == 402 and "wrong" not in str(info.value)
    assert len(server.paths) == 1


async def test_a_symbol_left_out_of_the_ack_is_rejected() -> None:
    async with FakeAlpaca() as server, client(server) as c:
        server.refused.add("NOPE")
        await c.subscribe_quotes("FAKEPACA", "NOPE")
        seen = await until(c, lambda ev, _: isinstance(ev, SubscriptionRejected))
    assert seen[-1].channel == "quotes:NOPE"  # type: ignore[attr-defined]
    assert c.subscriptions == {"quotes": ["FAKEPACA"]}


async def test_crypto_books_are_kept_by_the_client() -> None:
    async with FakeAlpaca() as server, client(server, "crypto", encoding="msgpack") as c:
        await c.subscribe_orderbooks("BTC/USD")
        conn = await server.connection()
        await until(c, lambda ev, _: ev.event_type == "subscription")
        level = lambda p, s: {"p": p, "s": s}  # noqa: E731
        conn.send(
            [
                {
                    "T": "o",
                    "S": "BTC/USD",
                    "t": T,
                    "b": [level(99, 1), level(100, 2)],
                    "a": [level(101, 1)],
                    "r": True,
                }
            ]
        )
        conn.send([{"T": "o", "S": "BTC/USD", "t": T, "b": [level(100, 0)], "a": []}])
        await until(c, lambda ev, s: sum(isinstance(e, OrderBook) for e in s) == 2)
        book = c.book("BTC/USD")
        assert book is not None and book.snapshot() == (((99, 1),), ((101, 1),))


async def test_quotes_and_bars_through_batches() -> None:
    async with FakeAlpaca() as server, client(server) as c:
        await c.subscribe("quotes", "FAKEPACA")
        conn = await server.connection()
        got: list[list[Event]] = []
        async with asyncio.timeout(8):
            async for batch in c.batches():
                got.append(batch)
                if any(e.event_type == "subscription" for e in batch):
                    conn.send(
                        [
                            {"T": "q", "S": "FAKEPACA", "bp": 1, "bs": 2, "ap": 1.1, "as": 3, "t": T},
                            {"T": "b", "S": "FAKEPACA", "o": 1, "h": 2, "l": 0.5, "c": 1.5, "v": 9, "t": T},
                        ]
                    )
                if any(isinstance(e, Bar) for e in batch):
                    break
    assert [type(e) for e in got[-1]] == [Quote, Bar]


def test_callback_client_delivers_on_its_thread_and_stops() -> None:
    async def serve(ready: threading.Event, stop: threading.Event, holder: dict[str, Any]) -> None:
        async with FakeAlpaca() as server:
            holder["server"] = server
            holder["loop"] = asyncio.get_running_loop()
            ready.set()
            conn = await server.connection()
            await conn.next_request(1)
            conn.send([TRADE])
            while not stop.is_set():  # noqa: ASYNC110 (the test thread sets it)
                await asyncio.sleep(0.02)

    ready, stop, holder = threading.Event(), threading.Event(), {}
    t = threading.Thread(target=lambda: asyncio.run(serve(ready, stop, holder)), daemon=True)
    t.start()
    assert ready.wait(10)
    got: list[Trade] = []
    done = threading.Event()
    closed = threading.Event()
    cb = AlpacaCallbackClient(
        KEY_ID,
        SECRET,
        "test",
        url=holder["server"].url,
        dotenv_path=None,
        ping_interval=None,
        on_close=closed.set,
    )
    cb.on("t", lambda ev: (got.append(ev), done.set()))  # type: ignore[arg-type, func-returns-value]
    cb.subscribe("trades", "FAKEPACA")
    cb.start()
    try:
        assert done.wait(10), "no trade delivered"
        assert threading.current_thread().name == "MainThread" and got[0].symbol == "FAKEPACA"
        assert cb.subscriptions == {"trades": ["FAKEPACA"]}
    finally:
        cb.stop()
        stop.set()
        t.join(10)
    assert closed.is_set() and cb.error is None


async def test_the_provider_contract() -> None:
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
    async with FakeAlpaca() as server:
        c = p.open_client(
            "test",
            ["trades:FAKEPACA", "bars"],
            key_id=KEY_ID,
            secret_key=SECRET,
            url=server.url,
            dotenv_path=None,
        )
        async with c:
            conn = await server.connection()
            assert await conn.next_request(1) == {
                "action": "subscribe",
                "trades": ["FAKEPACA"],
                "bars": ["*"],
            }


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
