"""AsyncStreamClient against the simulator over loopback: data, values, handlers, bad frames."""

from __future__ import annotations

import asyncio
import time

import pytest

from tickwire import (
    AsyncStreamClient,
    ConfigError,
    Connected,
    CryptoQuote,
    CryptoTrade,
    DecodeError,
    EquityAgg,
    EquityQuote,
    EquityTrade,
    Event,
    ForexQuote,
    FuturesTrade,
    IndexValue,
    RawEvent,
)
from tickwire.sim import MassiveSimulator

from .conftest import events_until, fast_client


async def test_trades_match_the_market_model(sim: MassiveSimulator) -> None:
    async with fast_client(sim) as client:
        await client.subscribe("T.AAPL", "T.MSFT")
        seen = await events_until(
            client, lambda ev, s: sum(isinstance(e, EquityTrade) for e in s) >= 40, within=10
        )
    trades = [e for e in seen if isinstance(e, EquityTrade)]
    assert {t.symbol for t in trades} <= {"AAPL", "MSFT"}
    # every streamed trade is exactly the model's print at that time
    for t in trades[:40]:
        assert t.symbol is not None and t.timestamp is not None
        model = sim.trades("stocks", t.symbol, t.timestamp, t.timestamp + 1)
        assert any(
            m.price == t.price and m.size == t.size and m.sequence == t.sequence_number for m in model
        ), t
    seqs = [t.sequence_number for t in trades if t.symbol == "AAPL"]
    assert seqs == sorted(seqs)


@pytest.mark.parametrize(
    ("market", "channels", "expected"),
    [
        ("stocks", ["T.*", "Q.*", "A.*"], {EquityTrade, EquityQuote, EquityAgg}),
        ("crypto", ["XT.*", "XQ.*"], {CryptoTrade, CryptoQuote}),
        ("forex", ["C.*"], {ForexQuote}),
        ("indices", ["V.*"], {IndexValue}),
        ("futures", ["T.*"], {FuturesTrade}),
    ],
)
async def test_each_cluster_streams_typed_events(
    sim: MassiveSimulator, market: str, channels: list[str], expected: set[type[Event]]
) -> None:
    async with fast_client(sim, market=market) as client:
        await client.subscribe(*channels)
        seen = await events_until(client, lambda ev, s: expected <= {type(e) for e in s}, within=10)
    data = [e for e in seen if type(e) in expected]
    assert data
    for ev in data:
        assert ev.symbol  # type: ignore[attr-defined]
        assert ev.time_ns is not None  # type: ignore[attr-defined]


async def test_garbage_and_unknown_events_are_reported_not_fatal(sim: MassiveSimulator) -> None:
    async with fast_client(sim) as client:
        await client.subscribe("T.*")
        await events_until(client, lambda ev, s: isinstance(ev, EquityTrade))
        sim.send_raw("garbage{{")
        sim.send_raw('[{"ev":"T","sym":"AAPL","p":1.5')  # truncated JSON
        sim.send_raw('[{"ev":"ZZ","sym":"AAPL","weird":true}]')  # unknown event type
        seen = await events_until(
            client,
            lambda ev, s: (
                sum(isinstance(e, DecodeError) for e in s) >= 2
                and any(isinstance(e, RawEvent) for e in s)
                and isinstance(ev, EquityTrade)
            ),
        )
        raw = next(e for e in seen if isinstance(e, RawEvent))
        assert raw.type == "ZZ" and b'"weird":true' in raw.data
        m = client.metrics()
        assert m.decode_errors == 2 and m.unknown_events == 1 and m.connected


async def test_handlers_sync_async_and_failing(sim: MassiveSimulator) -> None:
    got: dict[str, int] = {"T": 0, "Q": 0, "connected": 0}
    errors: list[Exception] = []
    done = asyncio.Event()
    client = fast_client(sim)

    def on_trade(ev: Event) -> None:
        assert isinstance(ev, EquityTrade)
        got["T"] += 1
        if got["T"] == 3:
            raise RuntimeError("handler bug")
        if got["T"] >= 10 and got["Q"] >= 10:
            done.set()

    async def on_quote(ev: Event) -> None:
        await asyncio.sleep(0)
        got["Q"] += 1

    client.on("T", on_trade)
    client.on("Q", on_quote)
    client.on("connected", lambda ev: got.__setitem__("connected", got["connected"] + 1))
    async with client:
        await client.subscribe("T.*", "Q.*")
        runner = asyncio.ensure_future(client.run(on_error=lambda exc, ev: errors.append(exc)))
        await asyncio.wait_for(done.wait(), 10)
        await client.close()
        await asyncio.wait_for(runner, 5)
    assert got["connected"] == 1
    assert len(errors) == 1 and str(errors[0]) == "handler bug"
    with pytest.raises(ConfigError):
        client.__aiter__()  # handlers and iteration do not mix


async def test_subscribe_before_start_and_unsubscribe(sim: MassiveSimulator) -> None:
    client = fast_client(sim, subscriptions=["T.AAPL"])
    await client.subscribe("Q.AAPL")
    async with client:
        await sim.wait_subscribed("stocks", {"T.AAPL", "Q.AAPL"}, timeout=5)
        await client.unsubscribe("Q.AAPL")
        await sim.wait_until(lambda: sim.subscriptions("stocks") == frozenset({"T.AAPL"}), timeout=5)
        seen = await events_until(client, lambda ev, s: isinstance(ev, Connected))
        assert seen[-1].url.endswith("/stocks")  # type: ignore[attr-defined]
    assert client.subscriptions == ["T.AAPL"]


async def test_delayed_feed_is_fifteen_minutes_old(sim: MassiveSimulator) -> None:
    async with fast_client(sim, url=sim.url_for("stocks", delayed=True)) as client:
        await client.subscribe("T.*")
        seen = await events_until(client, lambda ev, s: isinstance(ev, EquityTrade))
        lag = client.metrics().lag_seconds
        behind = time.time() - sim.now_ms() / 1000  # the market clock may start in an earlier session
    assert lag is not None and 890 < lag - behind < 910
    assert isinstance(seen[-1], EquityTrade)


def test_no_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MASSIVE_API_KEY", raising=False)
    monkeypatch.delenv("POLYGON_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="MASSIVE_API_KEY"):
        AsyncStreamClient(dotenv_path=None)
    with pytest.raises(ConfigError, match="unknown market"):
        AsyncStreamClient(api_key="k", market="bonds")
