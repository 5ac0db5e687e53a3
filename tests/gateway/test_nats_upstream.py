"""The gateway over the JetStream stream an HA recorder publishes (``NatsUpstream``), against real NATS:
simulator data published by the recorder's sink, clients of the gateway over real sockets.

Each test has its own prefix, stream and watermark bucket (deleted at the end); the restart test
runs a private ``nats-server`` it can kill and start again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import nats
import pytest
from massive import WebSocketClient  # type: ignore[import-untyped]
from massive.websocket.models import EquityTrade as OfficialTrade  # type: ignore[import-untyped]
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError
from websockets.asyncio.client import connect

from tests.gateway.conftest import Collector, outside, tw_client, upstream_for
from tests.ha.cluster import free_ports, wait_listening
from tests.services import service_url, unavailable
from tests.sinks.test_nats_jetstream import Proxy
from tests.waiting import until
from tickwire import AsyncStreamClient, Backoff
from tickwire.errors import NatsUnavailable
from tickwire.events import Connected, Event, Status
from tickwire.gateway import Gateway
from tickwire.gateway.nats_upstream import NatsUpstream
from tickwire.ha.events import FailoverGap
from tickwire.massive.models import EquityTrade
from tickwire.massive.tables import massive_tables, symbol_of
from tickwire.sim import MassiveSimulator
from tickwire.sinks import NatsJetStreamSink, SinkBatch
from tickwire.sinks.nats_jetstream import message_decoder

URL = service_url("TICKWIRE_NATS_URL")
STOCKS = massive_tables("stocks")
WITHIN = float(os.environ.get("TICKWIRE_TEST_WITHIN", "15"))
"""Seconds any one condition may take to come true."""
_enc = msgspec.json.Encoder().encode


class Publisher:
    """What an HA recorder does, in the test's loop: simulator events through ``NatsJetStreamSink``
    (epoch-stamped) into a fresh stream; a write that fails (NATS down) is retried until it lands."""

    def __init__(self, url: str, tag: str) -> None:
        self.url = url
        self.prefix = f"twg{tag}"
        self.stream = f"TWG_{tag.upper()}"
        self.bucket = f"twg_{tag}"
        self.root = f"{self.prefix}.massive.stocks"
        self.epoch = 1
        self.journal = f"j{tag}"
        self.next = 0
        self.sink = self.make()
        self.task: asyncio.Task[None] | None = None
        self.client: AsyncStreamClient | None = None

    def make(self, epoch: int | None = None) -> NatsJetStreamSink:
        stamp = (lambda: self.epoch) if epoch is None else (lambda: epoch)
        return NatsJetStreamSink(
            self.url,
            STOCKS,
            prefix=self.prefix,
            stream=self.stream,
            bucket=self.bucket,
            epoch=stamp,
            connect_timeout=1.0,
            timeout=2.0,
        )

    async def write(self, events: Sequence[Event], sink: NatsJetStreamSink | None = None) -> None:
        sink = sink or self.sink
        start = self.next
        self.next += len(events)
        b = SinkBatch(self.journal, start, self.next, list(events), list(range(start, self.next)))
        while True:
            try:
                await sink.write(b)
                return
            except NatsUnavailable:
                await sink.close()
                await asyncio.sleep(0.05)  # a retry's back-off, not a wait for a condition
                with contextlib.suppress(NatsUnavailable):
                    await sink.open()

    def start(self, sim: MassiveSimulator, channels: Sequence[str]) -> None:
        """Publish what the simulator sends on ``channels`` (its own connection and key)."""
        self.client = AsyncStreamClient(
            "publisher",
            "stocks",
            url=sim.url_for("stocks"),
            subscriptions=channels,
            backoff=Backoff(base=0.02, cap=0.1, seed=3),
            stale_timeout=None,
            dotenv_path=None,
        )

        async def run(client: AsyncStreamClient) -> None:
            async for batch in client.batches():
                data = [e for e in batch if STOCKS.table_for(type(e)) is not None and symbol_of(e)]
                if data:
                    await self.write(data)

        self.task = asyncio.create_task(run(self.client))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.client is not None:
            await self.client.close()
        await self.sink.close()

    def upstream(self, url: str | None = None) -> NatsUpstream:
        return NatsUpstream(
            url or self.url,
            "stocks",
            prefix=self.prefix,
            stream=self.stream,
            connect_timeout=1.0,
            timeout=2.0,
            reconnect_wait=0.1,
            heartbeat=1.0,
        )

    async def stored(self, subject: str, url: str | None = None) -> list[tuple[int, bytes]]:
        """``(stream sequence, wire JSON)`` of every event the stream holds on ``subject``, in order."""
        decode = message_decoder(STOCKS)
        nc = await nats.connect(
            url or self.url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=1
        )
        try:
            js = nc.jetstream()
            sub = await js.subscribe(
                subject, stream=self.stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
            )
            out: list[tuple[int, bytes]] = []
            while True:
                msg = await sub.next_msg(timeout=5)
                seq = msg.metadata.sequence.stream
                out += [(seq, _enc(e)) for e in decode(msg.subject, msg.headers, msg.data).events]
                if msg.metadata.num_pending == 0:
                    break
            await sub.unsubscribe()
            return out
        finally:
            await nc.close()

    async def drop_consumers(self) -> None:
        nc = await nats.connect(self.url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=1)
        try:
            js = nc.jetstream()
            for info in await js.consumers_info(self.stream):
                await js.delete_consumer(self.stream, info.name)
        finally:
            await nc.close()

    async def cleanup(self, url: str | None = None) -> None:
        with contextlib.suppress(Exception):
            nc = await nats.connect(
                url or self.url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=1
            )
            js = nc.jetstream()
            for name in (self.stream, f"KV_{self.bucket}"):
                with contextlib.suppress(NotFoundError):
                    await js.delete_stream(name)
            await nc.close()


@pytest.fixture
async def pub() -> AsyncIterator[Publisher]:
    try:
        nc = await nats.connect(URL, connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=1)
        await nc.close()
    except Exception as exc:
        unavailable("NATS", exc)
    p = Publisher(URL, uuid.uuid4().hex[:10])
    await p.sink.open()  # creates the stream, as the recorder does
    try:
        yield p
    finally:
        await p.stop()
        await p.cleanup()


async def nats_gateway(upstream: NatsUpstream) -> Gateway:
    return await Gateway(upstream, auth_timeout=3.0, close_timeout=2.0, ping_interval=None).start()


def wire(c: Collector, channel: str) -> list[bytes]:
    """The wire JSON of a collector's events of ``channel`` (``T.AAPL``), in order."""
    ev, sym = channel.split(".", 1)
    return [_enc(e) for e in c.events if e.event_type == ev and symbol_of(e) == sym]


def assert_contiguous(got: list[bytes], held: list[tuple[int, bytes]], what: str) -> list[int]:
    """``got`` is a run of the stream's events with nothing missing or repeated; their sequences."""
    assert got, f"{what}: nothing received"
    events = [e for _, e in held]
    assert got[0] in events, f"{what}: the first event received is not in the stream"
    i = events.index(got[0])
    assert events[i : i + len(got)] == got, f"{what}: a hole or a repeat against the stream"
    return [s for s, _ in held[i : i + len(got)]]


def trade(n: int, symbol: str = "ZZZZ") -> EquityTrade:
    return EquityTrade(
        symbol=symbol, price=100.0 + n, size=n, timestamp=1_700_000_000_000 + n, sequence_number=n, id=str(n)
    )


# ---------------------------------------------------------------------------- routing


async def test_each_client_gets_exactly_its_channels(sim: MassiveSimulator, pub: Publisher) -> None:
    pub.start(sim, ["T.*", "Q.AAPL", "Q.MSFT"])
    gw = await nats_gateway(pub.upstream())
    subscriptions = [{"T.AAPL"}, {"T.*"}, {"Q.MSFT", "T.MSFT"}, {"Q.AAPL"}, {"T.AAPL"}]
    collectors = [Collector(tw_client(gw, *s)) for s in subscriptions]
    official = WebSocketClient(
        api_key="any-token", feed=gw.feed, market="stocks", secure=False, subscriptions=["T.NVDA"]
    )
    official_trades: list[OfficialTrade] = []

    async def processor(messages: list[object]) -> None:
        official_trades.extend(m for m in messages if isinstance(m, OfficialTrade))

    official_task = asyncio.create_task(official.connect(processor))
    try:
        for c in collectors:
            await c.client.start()
        await until(
            lambda: (
                all(c.has_all(s) for c, s in zip(collectors, subscriptions, strict=True))
                and len(official_trades) >= 3
            ),
            within=WITHIN,
            what="every client's channels",
        )
        for c, s in zip(collectors, subscriptions, strict=True):
            assert outside(c.channels_seen(), s) == set(), s
        assert {t.symbol for t in official_trades} == {"NVDA"}
        assert gw.router.upstream == {"T.*", "Q.MSFT", "Q.AAPL"}
        up = gw.upstream
        assert isinstance(up, NatsUpstream) and up.connected
        assert set(up.filter_subjects) <= {
            f"{pub.root}.*.*",
            f"{pub.root}.T.*",
            f"{pub.root}.Q.MSFT",
            f"{pub.root}.Q.AAPL",
        }

        # the two T.AAPL clients got the same AAPL trades, the T.* client too while all three held them
        def aapl() -> list[list[bytes]]:
            return [wire(collectors[i], "T.AAPL") for i in (0, 4, 1)]

        def common() -> set[bytes]:
            one, two, star = aapl()
            return set(one) & set(two) & set(star)

        await until(lambda: len(common()) >= 3, WITHIN, "AAPL trades on all three holders")
        both = common()
        assert len({tuple(e for e in got if e in both) for got in aapl()}) == 1
        assert up.stats()["decode_errors"] == 0 and up.stats()["stale_skipped"] == 0
    finally:
        for c in collectors:
            await c.stop()
        await official.close()
        await asyncio.wait_for(official_task, 5)
        await gw.aclose()


async def test_subscription_changes_recreate_the_consumer_without_loss(
    sim: MassiveSimulator, pub: Publisher
) -> None:
    pub.start(sim, ["T.AAPL", "T.MSFT", "Q.AAPL"])
    up = pub.upstream()
    gw = await nats_gateway(up)
    root = pub.root
    a = Collector(tw_client(gw, "T.AAPL"))
    b = Collector(tw_client(gw))
    try:
        await a.client.start()
        await b.client.start()
        await until(lambda: len(wire(a, "T.AAPL")) >= 3, WITHIN, "AAPL trades")
        assert up.filter_subjects == [f"{root}.T.AAPL"]  # narrow: only what is subscribed
        consumers = up.stats()["consumers"]

        # widen: B adds T.MSFT; nothing of MSFT from before the change comes
        head = (await pub.stored(f"{root}.>"))[-1][0]
        await b.client.subscribe("T.MSFT")
        await until(lambda: len(wire(b, "T.MSFT")) >= 3, WITHIN, "MSFT trades on B")
        assert f"{root}.T.AAPL" not in up.filter_subjects or f"{root}.T.MSFT" in up.filter_subjects
        assert set(up.filter_subjects) in ({f"{root}.T.*"}, {f"{root}.T.AAPL", f"{root}.T.MSFT"})
        await b.client.subscribe("Q.AAPL")  # across prefixes
        await until(lambda: len(wire(b, "Q.AAPL")) >= 3, WITHIN, "AAPL quotes on B")
        assert set(up.filter_subjects) in (
            {f"{root}.*.*"},
            {f"{root}.T.AAPL", f"{root}.T.MSFT", f"{root}.Q.AAPL"},
        )

        # narrow again: B leaves everything
        await b.client.unsubscribe("T.MSFT", "Q.AAPL")
        await until(lambda: up.filter_subjects == [f"{root}.T.AAPL"], WITHIN, "the consumer narrowed again")
        had = len(wire(a, "T.AAPL"))
        await until(lambda: len(wire(a, "T.AAPL")) >= had + 3, WITHIN, "AAPL trades after the changes")
        assert up.stats()["consumers"] >= consumers + 3

        # A held T.AAPL throughout: every AAPL trade the stream holds, once, in order
        assert_contiguous(wire(a, "T.AAPL"), await pub.stored(f"{root}.T.AAPL"), "A's T.AAPL")
        seqs = assert_contiguous(wire(b, "T.MSFT"), await pub.stored(f"{root}.T.MSFT"), "B's T.MSFT")
        assert seqs[0] > head  # live: from the subscription on, not from the stream's past
        assert_contiguous(wire(b, "Q.AAPL"), await pub.stored(f"{root}.Q.AAPL"), "B's Q.AAPL")
        assert outside(a.channels_seen(), {"T.AAPL"}) == set()
    finally:
        await a.stop()
        await b.stop()
        await gw.aclose()


async def test_a_change_with_messages_in_flight_loses_and_repeats_nothing(pub: Publisher) -> None:
    """Driven directly, one message per batch and a tiny queue: the old consumer has delivered many
    messages not taken yet when the subscription changes; the new one must start after the last taken."""
    up = NatsUpstream(
        pub.url, "stocks", prefix=pub.prefix, stream=pub.stream, max_batch=1, queue_size=4, timeout=2.0
    )
    await up.start()
    batches = up.batches()
    taken: list[EquityTrade] = []

    async def take(n: int) -> None:
        async with asyncio.timeout(WITHIN):
            while len(taken) < n:
                taken.extend(e for e in await anext(batches) if isinstance(e, EquityTrade))

    async def one_by_one(events: list[Event]) -> None:
        for ev in events:  # one message each (a batch's events of one subject are one message)
            await pub.write([ev])

    def of(symbol: str) -> list[int]:
        return [e.size or 0 for e in taken if e.symbol == symbol]

    try:
        up.subscribe(["T.AAPL"])
        assert any(isinstance(e, Connected) for e in await anext(batches))  # the consumers are up
        assert up.filter_subjects == [f"{pub.root}.T.AAPL"]
        await one_by_one([trade(n, "AAPL") for n in range(1, 101)])
        await one_by_one([trade(n, "MSFT") for n in range(1, 6)])  # before MSFT is wanted: never seen
        await take(1)
        up.subscribe(["T.MSFT"])  # widen while 99 AAPL messages are in flight
        await take(3)  # the change is made between two batches
        await one_by_one([trade(n, "MSFT") for n in range(6, 9)])
        await take(100 + 3)
        assert of("AAPL") == list(range(1, 101)) and of("MSFT") == [6, 7, 8]
        await one_by_one([trade(n, "AAPL") for n in range(101, 151)])
        await take(104)
        up.unsubscribe(["T.MSFT"])  # narrow, again with messages in flight
        await take(106)
        up.subscribe(["T.*"])
        await take(108)
        await one_by_one([trade(n, "MSFT") for n in range(9, 11)])
        await take(100 + 50 + 3 + 2)
        assert of("AAPL") == list(range(1, 151)) and of("MSFT") == [6, 7, 8, 9, 10]
        assert up.stats()["consumers"] >= 4 and up.stats()["events"] == len(taken)
    finally:
        await up.close()
        await batches.aclose()


# ---------------------------------------------------------------------------- HA: epochs and failover


async def test_stale_epoch_messages_are_skipped_and_a_failover_is_a_status(pub: Publisher) -> None:
    up = pub.upstream()
    gw = await nats_gateway(up)
    client = tw_client(gw, "T.ZZZZ")
    got: list[Event] = []

    async def read() -> None:
        async for ev in client:
            if isinstance(ev, (EquityTrade, Status)):
                got.append(ev)

    def trades() -> list[int]:
        return [e.size or 0 for e in got if isinstance(e, EquityTrade)]

    def gaps() -> list[Status]:
        return [e for e in got if isinstance(e, Status) and e.status == "failover_gap"]

    old, new = pub.make(epoch=3), pub.make(epoch=4)
    await old.open()
    await new.open()
    await client.start()
    reader = asyncio.create_task(read())
    try:
        await until(lambda: up.connected and bool(gw.router.upstream), WITHIN, "the subscription upstream")
        await until(lambda: bool(up.filter_subjects), WITHIN, "the consumer")
        await pub.write([trade(1)], old)
        await until(lambda: trades() == [1], WITHIN, "the epoch-3 trade")
        gap = FailoverGap(
            epoch=4, holder="b@host:1", previous_epoch=3, previous_holder="a@host:2",
            gap_start=1_700_000_000.0, gap_end=1_700_000_002.5, backfilled=7,
        )  # fmt: skip
        await new.publish_one("failover._", "failover:4", [gap], [0])
        await until(lambda: len(gaps()) == 1, WITHIN, "the failover status")
        text = gaps()[0].message
        assert "epoch 3 to 4" in text and "(2.5 s)" in text and "7 bars" in text and "host" not in text
        await pub.write([trade(2)], old)  # the old leader's late output: stored after epoch 4
        await pub.write([trade(3)], new)
        await until(lambda: trades() == [1, 3], WITHIN, "the epoch-4 trade")
        await pub.write([trade(4)], old)
        await pub.write([trade(5)], new)
        await until(lambda: trades()[-1:] == [5], WITHIN, "the last trade")
        assert trades() == [1, 3, 5]
        assert up.stats()["stale_skipped"] == 2 and up.stats()["failover_gaps"] == 1
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await client.close()
        await old.close()
        await new.close()
        await gw.aclose()


# ---------------------------------------------------------------------------- NATS going away


@contextlib.contextmanager
def nats_server(root: Path) -> Iterator[tuple[int, Any]]:
    """A private JetStream server on a free port; ``restart()`` kills it and starts it again."""
    exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
    (port,) = free_ports(1)
    cmd = [exe, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(root)]
    procs: list[subprocess.Popen[bytes]] = []

    def spawn() -> None:
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_listening(port)

    class Control:
        def kill(self) -> None:
            procs[-1].terminate()
            procs[-1].wait(10)

        def start(self) -> None:
            spawn()

    spawn()
    try:
        yield port, Control()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)


async def test_a_nats_restart_is_a_disconnect_then_resumes_without_loss(
    sim: MassiveSimulator, tmp_path: Path
) -> None:
    with nats_server(tmp_path / "js") as (port, server):
        url = f"nats://127.0.0.1:{port}"
        pub = Publisher(url, uuid.uuid4().hex[:10])
        for _ in range(50):  # JetStream takes a moment after the port opens
            with contextlib.suppress(NatsUnavailable):
                await pub.sink.open()
                break
            await asyncio.sleep(0.1)
        pub.start(sim, ["T.AAPL"])
        up = pub.upstream()
        gw = await nats_gateway(up)
        a = Collector(tw_client(gw, "T.AAPL"))
        try:
            await a.client.start()
            await until(lambda: len(wire(a, "T.AAPL")) >= 3, WITHIN, "AAPL trades")
            assert gw.counters.upstream_connects == 1

            server.kill()
            await until(
                lambda: not up.connected and gw.counters.upstream_disconnects == 1, WITHIN, "Disconnected"
            )
            before = len(wire(a, "T.AAPL"))
            server.start()
            await until(
                lambda: up.connected and gw.counters.upstream_connects == 2, WITHIN, "Connected again"
            )
            await until(lambda: len(wire(a, "T.AAPL")) >= before + 5, WITHIN, "AAPL trades after the restart")
            assert up.stats()["reconnects"] >= 1
            # the client stayed connected to the gateway, and missed nothing the stream holds
            assert gw.counters.connections == 1
            assert_contiguous(
                wire(a, "T.AAPL"), await pub.stored(f"{pub.root}.T.AAPL"), "T.AAPL across the restart"
            )
        finally:
            await a.stop()
            await gw.aclose()
            await pub.stop()


async def test_a_cut_connection_resumes_after_the_last_message_taken(
    sim: MassiveSimulator, pub: Publisher
) -> None:
    """The gateway loses NATS while the stream keeps filling (the recorder still reaches it): back,
    it gets what was stored meanwhile, not only what comes after the reconnect."""
    target = urlsplit(URL)
    proxy = Proxy((target.hostname or "127.0.0.1", target.port or 4222))
    await proxy.start()
    pub.start(sim, ["T.AAPL"])
    up = pub.upstream(f"nats://127.0.0.1:{proxy.port}")
    gw = await nats_gateway(up)
    a = Collector(tw_client(gw, "T.AAPL"))
    try:
        await a.client.start()
        await until(lambda: len(wire(a, "T.AAPL")) >= 3, WITHIN, "AAPL trades")
        await proxy.cut()
        await until(lambda: gw.counters.upstream_disconnects == 1, WITHIN, "Disconnected")
        published = pub.sink.published
        await until(lambda: pub.sink.published >= published + 10, WITHIN, "trades stored meanwhile")
        await pub.drop_consumers()  # as when the gateway is away longer than their inactivity threshold
        meanwhile = (await pub.stored(f"{pub.root}.T.AAPL"))[-1][1]
        await proxy.start()
        await until(lambda: up.connected and gw.counters.upstream_connects == 2, WITHIN, "Connected again")
        await until(lambda: meanwhile in wire(a, "T.AAPL"), WITHIN, "the trades stored meanwhile")
        assert_contiguous(wire(a, "T.AAPL"), await pub.stored(f"{pub.root}.T.AAPL"), "T.AAPL across the cut")
    finally:
        await a.stop()
        await gw.aclose()
        await proxy.cut()


# ---------------------------------------------------------------------------- the wire


async def _frames(url: str, channels: str, into: list[bytes]) -> None:
    """A raw websocket client of a gateway: each data event's wire JSON, as sent."""
    async with connect(url) as ws:
        await ws.recv()
        await ws.send(json.dumps({"action": "auth", "params": "t"}))
        await ws.recv()
        await ws.send(json.dumps({"action": "subscribe", "params": channels}))
        async for frame in ws:
            for raw in msgspec.json.decode(frame, type=list[msgspec.Raw]):
                if b'"ev":"status"' not in bytes(raw):
                    into.append(bytes(raw))


async def test_the_same_events_make_the_same_client_frames_as_over_the_websocket(
    sim: MassiveSimulator, pub: Publisher
) -> None:
    channels = "T.AAPL,Q.AAPL,T.MSFT,A.MSFT"
    pub.start(sim, channels.split(","))
    direct = await Gateway(upstream_for(sim), auth_timeout=3.0, ping_interval=None).start()  # MassiveUpstream
    relayed = await nats_gateway(pub.upstream())
    over_ws: list[bytes] = []
    over_nats: list[bytes] = []
    tasks = [asyncio.create_task(_frames(direct.url, channels, over_ws))]
    try:
        await until(lambda: len(over_ws) >= 5, WITHIN, "events through the websocket gateway")
        tasks.append(asyncio.create_task(_frames(relayed.url, channels, over_nats)))

        def kinds() -> set[bytes]:
            return {e[:9] for e in over_nats}  # {"ev":"T" / {"ev":"Q" / {"ev":"A"

        await until(
            lambda: len(over_nats) >= 30 and len(kinds()) == 3, WITHIN, "events through the NATS gateway"
        )
        await until(
            lambda: set(over_nats) <= set(over_ws), WITHIN, "every NATS event's bytes among the websocket's"
        )
        # and in the same order
        ws_order = [e for e in over_ws if e in set(over_nats)]
        assert [e for e in over_nats if e.startswith(b'{"ev":"T","sym":"AAPL"')] == [
            e for e in ws_order if e.startswith(b'{"ev":"T","sym":"AAPL"')
        ]
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await relayed.aclose()
        await direct.aclose()


# ---------------------------------------------------------------------------- the CLI


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upstream", "nats://"], "--upstream must be nats://host"),
        (["--upstream", "nats://127.0.0.1:4222,ws://x"], "--upstream must be nats://host"),
        (["--upstream", "nats://127.0.0.1:99999"], "bad port"),
        (["--upstream", "nats://127.0.0.1:4222", "--nats-stream", "a b"], "--nats-stream must be"),
        (["--upstream", "nats://127.0.0.1:4222", "--ha-prefix", "md.>"], "--ha-prefix must be"),
        (["--sim", "--nats-stream", "S"], "go with a nats:// upstream"),
    ],
)
def test_nats_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickwire", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(),
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr, proc.stderr


def test_unreachable_nats_is_one_line_and_exit_1() -> None:
    (port,) = free_ports(1)  # nothing listens there
    proc = subprocess.run(
        [sys.executable, "-m", "tickwire", "gateway", "--upstream", f"nats://me:pw@127.0.0.1:{port}", "--port", "0"],
        capture_output=True, text=True, timeout=30, env=_env(),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not reachable" in lines[0] and "pw" not in proc.stderr, proc.stderr


async def test_a_missing_stream_is_one_line_and_exit_1(pub: Publisher) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tickwire", "gateway", "--upstream", pub.url, "--ha-prefix", pub.prefix,
        "--nats-stream", f"{pub.stream}_NONE", "--port", "0",
        stderr=asyncio.subprocess.PIPE, env=_env(),
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    assert proc.returncode == 1, text
    assert text.strip().count("\n") == 0 and f"has no stream {pub.stream}_NONE" in text, text


async def test_the_cli_serves_the_stream(sim: MassiveSimulator, pub: Publisher) -> None:
    pub.start(sim, ["T.MSFT", "T.AAPL"])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tickwire", "gateway", "--upstream", pub.url, "--ha-prefix", pub.prefix,
        "--nats-stream", pub.stream, "--port", "0", "--token", "s3cret",
        stderr=asyncio.subprocess.PIPE, env=_env(),
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        first = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert "gateway serving ws://127.0.0.1:" in first and f"stream {pub.stream}" in first, first
        url = first.split("gateway serving ", 1)[1].split(" ", 1)[0]
        async with connect(url, open_timeout=5) as ws:
            assert json.loads(await ws.recv())[0]["status"] == "connected"
            await ws.send(json.dumps({"action": "auth", "params": "s3cret"}))
            assert json.loads(await ws.recv())[0]["status"] == "auth_success"
            await ws.send(json.dumps({"action": "subscribe", "params": "T.MSFT"}))
            assert json.loads(await ws.recv()) == [
                {"ev": "status", "status": "success", "message": "subscribed to: T.MSFT"}
            ]
            trades: list[dict[str, Any]] = []
            async with asyncio.timeout(WITHIN):
                while len(trades) < 3:
                    trades += json.loads(await ws.recv())
            assert {(t["ev"], t["sym"]) for t in trades} == {("T", "MSFT")}
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()
    assert "gateway stopped" in err.decode() and "Traceback" not in err.decode()
