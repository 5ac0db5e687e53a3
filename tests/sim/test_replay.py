"""Journals served in the dialect that recorded them: Massive clusters, Polymarket US sockets.

Polymarket journals are recorded here from the Polymarket simulator's own frames (a raw signed
client, :class:`~tickwire.journal.JournalWriter` with the recorder's metadata) and read back by
the official ``polymarket-us`` SDK, by :class:`~tickwire.polymarket_us.client.PolymarketClient`
and by raw clients that check the filtering frame by frame.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from polymarket_us import AsyncPolymarketUS
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tickwire.backoff import Backoff
from tickwire.errors import ConfigError
from tickwire.journal import JournalWriter
from tickwire.polymarket_us.client import PolymarketClient
from tickwire.polymarket_us.events import MarketData
from tickwire.sim.polymarket import SIM_KEY_ID, SIM_SECRET_KEY, PolymarketSimulator
from tickwire.sim.replay import JournalReplayer

from .dialects import Dialect, next_matching, pm_headers
from .sim_client import RawClient

MARKETS = ("fed-cut-june", "eth-5k-2026", "btc-100k-2026")
KINDS = {
    "trade": ('"trade"',),
    "heartbeat": ('"heartbeat"',),
    "order": ('"orderSubscriptionUpdate"', '"order_subscription_update"'),
}
"""What a recorded session must hold before it is long enough: marks in the frame text."""
MARKER = '{"heartbeat":{}}'
"""Sent with ``send_raw`` once the journal is through: everything before it was replayed."""


def subscribe(rid: str, stype: str, slugs: list[str] | tuple[str, ...] = ()) -> str:
    return json.dumps(
        {
            "subscribe": {
                "requestId": rid,
                "subscriptionType": f"SUBSCRIPTION_TYPE_{stype}",
                "marketSlugs": list(slugs),
            }
        }
    )


def write_journal(directory: Path, frames: list[bytes], meta: dict[str, Any]) -> Path:
    """A journal as the recorder writes one: the session metadata, then each frame with its receive time."""
    with JournalWriter(directory, meta=meta, compress=False) as writer:
        start = time.time_ns()
        for i, frame in enumerate(frames):
            writer.append(frame, start + i * 1_000_000, 1)
    return directory


async def record_polymarket(directory: Path, socket: str = "markets", *, legacy: bool = False) -> list[bytes]:
    """Frames of a live Polymarket simulator session (heartbeats and all), written as a journal."""
    frames: list[bytes] = []
    async with PolymarketSimulator(
        seed=3,
        markets=MARKETS,
        tick_interval=0.02,
        heartbeat_interval=0.05,
        account_interval=0.02,
        legacy=legacy,
    ) as pm:
        ws = await Dialect("polymarket", pm, socket, "").open()
        if socket == "markets":
            await ws.send(subscribe("md-1", "MARKET_DATA", MARKETS[:2]))
            await ws.send(subscribe("tr-1", "TRADE", MARKETS[:2]))
            await ws.send(subscribe("lite-1", "MARKET_DATA_LITE", MARKETS[:1]))
        else:
            await ws.send(subscribe("snap-1", "ORDER_SNAPSHOT"))
            await ws.send(subscribe("ord-1", "ORDER"))
            await ws.send(subscribe("bal-1", "ACCOUNT_BALANCE"))
        kinds: set[str] = set()
        async with asyncio.timeout(10):
            while len(frames) < 60 or not kinds >= (
                {"trade", "heartbeat"} if socket == "markets" else {"order"}
            ):
                frame = await ws.recv()
                assert isinstance(frame, str)
                frames.append(frame.encode())
                for kind, marks in KINDS.items():
                    if any(mark in frame for mark in marks):
                        kinds.add(kind)
        await ws.close()
    write_journal(
        directory, frames, {"provider": "polymarket_us", "market": socket, "url": pm.url_for(socket)}
    )
    return frames


def recorded(frames: list[bytes], key: str, slug: str | None = None) -> list[dict[str, Any]]:
    """The recorded frames carrying ``key`` (``marketData``...), of market ``slug`` if given."""
    out = []
    for frame in frames:
        data = json.loads(frame)
        body = data.get(key)
        if isinstance(body, dict) and (slug is None or body.get("marketSlug") == slug):
            out.append(data)
    return out


async def until_marker(ws: ClientConnection, replayer: JournalReplayer) -> list[dict[str, Any]]:
    """Every frame the replay sends ``ws`` up to the end of the journal."""
    await replayer.wait_finished(timeout=10)
    assert replayer.server.send_raw(MARKER) == 1
    got = []
    async with asyncio.timeout(5):
        while (frame := await ws.recv()) != MARKER:
            got.append(json.loads(frame))
    return got


# -- Polymarket US ------------------------------------------------------------------------------


async def test_official_sdk_reads_a_polymarket_journal(tmp_path: Path) -> None:
    frames = await record_polymarket(tmp_path / "journal")
    books = recorded(frames, "marketData", MARKETS[0])
    trades = recorded(frames, "trade", MARKETS[0])
    assert books and trades
    async with JournalReplayer(tmp_path / "journal", heartbeat_interval=None) as replayer:
        assert (replayer.provider, replayer.market) == ("polymarket_us", "markets")
        assert replayer.url.endswith("/v1/ws/markets")
        got: dict[str, list[Any]] = defaultdict(list)
        async with AsyncPolymarketUS(
            key_id=SIM_KEY_ID, secret_key=SIM_SECRET_KEY, api_base_url=f"http://127.0.0.1:{replayer.port}"
        ) as client:
            ws = client.ws.markets()
            for name in ("market_data", "trade", "heartbeat", "error"):
                ws.on(name, lambda *args, _n=name: got[_n].append(args[0] if args else None))
            await ws.connect()
            try:
                await ws.subscribe_market_data("sdk-md", [MARKETS[0]])
                await ws.subscribe_trades("sdk-tr", [MARKETS[0]])
                await replayer.wait_finished(timeout=10)
                replayer.server.send_raw(MARKER)
                async with asyncio.timeout(5):
                    while not got["heartbeat"]:  # noqa: ASYNC110 (the SDK's callbacks only append to lists)
                        await asyncio.sleep(0.01)
                await ws.subscribe_market_data("sdk-bad", ["no-such-market"])
                async with asyncio.timeout(5):
                    while not got["error"]:  # noqa: ASYNC110
                        await asyncio.sleep(0.01)
            finally:
                await ws.close()
    assert [m["marketData"] for m in got["market_data"]] == [b["marketData"] for b in books]
    assert {m["requestId"] for m in got["market_data"]} == {"sdk-md"}
    assert [t["trade"] for t in got["trade"]] == [t["trade"] for t in trades]
    assert "no-such-market" in str(got["error"][0])  # the journal's markets are the servable ones


async def test_polymarket_client_reads_a_polymarket_journal(tmp_path: Path) -> None:
    frames = await record_polymarket(tmp_path / "journal")
    books = recorded(frames, "marketData", MARKETS[1])
    async with JournalReplayer(tmp_path / "journal") as replayer:
        client = PolymarketClient(
            "markets",
            key_id=SIM_KEY_ID,
            secret_key=SIM_SECRET_KEY,
            base_url=replayer.base_url,
            backoff=Backoff(base=0.02, cap=0.1, seed=3),
            heartbeat_timeout=5.0,
            dotenv_path=None,
        )
        seen: list[MarketData] = []
        async with client:
            await client.subscribe_market_data(MARKETS[1])
            async with asyncio.timeout(10):
                async for ev in client:
                    if isinstance(ev, MarketData):
                        seen.append(ev)
                        if len(seen) == len(books):
                            break
            assert client.book(MARKETS[1]) is not None
    assert {ev.market_slug for ev in seen} == {MARKETS[1]}
    for ev, book in zip(seen, books, strict=True):
        bids = [(Decimal(lv["px"]["value"]), Decimal(lv["qty"])) for lv in book["marketData"]["bids"]]
        assert [(lv.price, lv.qty) for lv in ev.bids] == bids


async def test_polymarket_replay_filters_by_type_and_market_and_rewrites_request_ids(tmp_path: Path) -> None:
    frames = await record_polymarket(tmp_path / "journal")
    async with JournalReplayer(tmp_path / "journal", heartbeat_interval=None) as replayer:
        ws = await connect(replayer.url, additional_headers=pm_headers("/v1/ws/markets"))
        await ws.send(subscribe("md-1", "MARKET_DATA", MARKETS[1:2]))  # the recorded requestId
        await ws.send(subscribe("mine", "MARKET_DATA_LITE", MARKETS[:1]))
        await replayer.server.wait_until(
            lambda: sum(len(c.subscriptions) for c in replayer.server.connections()) == 2
        )
        got = await until_marker(ws, replayer)
        await ws.close()
    md = [f for f in got if "marketData" in f]
    lite = [f for f in got if "marketDataLite" in f]
    assert md == recorded(frames, "marketData", MARKETS[1])  # byte for byte: the requestId matched
    assert [f["marketDataLite"] for f in lite] == [
        f["marketDataLite"] for f in recorded(frames, "marketDataLite")
    ]
    assert {f["requestId"] for f in lite} == {"mine"}
    assert len(got) == len(md) + len(lite)  # no trades, no recorded heartbeats


async def test_a_legacy_journal_is_replayed_in_its_own_format(tmp_path: Path) -> None:
    frames = await record_polymarket(tmp_path / "journal", legacy=True)
    assert b'"request_id"' in frames[-1]
    async with JournalReplayer(tmp_path / "journal", heartbeat_interval=None) as replayer:
        ws = await connect(replayer.url, additional_headers=pm_headers("/v1/ws/markets"))
        await ws.send(subscribe("legacy-md", "MARKET_DATA", MARKETS[:1]))
        await ws.send(subscribe("bad", "TRADE", ["no-such-market"]))
        error = json.loads(await next_matching(ws, lambda f: "error" in str(f)))
        assert (
            error["request_id"] == "bad" and "no-such-market" in error["error"]
        )  # the server's own, snake_case
        got = await until_marker(ws, replayer)
        await ws.close()
    assert got and {f["request_id"] for f in got} == {"legacy-md"}
    assert all(f["market_data"]["market_slug"] == MARKETS[0] for f in got)


async def test_a_private_journal_is_served_on_the_private_socket_only(tmp_path: Path) -> None:
    frames = await record_polymarket(tmp_path / "journal", "private")
    recorded_orders = [
        o
        for f in recorded(frames, "orderSubscriptionSnapshot")
        for o in f["orderSubscriptionSnapshot"]["orders"]
    ]
    updates = recorded(frames, "orderSubscriptionUpdate")
    assert recorded_orders and updates
    async with JournalReplayer(tmp_path / "journal", heartbeat_interval=None) as replayer:
        assert replayer.url.endswith("/v1/ws/private")
        with pytest.raises(InvalidStatus) as info:
            await connect(
                replayer.base_url + "/v1/ws/markets", additional_headers=pm_headers("/v1/ws/markets")
            )
        assert info.value.response.status_code == 404
        bad = pm_headers("/v1/ws/private") | {"X-PM-Signature": "AAAA"}
        with pytest.raises(InvalidStatus) as info:
            await connect(replayer.url, additional_headers=bad)
        assert info.value.response.status_code == 401  # the dialect's auth rules hold in a replay
        ws = await connect(replayer.url, additional_headers=pm_headers("/v1/ws/private"))
        await ws.send(subscribe("snap", "ORDER_SNAPSHOT"))
        await ws.send(subscribe("orders", "ORDER"))
        await replayer.server.wait_until(lambda: any(c.subscriptions for c in replayer.server.connections()))
        got = await until_marker(ws, replayer)
        await ws.close()
    pages = [f["orderSubscriptionSnapshot"] for f in got if "orderSubscriptionSnapshot" in f]
    assert pages[-1]["eof"] is True
    assert [o for p in pages for o in p["orders"]] == recorded_orders
    assert [f["orderSubscriptionUpdate"] for f in got if "orderSubscriptionUpdate" in f] == [
        u["orderSubscriptionUpdate"] for u in updates
    ]


async def test_replay_cli_serves_a_polymarket_journal(tmp_path: Path) -> None:
    frames = await record_polymarket(tmp_path / "journal")
    books = recorded(frames, "marketData", MARKETS[0])
    proc = await asyncio.create_subprocess_exec(
        *(
            sys.executable,
            "-m",
            "tickwire",
            "replay",
            str(tmp_path / "journal"),
            "--port",
            "0",
            "--speed",
            "max",
        ),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        assert "(polymarket_us)" in line, line
        url = line.split(" on ")[1].split()[0]
        assert url.endswith("/v1/ws/markets")
        ws = await connect(url, additional_headers=pm_headers("/v1/ws/markets"))
        await ws.send(subscribe("cli", "MARKET_DATA", MARKETS[:1]))
        got = []
        while len(got) < len(books):
            frame = json.loads(await next_matching(ws, lambda f: "marketData" in str(f)))
            got.append(frame["marketData"])
        assert got == [b["marketData"] for b in books]
        await ws.close()
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


# -- Massive ------------------------------------------------------------------------------------


CRYPTO = [
    b'[{"ev":"XT","pair":"BTC-USD","p":1,"s":1,"t":1},{"ev":"XT","pair":"ETH-USD","p":2,"s":1,"t":1}]',
    b'[{"ev":"status","status":"success","message":"subscribed to: XT.*"}]',
    b'[{"ev":"XQ","pair":"BTC-USD","bp":1,"ap":2,"t":2}]',
    b'[{"ev":"XT","pair":"BTC-USD","p":3,"s":1,"t":3}]',
]


@pytest.mark.parametrize(
    ("meta", "market"),
    [
        ({"provider": "massive", "market": "crypto"}, "crypto"),
        ({"market": "crypto"}, "crypto"),
        ({}, "stocks"),
    ],
    ids=["massive", "old-journal-without-provider", "no-meta"],
)
async def test_a_massive_journal_is_served_on_its_cluster(
    tmp_path: Path, meta: dict[str, Any], market: str
) -> None:
    write_journal(tmp_path / "journal", CRYPTO, meta)
    async with JournalReplayer(tmp_path / "journal", speed=None) as replayer:
        assert (replayer.provider, replayer.market) == ("massive", market)
        assert replayer.url == f"ws://127.0.0.1:{replayer.port}/{market}"
        with pytest.raises(InvalidStatus) as info:
            await connect(f"ws://127.0.0.1:{replayer.port}/options")
        assert info.value.response.status_code == 404


async def test_a_massive_replay_filters_by_subscription_and_obeys_the_fault_api(tmp_path: Path) -> None:
    write_journal(tmp_path / "journal", CRYPTO, {"provider": "massive", "market": "crypto"})
    async with JournalReplayer(tmp_path / "journal", speed=None, valid_keys=["good"]) as replayer:
        ws = await connect(replayer.url)
        client = RawClient(ws)
        assert (await client.recv())[0]["status"] == "connected"
        assert (await client.auth("bad"))["status"] == "auth_failed"  # the dialect's auth rules
        client = RawClient(await connect(replayer.url))
        await client.recv()
        assert (await client.auth("good"))["status"] == "auth_success"
        await client.subscribe("XT.BTC-USD")
        got = await until_marker(client.ws, replayer)
        assert got == [
            [{"ev": "XT", "pair": "BTC-USD", "p": 1, "s": 1, "t": 1}],
            [{"ev": "XT", "pair": "BTC-USD", "p": 3, "s": 1, "t": 3}],
        ]
        assert (replayer.frames_sent, replayer.events_sent) == (2, 2)
        muted = RawClient(await connect(replayer.url))
        await muted.recv()
        await muted.auth("good")
        assert replayer.server.mute() == 2
        await muted.send("subscribe", "XT.*")
        await replayer.wait_finished(2, timeout=10)
        assert replayer.frames_sent == 2  # a muted connection is sent nothing of the journal
        assert replayer.server.drop() == 2
        assert replayer.server.counters.drops == 2


def test_replay_filter_keeps_whole_frames_byte_for_byte() -> None:
    out, n = JournalReplayer._filter(CRYPTO[3], frozenset({"XT.BTC-USD"}))
    assert (out, n) == (CRYPTO[3], 1)
    out, n = JournalReplayer._filter(CRYPTO[0], frozenset({"XT.ETH-USD"}))
    assert out == b'[{"ev":"XT","pair":"ETH-USD","p":2,"s":1,"t":1}]' and n == 1
    assert JournalReplayer._filter(CRYPTO[1], frozenset({"XT.*"})) == (None, 0)  # statuses never


def test_journals_of_other_providers_are_refused(tmp_path: Path) -> None:
    write_journal(tmp_path / "j1", CRYPTO, {"provider": "kraken", "market": "spot"})
    with pytest.raises(ConfigError, match="cannot replay a 'kraken' journal"):
        JournalReplayer(tmp_path / "j1")
    write_journal(tmp_path / "j2", CRYPTO, {"provider": "polymarket_us", "market": "stocks"})
    with pytest.raises(ConfigError, match="markets or private socket"):
        JournalReplayer(tmp_path / "j2")
    with pytest.raises(FileNotFoundError):
        JournalReplayer(tmp_path / "nowhere")
