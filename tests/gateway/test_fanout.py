"""One gateway in front of the simulator: the official SDKs and 10 tickwire clients, over real sockets."""

from __future__ import annotations

import asyncio
import json
import threading

import polygon  # type: ignore[import-untyped]
from massive import WebSocketClient  # type: ignore[import-untyped]
from massive.websocket.models import EquityTrade as OfficialTrade  # type: ignore[import-untyped]

from tests.waiting import until
from tickwire.gateway import Gateway
from tickwire.massive.models import EquityTrade
from tickwire.sim import MassiveSimulator

from .conftest import Collector, outside, tw_client

SUBSCRIPTIONS: list[set[str]] = [
    {"T.AAPL"},
    {"T.AAPL"},  # the same channels as the first: one shared frame
    {"T.MSFT"},
    {"T.*"},
    {"Q.AAPL"},
    {"T.AAPL", "Q.MSFT"},
    {"A.NVDA"},
    {"T.SPY", "T.QQQ"},
    {"Q.*"},
    {"T.TSLA", "T.AMZN", "Q.TSLA"},
]


async def test_official_clients_and_ten_tickwire_clients_share_one_upstream(
    sim: MassiveSimulator, gateway: Gateway
) -> None:
    # the official massive client
    official = WebSocketClient(
        api_key="any-token", feed=gateway.feed, market="stocks", secure=False, subscriptions=["T.NVDA"]
    )
    official_trades: list[OfficialTrade] = []
    official_other: list[object] = []

    async def processor(messages: list[object]) -> None:
        for m in messages:
            (official_trades if isinstance(m, OfficialTrade) else official_other).append(m)

    official_task = asyncio.create_task(official.connect(processor))

    # the third-party polygon package (its sync StreamClient; its URL is hard-wired to wss://*.polygon.io)
    frames: list[bytes | str] = []
    lock = threading.Lock()

    def on_message(ws: object, message: bytes | str) -> None:
        with lock:
            frames.append(message)

    poly = polygon.StreamClient("any-token", "stocks", on_message=on_message)
    poly.WS.url = gateway.url
    poly.start_stream_thread()
    await asyncio.to_thread(poly.subscribe_stock_trades, ["AMD"])  # waits for its login

    collectors = [Collector(tw_client(gateway, *subs)) for subs in SUBSCRIPTIONS]
    try:
        for c in collectors:
            await c.client.start()

        def polygon_events() -> list[dict[str, object]]:
            with lock:
                return [e for f in frames for e in json.loads(f) if e.get("ev") != "status"]

        await until(
            lambda: (
                all(c.has_all(s) for c, s in zip(collectors, SUBSCRIPTIONS, strict=True))
                and len(official_trades) >= 3
                and len(polygon_events()) >= 3
            ),
            within=15,
            what="every client's channels",
        )
        # ONE upstream connection, carrying the union (wildcards subsume exact channels)
        assert sim.counters.handshakes == 1 and len(sim.connections("stocks")) == 1
        assert sim.subscriptions("stocks") == {"T.*", "Q.*", "A.NVDA"}
        assert gateway.router.upstream == {"T.*", "Q.*", "A.NVDA"}
        for c, subs in zip(collectors, SUBSCRIPTIONS, strict=True):
            assert outside(c.channels_seen(), subs) == set(), subs
        assert {t.symbol for t in official_trades} == {"NVDA"}
        assert not [m for m in official_other if getattr(m, "event_type", None) != "status"]
        assert {(e["ev"], e["sym"]) for e in polygon_events()} == {("T", "AMD")}

        # exactly, not only "nothing else": the T.AAPL client got every AAPL trade T.* got meanwhile
        def aapl_seqs(c: Collector) -> list[int]:
            return [
                e.sequence_number
                for e in c.events
                if isinstance(e, EquityTrade) and e.symbol == "AAPL" and e.sequence_number is not None
            ]

        aapl = (collectors[0], collectors[1], collectors[3], collectors[5])
        had = [len(aapl_seqs(c)) for c in aapl]
        await until(
            lambda: all(len(aapl_seqs(c)) >= n + 5 for c, n in zip(aapl, had, strict=True)),
            within=10,
            what="AAPL trades on all four AAPL holders at once",
        )
        star = aapl_seqs(collectors[3])
        for c in (collectors[0], collectors[1], collectors[5]):
            one = aapl_seqs(c)
            lo, hi = max(one[0], star[0]), min(one[-1], star[-1])
            assert lo < hi
            assert [q for q in one if lo <= q <= hi] == [q for q in star if lo <= q <= hi]
        assert len(gateway.clients()) == len(SUBSCRIPTIONS) + 2
        assert gateway.counters.events_unrouted == 0
    finally:
        for c in collectors:
            await c.stop()
        await official.close()
        await asyncio.wait_for(official_task, 5)
        await asyncio.to_thread(poly.close_stream)
    await gateway.wait_until(lambda: not gateway.clients(), 5, "every client gone")
    await sim.wait_until(lambda: sim.subscriptions("stocks") == frozenset(), 5, "upstream unsubscribed")
    assert sim.counters.handshakes == 1  # the upstream connection stayed up throughout


async def test_upstream_unsubscribes_only_when_the_last_holder_leaves(
    sim: MassiveSimulator, gateway: Gateway
) -> None:
    a = Collector(tw_client(gateway, "T.AAPL"))
    b = Collector(tw_client(gateway, "T.AAPL", "T.MSFT"))
    try:
        await until(lambda: a.has_all({"T.AAPL"}) and b.has_all({"T.AAPL", "T.MSFT"}), 10, "both streaming")
        assert sim.subscriptions("stocks") == {"T.AAPL", "T.MSFT"}
        await b.stop()
        await sim.wait_actions(1, "unsubscribe")
        assert [u.params for u in sim.actions(action="unsubscribe")] == [("T.MSFT",)]
        count = len(a.events)
        await until(lambda: len(a.events) > count + 3, 10, "A still streaming")
        assert sim.subscriptions("stocks") == {"T.AAPL"}

        # a wildcard holder arrives: T.* upstream (subscribed before T.AAPL is let go), and back
        sim.clear_actions()
        c = Collector(tw_client(gateway, "T.*"))
        await until(lambda: len(c.channels_seen()) > 3, 10, "T.* streaming")
        assert sim.subscriptions("stocks") == {"T.*"}
        assert [(x.action, x.params) for x in sim.actions() if x.action != "auth"] == [
            ("subscribe", ("T.*",)),
            ("unsubscribe", ("T.AAPL",)),
        ]
        count = len(a.events)
        await until(lambda: len(a.events) > count + 3, 10, "A streaming under T.*")
        assert a.channels_seen() == {"T.AAPL"}
        await c.stop()
        await sim.wait_until(lambda: sim.subscriptions("stocks") == {"T.AAPL"}, 5, "T.AAPL again")
        count = len(a.events)
        await until(lambda: len(a.events) > count + 3, 10, "A streaming after T.* left")
    finally:
        await a.stop()
    await sim.wait_until(lambda: sim.subscriptions("stocks") == frozenset(), 5, "nothing upstream")
    assert sim.counters.handshakes == 1
