"""The NATS JetStream sink against the real server: several events per message, pipelined publishing
with every ack counted, ``Nats-Msg-Id`` from journal positions, the watermark and intent in a KV
bucket, consumer-side repeat and epoch filtering, bounded failures."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest
from nats.js.errors import NotFoundError

from tests.services import service_url, unavailable
from tests.sinks.feed import STOCKS, T0, batch, batches, hostile, journal_id, market, with_control
from tests.waiting import poll
from tickwire.events import DecodeError, Event
from tickwire.journal.position import position
from tickwire.massive.models import EquityTrade
from tickwire.sinks import NatsJetStreamSink, SinkBatch, consume_nats, sink_from_url
from tickwire.sinks.base import DataRefused
from tickwire.sinks.nats_jetstream import (
    EPOCH_HEADER,
    NatsMessage,
    StreamFilter,
    encode_payload,
    message_decoder,
)
from tickwire.sinks.nats_wire import NatsUnavailable, NatsWire, PublishError, headers
from tickwire.sinks.rows import read_payload, row_json, rows_payload

URL = service_url("TICKWIRE_NATS_URL")


class Proxy:
    """A TCP proxy to the NATS server that the test can cut (every connection closed) and restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        ur, uw = await asyncio.open_connection(*self.target)
        self._open += [w, uw]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(1 << 16):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(r, uw), pipe(ur, w))

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in self._open:
            w.close()
        self._open.clear()


class Nats:
    """A fresh prefix, stream and watermark bucket on the real server."""

    def __init__(self, nc: Any, tag: str) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.prefix = f"twt{tag}"
        self.stream = f"TWT_{tag.upper()}"
        self.bucket = f"twt_{tag}"
        self.decode = message_decoder(STOCKS)

    def make(self, url: str = URL, **kw: Any) -> NatsJetStreamSink:
        kw = {"connect_timeout": 1.0, "timeout": 2.0, **kw}
        return NatsJetStreamSink(
            url, STOCKS, prefix=self.prefix, stream=self.stream, bucket=self.bucket, **kw
        )

    async def raw(self) -> list[tuple[str, dict[str, str], bytes]]:
        """``(subject, headers, payload)`` of every message in the stream, in order."""
        try:
            info = await self.js.stream_info(self.stream)
        except NotFoundError:
            return []
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await self.js.get_msg(self.stream, seq)
            out.append((msg.subject, dict(msg.headers or {}), msg.data or b""))
        return out

    async def messages(self) -> list[NatsMessage]:
        return [self.decode(*m) for m in await self.raw()]

    async def ids(self) -> list[str]:
        """``<journal>:<position>`` of every event in the stream, in stream order (repeats kept)."""
        return [f"{m.journal}:{p}" for m in await self.messages() for p in m.positions]

    async def forget_watermark(self, journal: str) -> None:
        """What a crash between the last ack and the watermark write leaves: no watermark."""
        await self.js.purge_stream(f"KV_{self.bucket}")

    async def kv(self, journal: str) -> list[str]:
        kv = await self.js.key_value(self.bucket)  # a plain KV bucket any NATS client reads
        return str((await kv.get(f"{self.stream}.{journal}")).value.decode()).split()

    async def set_kv(self, journal: str, value: str) -> None:
        kv = await self.js.key_value(self.bucket)
        await kv.put(f"{self.stream}.{journal}", value.encode())


@pytest.fixture
async def nt() -> AsyncIterator[Nats]:
    try:
        # max_reconnect_attempts=0 would retry a dead server for ever (nats.py#645): 1 fails fast
        nc = await nats.connect(URL, connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=1)
    except Exception as exc:
        unavailable("NATS", exc)
    n = Nats(nc, uuid.uuid4().hex[:10])
    yield n
    for name in (n.stream, f"KV_{n.bucket}"):
        with contextlib.suppress(NotFoundError):
            await n.js.delete_stream(name)
    await nc.close()


def ids_of(journal: str, todo: list[SinkBatch]) -> list[str]:
    return [f"{journal}:{p}" for b in todo for p in b.positions]


def same(a: list[str], b: list[str]) -> bool:
    """The same events, each as often (messages of a batch come subject by subject)."""
    return sorted(a) == sorted(b)


async def fill(sink: NatsJetStreamSink, todo: list[SinkBatch]) -> None:
    await sink.open()
    try:
        for b in todo:
            await sink.write(b)
    finally:
        await sink.close()


async def test_watermark_round_trip(nt: Nats) -> None:
    j, other = journal_id(), journal_id()
    todo = batches(j, 40, 10)
    sink = nt.make()
    await sink.open()
    assert await sink.watermark(j) == 0
    for b in todo:
        await sink.write(b)
    assert await sink.watermark(j) == todo[-1].end and await sink.watermark(other) == 0
    await sink.close()
    stored = await nt.kv(j)
    assert int(stored[0]) == todo[-1].end and len(stored) == 2  # and the stream's creation time
    again = nt.make()
    await again.open()
    assert await again.watermark(j) == todo[-1].end
    await again.close()
    assert same(await nt.ids(), ids_of(j, todo))
    assert {m.subject for m in await nt.messages()} == {
        f"{nt.prefix}.massive.stocks.T.AAPL",
        f"{nt.prefix}.massive.stocks.Q.MSFT",
    }


async def test_the_message_layout_one_subject_per_message_ids_from_positions(nt: Nats) -> None:
    j = journal_id()
    b = batch(j, 0, market(25))
    sink = nt.make(max_events=4)
    await fill(sink, [b])
    raw = await nt.raw()
    assert sink.published == 25 and sink.messages == len(raw) == 5 + 2  # 17 trades, 8 quotes
    by_pos = dict(zip(b.positions, b.events, strict=True))
    for subject, hdrs, payload in raw:
        body = msgspec.json.decode(payload)
        assert set(body) == {"pos", "table", "columns", "rows"} and 1 <= len(body["pos"]) <= 4
        pos = body["pos"]
        assert hdrs["Nats-Msg-Id"] == f"{j}:{pos[0]}-{pos[-1]}" and EPOCH_HEADER not in hdrs
        evs = [by_pos[p] for p in pos]
        spec = STOCKS.table_for(type(evs[0]))
        assert spec is not None and body["table"] == spec.name and body["columns"] == spec.column_names
        assert payload == encode_payload(spec, evs, pos)  # the one encoding function
        assert [dict(zip(body["columns"], r, strict=True)) for r in body["rows"]] == [
            msgspec.json.decode(r) for r in row_json(spec, evs)
        ]  # the normalized rows every sink writes (readable names, ts in ns)
        assert read_payload(payload) == read_payload(rows_payload(spec, evs))  # rows.py's block
        assert {sink.subject(e) for e in evs} == {subject}
        msg = nt.decode(subject, hdrs, payload)
        assert (msg.journal, msg.epoch, msg.positions, msg.events) == (j, 0, pos, evs)
    bad = nt.decode("x", {}, b'{"pos":[1],"table":"","events":[{"ev":"nope"}]}')
    assert isinstance(bad.events[0], DecodeError) and bad.positions == []
    worse = nt.decode("x", {}, b'{"pos":[1],"table":"nope","columns":["ev"],"rows":[["T"]]}')
    assert isinstance(worse.events[0], DecodeError)


async def test_messages_stay_under_the_byte_limit(nt: Nats) -> None:
    j = journal_id()
    b = batch(j, 0, market(300))
    sink = nt.make(max_bytes=2000)
    await fill(sink, [b])
    raw = await nt.raw()
    sizes = [len(p) + len(headers(*((k.encode(), v.encode()) for k, v in h.items()))) for _, h, p in raw]
    assert max(sizes) <= 2000 and max(sizes) > 1000 and len(raw) > 10
    assert same(await nt.ids(), ids_of(j, [b]))


async def test_the_same_batches_twice_publish_nothing_new(nt: Nats) -> None:
    j = journal_id()
    todo = batches(j, 30, 7)
    await fill(nt.make(), todo)
    first = await nt.raw()
    again = nt.make()
    await fill(again, todo)  # a new sink object: skipped by the watermark
    assert again.published == 0
    # a crash after the acks and before the watermark: the re-publish is inside the duplicate window
    await nt.forget_watermark(j)
    third = nt.make()
    await fill(third, todo)
    assert third.published == 30
    assert await nt.raw() == first and len(first) == 2 * len(todo)
    assert await third.watermark(j) == todo[-1].end


async def test_a_crash_after_the_intent_republishes_the_same_messages(nt: Nats) -> None:
    j = journal_id()
    evs = market(60)
    await fill(nt.make(max_events=8), [batch(j, 0, evs[:20])])
    created = (await nt.kv(j))[1]
    first = await nt.raw()
    # the crash came after the acks of [0, 20) and before the watermark: the intent is left
    end = batch(j, 0, evs[:20]).end
    await nt.set_kv(j, f"0 {created} {end}")
    sink = nt.make(max_events=8)
    await fill(sink, [batch(j, 0, evs)])  # the restart reads a longer batch from the journal
    raw = await nt.raw()
    assert raw[: len(first)] == first
    ids = [h["Nats-Msg-Id"] for _, h, _ in raw]
    assert len(ids) == len(set(ids))  # the re-published part was dropped whole by JetStream
    events = await nt.ids()
    assert len(events) == len(set(events)) and same(events, ids_of(j, [batch(j, 0, evs)]))
    assert await nt.kv(j) == [str(batch(j, 0, evs).end), created]


async def test_a_repeat_chunked_differently_reaches_consumers_once(nt: Nats) -> None:
    j = journal_id()
    evs = market(30)
    await fill(nt.make(), [batch(j, 0, evs[:20])])
    await nt.forget_watermark(j)  # no watermark and no intent: a restart after the window, say
    await fill(nt.make(), [batch(j, 0, evs)])
    assert len(await nt.ids()) == 50  # the stream holds the first 20 twice ...
    got: list[Event] = []

    async def read() -> None:
        async for ev in consume_nats(URL, STOCKS, prefix=nt.prefix, stream=nt.stream):
            got.append(ev)
            if len(got) == len(evs):
                return

    await asyncio.wait_for(read(), 10)
    assert sorted(got, key=evs.index) == evs  # ... a consumer sees each once


def _msg(journal: str, epoch: int, subject: str, pos: list[int]) -> NatsMessage:
    evs: list[Event] = market(len(pos))
    return NatsMessage(subject, journal, epoch, pos, evs)


def test_stream_filter_drops_repeats_and_a_fenced_leaders_messages() -> None:
    f = StreamFilter()
    assert len(f.keep(_msg("j1", 1, "a", [1, 2, 3]))) == 3
    assert len(f.keep(_msg("j1", 1, "b", [2, 4]))) == 2  # another subject: its own positions
    assert len(f.keep(_msg("j1", 1, "a", [2, 3, 4, 5]))) == 2  # 4 and 5 only
    assert len(f.keep(_msg("j2", 2, "a", [1]))) == 1  # a new leader (epoch 2), its own journal
    assert f.keep(_msg("j1", 1, "a", [9])) == []  # the old leader, late: fenced off
    assert (f.epoch, f.dropped) == (2, 3)


async def test_the_epoch_is_stamped_and_a_fence_stops_publishing(nt: Nats) -> None:
    j = journal_id()
    lease = {"epoch": 7}

    def epoch() -> int:
        if lease["epoch"] < 0:
            raise NatsUnavailable("the lease is lost")
        return lease["epoch"]

    sink = nt.make(epoch=epoch)
    todo = batches(j, 20, 10)
    await sink.open()
    await sink.write(todo[0])
    lease["epoch"] = -1
    with pytest.raises(NatsUnavailable) as err:
        await sink.write(todo[1])
    assert not sink.is_data_error(err.value)
    await sink.close()
    msgs = await nt.messages()
    assert {m.epoch for m in msgs} == {7} and same(await nt.ids(), ids_of(j, todo[:1]))
    assert all(h[EPOCH_HEADER] == "7" for _, h, _ in await nt.raw())


async def test_a_batch_straddling_the_watermark_publishes_only_the_new_part(nt: Nats) -> None:
    j = journal_id()
    evs = market(20)
    await fill(nt.make(), [batch(j, 0, evs[:10])])
    sink = nt.make()
    await fill(sink, [batch(j, 5, evs[5:20])])  # 5 old events, 10 new ones
    assert sink.published == 10
    assert same(await nt.ids(), ids_of(j, [batch(j, 0, evs)]))


async def test_an_empty_batch_moves_the_watermark_and_control_events_are_not_published(nt: Nats) -> None:
    j = journal_id()
    sink = nt.make()
    await sink.open()
    await sink.write(with_control(j, 0, market(4)))
    await sink.write(SinkBatch(j, position(2), position(100)))
    await sink.close()
    again = nt.make()
    await again.open()
    assert await again.watermark(j) == position(100)
    await again.close()
    assert len(await nt.ids()) == 4


async def test_restart_resumes_from_the_watermark(nt: Nats) -> None:
    j = journal_id()
    todo = batches(j, 40, 10)
    await fill(nt.make(), todo[:2])
    sink = nt.make()
    await sink.open()
    assert await sink.watermark(j) == todo[1].end
    for b in todo:
        await sink.write(b)
    await sink.close()
    assert sink.published == 20
    assert same(await nt.ids(), ids_of(j, todo))


async def test_a_stream_deleted_and_created_again_is_filled_again(nt: Nats) -> None:
    j = journal_id()
    todo = batches(j, 12, 6)
    await fill(nt.make(), todo)
    await nt.js.delete_stream(nt.stream)  # emptied: the old watermark must not skip the journal
    sink = nt.make()
    await sink.open()
    assert await sink.watermark(j) == 0
    for b in todo:
        await sink.write(b)
    await sink.close()
    assert same(await nt.ids(), ids_of(j, todo))


async def test_more_than_in_flight_messages_are_all_acked(nt: Nats) -> None:
    j = journal_id()
    todo = batches(j, 3000, 3000)
    sink = nt.make(max_in_flight=600, max_events=1)
    await fill(sink, todo)
    assert sink.messages == 3000
    assert same(await nt.ids(), ids_of(j, todo))


async def test_oversize_event_is_a_data_error_and_the_next_batch_goes_through(nt: Nats) -> None:
    j = journal_id()
    sink = nt.make()
    await sink.open()
    assert sink.max_message > 0
    n = 0
    refused = []
    for name, ev in hostile().items():
        await sink.write(batch(j, n, market(2, n)))
        n += 2
        one = batch(j, n, [*market(1, n), ev])  # a good event first: nothing of the batch goes out
        try:
            await sink.write(one)
        except Exception as exc:
            assert sink.is_data_error(exc) and isinstance(exc, DataRefused), name
            assert "max_payload" in str(exc) and "\n" not in str(exc)
            refused.append(name)
            assert await sink.watermark(j) == one.start
            await sink.write(batch(j, n, market(1, n)))  # the runner's split: the good half
            await sink.write(SinkBatch(j, one.positions[1], one.end))  # and the dead letter
        n += 2
    await sink.write(batch(j, n, market(2, n)))
    await sink.close()
    assert refused == ["2 MB string"]
    assert len(await nt.ids()) == 4 * 3 + 2 + 3


async def test_a_message_jetstream_refuses_for_its_size_is_a_data_error(nt: Nats) -> None:
    j = journal_id()
    sink = nt.make()
    await sink.open()
    await sink.write(batch(j, 0, market(3)))
    info = await nt.js.stream_info(nt.stream)
    info.config.max_msg_size = 600  # changed under the running sink: only the server knows
    await nt.js.update_stream(info.config)
    big = EquityTrade(symbol="X" * 600, price=1.0, size=1, timestamp=T0, sequence_number=9)
    three = batch(j, 3, [*market(1, 3), big, *market(1, 5)])
    with pytest.raises(PublishError, match="#1") as err:
        await sink.write(three)  # messages: AAPL (#0), X... (#1), MSFT (#2)
    assert sink.is_data_error(err.value) and list(err.value.failed) == [1]
    assert await sink.watermark(j) == batch(j, 0, market(3)).end
    first, rest = three.split(1)  # what the runner does: split, dead-letter the big one, go on
    big_one, last = rest.split(1)
    await sink.write(first)
    await sink.write(SinkBatch(j, big_one.start, big_one.end))
    await sink.write(last)  # published before the refusal: a duplicate JetStream drops
    await sink.close()
    assert same(  # each once: the refused attempt's other messages had the ids of the retries
        await nt.ids(),
        [f"{j}:{p}" for p in [*batch(j, 0, market(3)).positions, *first.positions, *last.positions]],
    )


async def _raises_within(call: Callable[[], Awaitable[Any]], seconds: float) -> BaseException:
    start = time.monotonic()
    with pytest.raises(Exception) as err:
        await call()
    assert time.monotonic() - start < seconds, f"took {time.monotonic() - start:.1f} s"
    return err.value


async def test_server_down_or_silent_raises_within_a_bounded_time(nt: Nats) -> None:
    down = nt.make("nats://127.0.0.1:1")
    exc = await _raises_within(down.open, 3.0)
    assert isinstance(exc, NatsUnavailable) and not down.is_data_error(exc)
    exc = await _raises_within(lambda: down.write(batch(journal_id(), 0, market(3))), 1.0)
    assert not down.is_data_error(exc)
    await down.close()

    async def silent(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)  # accepts, never sends INFO
        w.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        hung = nt.make(f"nats://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        exc = await _raises_within(hung.open, 3.0)
        assert isinstance(exc, NatsUnavailable) and "no answer within 1 s" in str(exc)
        await hung.close()
    finally:
        server.close()


async def test_a_server_that_stops_acking_fails_the_batch_within_the_timeout() -> None:
    async def no_acks(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b'INFO {"headers":true,"max_payload":1048576}\r\n')
        while line := await r.readline():
            if line.startswith(b"PING"):
                w.write(b"PONG\r\n")  # answers pings, takes messages, never acknowledges them

    server = await asyncio.start_server(no_acks, "127.0.0.1", 0)
    try:
        wire = NatsWire(f"nats://127.0.0.1:{server.sockets[0].getsockname()[1]}", timeout=1.0)
        await wire.connect()
        await wire.ping()
        msg = (b"a.b", headers((b"Nats-Msg-Id", b"j:1-1")), b"{}")
        exc = await _raises_within(lambda: wire.publish_acked([msg] * 10), 3.0)
        assert isinstance(exc, NatsUnavailable) and "10 outstanding" in str(exc)
        await wire.close()
    finally:
        server.close()


async def test_text_the_server_sends_reaches_the_error_escaped() -> None:
    async def hostile_refusal(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b'INFO {"headers":true,"max_payload":1048576}\r\n')
        await r.readline()  # CONNECT ... PING
        w.write(b"-ERR 'Authorization Violation\x1b[2J\x07\xe2\x80\xae'\r\n")
        await w.drain()

    server = await asyncio.start_server(hostile_refusal, "127.0.0.1", 0)
    try:
        sink = NatsJetStreamSink(
            f"nats://127.0.0.1:{server.sockets[0].getsockname()[1]}", STOCKS, connect_timeout=2, timeout=2
        )
        exc = await _raises_within(sink.open, 3.0)
        assert "Authorization Violation\\x1b[2J\\x07\\u202e" in str(exc), str(exc)
        assert not any(c in str(exc) for c in "\x1b\x07\u202e\n")
        await sink.close()
    finally:
        server.close()


async def test_a_connection_lost_mid_run_fails_fast_and_the_reopened_sink_goes_on(nt: Nats) -> None:
    host, port = URL.split("//", 1)[1].rsplit(":", 1)
    proxy = Proxy((host, int(port)))
    await proxy.start()
    j = journal_id()
    todo = batches(j, 60, 20)
    sink = nt.make(f"nats://127.0.0.1:{proxy.port}")
    await sink.open()
    await sink.write(todo[0])
    await proxy.cut()
    exc = await _raises_within(lambda: sink.write(todo[1]), 2.5)
    assert isinstance(exc, NatsUnavailable) and not sink.is_data_error(exc)
    exc = await _raises_within(sink.open, 3.0)  # still down: bounded again
    await proxy.start()  # back on the same port
    await sink.open()
    for b in todo:
        await sink.write(b)
    await sink.close()
    await proxy.cut()
    assert same(await nt.ids(), ids_of(j, todo))


async def test_consume_nats_reads_back_what_the_sink_published(nt: Nats) -> None:
    j = journal_id()
    evs = market(12)
    await fill(nt.make(), [batch(j, 0, evs)])
    got: list[Event] = []

    async def read() -> None:
        async for ev in consume_nats(URL, STOCKS, prefix=nt.prefix, stream=nt.stream):
            got.append(ev)
            if len(got) == len(evs):
                return

    await asyncio.wait_for(read(), 10)
    assert sorted(got, key=evs.index) == evs  # every event once, in journal order per subject
    assert [e for e in got if isinstance(e, EquityTrade)] == [e for e in evs if isinstance(e, EquityTrade)]


async def test_consume_nats_fails_fast_on_a_dead_server_and_on_a_lost_connection(nt: Nats) -> None:
    async def first() -> Event:
        async for ev in consume_nats("nats://u:pw-x@127.0.0.1:1", STOCKS, connect_timeout=1):
            return ev
        raise AssertionError("no event")

    exc = await _raises_within(first, 3.0)  # nats-py's own loop with attempts=0: never returns
    assert isinstance(exc, NatsUnavailable) and "pw-x" not in str(exc)

    j = journal_id()
    await fill(nt.make(), [batch(j, 0, market(3))])
    host, port = URL.split("//", 1)[1].rsplit(":", 1)
    proxy = Proxy((host, int(port)))
    await proxy.start()
    got: list[Event] = []

    async def read() -> None:
        url = f"nats://127.0.0.1:{proxy.port}"
        async for ev in consume_nats(url, STOCKS, prefix=nt.prefix, stream=nt.stream, connect_timeout=1):
            got.append(ev)
            if len(got) == 3:
                await proxy.cut()

    exc = await _raises_within(lambda: asyncio.wait_for(read(), 10), 5.0)
    assert isinstance(exc, NatsUnavailable) and "lost" in str(exc), exc  # not a quiet end of the stream
    assert len(got) == 3


def test_the_url_and_the_names() -> None:
    sink = sink_from_url("nats://tok@127.0.0.1:4222?stream=S1&prefix=zz", STOCKS)
    assert isinstance(sink, NatsJetStreamSink) and "tok" not in sink.name
    assert (sink.stream, sink.prefix, sink.duplicate_window) == ("S1", "zz", 600.0)
    assert NatsJetStreamSink("nats://h", STOCKS).stream == "MD_MASSIVE_STOCKS"


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[int]:
    """A second nats-server (JetStream on) that wants user ``u``, password ``s3cret``."""
    exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            exe,
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "--user",
            "u",
            "--pass",
            "s3cret",
            "-js",
            "-sd",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        poll(listening, bool, 10.0, 0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


async def test_credentials_from_the_url_and_a_refusal_that_does_not_show_them(auth_server: int) -> None:
    good = NatsJetStreamSink(f"nats://u:s3cret@127.0.0.1:{auth_server}", STOCKS, connect_timeout=2, timeout=5)
    await good.open()
    j = journal_id()
    await good.write(batch(j, 0, market(3)))
    assert await good.watermark(j) == batch(j, 0, market(3)).end
    await good.close()
    bad = NatsJetStreamSink(
        f"nats://u:wrong-pw@127.0.0.1:{auth_server}", STOCKS, connect_timeout=2, timeout=5
    )
    exc = await _raises_within(bad.open, 3.0)
    assert "Authorization" in str(exc) and "wrong-pw" not in str(exc) and "\n" not in str(exc)
    assert not bad.is_data_error(exc)
    await bad.close()
