"""The Redis Streams sink against the real Redis: entry ids from journal positions are the
de-duplication (no per-event keys), the watermark moves with the entries, failures are bounded."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest
import redis.asyncio as aioredis
from redis import exceptions as rex

from tests.services import service_url, unavailable
from tests.sinks.feed import (
    STOCKS,
    T0,
    batch,
    batches,
    hostile,
    journal_id,
    market,
    positions_of,
    with_control,
)
from tickwire.journal.position import position
from tickwire.massive.models import EquityTrade
from tickwire.sinks import RedisStreamSink, SinkBatch, sink_from_url
from tickwire.sinks.base import DataRefused
from tickwire.sinks.redis_streams import StreamTaken, entry_id, entry_position
from tickwire.sinks.rows import event_from_row

URL = service_url("TICKWIRE_REDIS_URL")


class Redis:
    """A fresh key prefix on the real Redis: ``make()`` a sink on it, ``entries()`` read back."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def make(self, **kw: Any) -> RedisStreamSink:
        return RedisStreamSink(URL, STOCKS, prefix=self.prefix, connect_timeout=2, timeout=5, **kw)

    async def streams(self) -> list[str]:
        keys = [k.decode() async for k in self.client.scan_iter(f"{self.prefix}:massive:*")]
        return sorted(keys)

    async def entries(self) -> list[tuple[str, int, bytes]]:
        """``(journal, position, row JSON)`` of every entry (the wire JSON of ``wire`` sinks), in
        position order."""
        out = []
        for key in await self.streams():
            for eid, fields in await self.client.xrange(key):
                data = fields.get(b"row", fields.get(b"ev"))
                out.append((fields[b"_journal"].decode(), entry_position(eid), data))
        return sorted(out, key=lambda e: (e[0], e[1]))


@pytest.fixture
async def rd() -> AsyncIterator[Redis]:
    client = aioredis.from_url(URL, socket_connect_timeout=3)
    try:
        await client.ping()
    except (rex.ConnectionError, OSError) as exc:
        unavailable("Redis", exc)
    prefix = f"twt{uuid.uuid4().hex[:10]}"
    yield Redis(client, prefix)
    keys = [k async for k in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def fill(sink: RedisStreamSink, todo: list[SinkBatch]) -> None:
    await sink.open()
    try:
        for b in todo:
            await sink.write(b)
    finally:
        await sink.close()


def test_entry_ids_are_positions() -> None:
    for pos in (0, position(0, 7), position(41, 0), position(2**40, 2**20 - 1)):
        assert entry_position(entry_id(pos)) == pos
    assert entry_id(position(0, 0)) == "1-0" and entry_id(position(9, 3)) == "10-3"


async def test_watermark_round_trip(rd: Redis) -> None:
    j, other = journal_id(), journal_id()
    todo = batches(j, 40, 10)
    sink = rd.make()
    await sink.open()
    assert await sink.watermark(j) == 0
    for b in todo:
        await sink.write(b)
    assert await sink.watermark(j) == todo[-1].end and await sink.watermark(other) == 0
    await sink.close()
    assert int(await rd.client.get(f"{rd.prefix}:watermark:{j}")) == todo[-1].end
    again = rd.make()  # a restart: the watermark comes from Redis
    await again.open()
    assert await again.watermark(j) == todo[-1].end
    await again.close()
    got = await rd.entries()
    assert [p for _, p, _ in got] == [p for b in todo for p in b.positions]
    assert {jj for jj, _, _ in got} == {j}
    assert await rd.streams() == [f"{rd.prefix}:massive:stocks:Q", f"{rd.prefix}:massive:stocks:T"]
    # no key per event: the streams and the watermark are all there is
    assert len([k async for k in rd.client.scan_iter(f"{rd.prefix}:*")]) == 3


async def test_the_same_batches_twice_add_nothing_even_without_the_watermark(rd: Redis) -> None:
    j = journal_id()
    todo = batches(j, 30, 7)
    await fill(rd.make(), todo)
    first = await rd.entries()
    await fill(rd.make(), todo)  # a new sink object: skipped by the watermark
    await rd.client.delete(f"{rd.prefix}:watermark:{j}")  # lost: the ids still refuse every event
    again = rd.make()
    await fill(again, todo)
    assert again.added == 0 and again.already_there == 30
    assert await rd.entries() == first and len(first) == 30
    assert int(await rd.client.get(f"{rd.prefix}:watermark:{j}")) == todo[-1].end


async def test_a_batch_straddling_the_watermark_writes_only_the_new_part(rd: Redis) -> None:
    j = journal_id()
    evs = market(20)
    await fill(rd.make(), [batch(j, 0, evs[:10])])
    sink = rd.make()
    await fill(sink, [batch(j, 5, evs[5:20])])  # 5 old events, 10 new ones
    assert sink.added == 10 and sink.already_there == 0  # the old ones never reached Redis
    got = await rd.entries()
    assert len(got) == 20 and len({p for _, p, _ in got}) == 20


async def test_an_empty_batch_moves_the_watermark_and_control_events_are_not_stored(rd: Redis) -> None:
    j = journal_id()
    sink = rd.make()
    await sink.open()
    await sink.write(with_control(j, 0, market(4)))
    await sink.write(SinkBatch(j, position(2), position(100)))
    await sink.close()
    again = rd.make()
    await again.open()
    assert await again.watermark(j) == position(100)
    await again.close()
    assert len(await rd.entries()) == 4


async def test_restart_resumes_from_the_watermark(rd: Redis) -> None:
    j = journal_id()
    todo = batches(j, 40, 10)
    await fill(rd.make(), todo[:2])
    sink = rd.make()
    await sink.open()
    wm = await sink.watermark(j)
    assert wm == todo[1].end
    for b in todo:  # the runner hands out from the watermark; old batches are skipped anyway
        await sink.write(b)
    await sink.close()
    assert sink.added == 20 and sink.already_there == 0
    assert [p for _, p, _ in await rd.entries()] == [p for b in todo for p in b.positions]


async def test_a_batch_over_many_chunks_sets_the_watermark_once_all_are_in(rd: Redis) -> None:
    j = journal_id()
    todo = batches(j, 50, 50)
    sink = rd.make(chunk=7, per_symbol=True)
    await fill(sink, todo)
    assert sink.added == 50 and len(await rd.entries()) == 50
    # a chunk failing for the server's reason (a key of another type) leaves the watermark behind
    j2 = journal_id()
    rd2 = Redis(rd.client, rd.prefix + "b")
    await rd.client.set(f"{rd2.prefix}:massive:stocks:T:ZZZ", "not a stream")
    evs = [*market(20), EquityTrade(symbol="ZZZ", price=1.0, size=1, timestamp=T0, sequence_number=1)]
    bad = rd2.make(chunk=7, per_symbol=True)
    await bad.open()
    with pytest.raises(rex.ResponseError, match="WRONGTYPE") as err:
        await bad.write(batch(j2, 0, evs))
    assert not bad.is_data_error(err.value)
    assert await rd.client.get(f"{rd2.prefix}:watermark:{j2}") is None
    await rd.client.delete(f"{rd2.prefix}:massive:stocks:T:ZZZ")
    await bad.write(batch(j2, 0, evs))  # the retry: what went in before is already there
    await bad.close()
    assert bad.already_there == 20  # all but ZZZ went in before the failure
    assert int(await rd.client.get(f"{rd2.prefix}:watermark:{j2}")) == batch(j2, 0, evs).end
    assert len(await rd2.entries()) == 21
    await rd.client.delete(*await rd2.streams(), f"{rd2.prefix}:watermark:{j2}")


async def test_a_stream_holding_another_journal_is_not_silently_swallowed(rd: Redis) -> None:
    old, new = journal_id(), journal_id()
    await fill(rd.make(), batches(old, 30, 10))
    sink = rd.make()
    await sink.open()
    with pytest.raises(StreamTaken, match=f"{rd.prefix}:massive:stocks:.*journal {old}.*prefix=") as err:
        await sink.write(batch(new, 0, market(6)))
    assert not sink.is_data_error(err.value)
    assert await sink.watermark(new) == 0 and await rd.client.get(f"{rd.prefix}:watermark:{new}") is None
    await sink.close()
    # the old sink's entries (time-based ids, no _journal) are named as such
    legacy = f"{rd.prefix}legacy"
    await rd.client.xadd(f"{legacy}:massive:stocks:T", {"ev": b"{}", "id": b"x"})
    sink = RedisStreamSink(URL, STOCKS, prefix=legacy)
    await sink.open()
    try:
        with pytest.raises(StreamTaken, match="no journal"):
            await sink.write(batch(new, 0, market(1)))
    finally:
        await sink.close()
        await rd.client.delete(f"{legacy}:massive:stocks:T")


async def test_oversize_event_is_a_data_error_and_the_next_batch_goes_through(rd: Redis) -> None:
    j = journal_id()
    sink = rd.make(max_entry_bytes=100_000)
    await sink.open()
    n = 0
    refused = []
    for name, ev in hostile().items():
        await sink.write(batch(j, n, market(2, n)))
        n += 2
        one = batch(j, n, [ev])
        try:
            await sink.write(one)
        except Exception as exc:
            assert sink.is_data_error(exc) and isinstance(exc, DataRefused), name
            assert "max_entry_bytes" in str(exc) and "\n" not in str(exc)
            refused.append(name)
            assert await sink.watermark(j) == one.start  # nothing of it, not even the watermark
            await sink.write(SinkBatch(j, one.start, one.end))  # dead-lettered by the runner
        n += 1
    await sink.write(batch(j, n, market(2, n)))
    await sink.close()
    assert refused == ["2 MB string"]  # JSON holds 2**63, a NUL and any time
    assert len(await rd.entries()) == 10 + 3


def test_what_is_a_data_error() -> None:
    sink = RedisStreamSink("redis://127.0.0.1:1/0", STOCKS)
    assert sink.is_data_error(DataRefused("too big")) and sink.is_data_error(rex.DataError("bad arg"))
    assert sink.is_data_error(rex.ResponseError("ERR string exceeds maximum allowed size"))
    for not_data in (
        rex.ConnectionError("refused"),
        rex.TimeoutError("timed out"),
        rex.ResponseError("OOM command not allowed when used memory > 'maxmemory'"),
        rex.ResponseError("READONLY You can't write against a read only replica."),
        rex.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        rex.BusyLoadingError("LOADING Redis is loading the dataset in memory"),
        StreamTaken("taken"),
        ConnectionRefusedError(),
    ):
        assert not sink.is_data_error(not_data), not_data


async def _raises_within(call: Callable[[], Any], seconds: float) -> BaseException:
    start = time.monotonic()
    with pytest.raises(Exception) as err:
        await call()
    assert time.monotonic() - start < seconds
    return err.value


async def test_server_down_or_silent_raises_within_a_bounded_time() -> None:
    refused = RedisStreamSink("redis://127.0.0.1:1/0", STOCKS, connect_timeout=1, timeout=1)
    exc = await _raises_within(refused.open, 3.0)
    assert not refused.is_data_error(exc)
    await refused.close()

    silent_clients: list[asyncio.StreamWriter] = []

    async def silent(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        silent_clients.append(w)  # accepts, never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        hung = RedisStreamSink(f"redis://127.0.0.1:{port}/0", STOCKS, connect_timeout=1, timeout=1)
        exc = await _raises_within(hung.open, 4.0)
        assert not hung.is_data_error(exc)
        await hung.close()
        write = RedisStreamSink(f"redis://127.0.0.1:{port}/0", STOCKS, connect_timeout=1, timeout=1)
        exc = await _raises_within(lambda: write.write(batch(journal_id(), 0, market(3))), 4.0)
        assert not write.is_data_error(exc)  # not open: a connection error too
    finally:
        for w in silent_clients:
            w.close()
        server.close()


def test_the_url_sets_prefix_per_symbol_and_maxlen() -> None:
    sink = sink_from_url("redis://:pw@127.0.0.1:6379/0?per=symbol&maxlen=500&prefix=zz", STOCKS)
    assert isinstance(sink, RedisStreamSink)
    assert (sink.prefix, sink.per_symbol, sink.maxlen) == ("zz", True, 500) and "pw" not in sink.name
    assert sink.watermark_key("0123456789abcdef") == "zz:watermark:0123456789abcdef"


async def test_entries_hold_the_normalized_row_and_the_wire_form_only_when_asked(rd: Redis) -> None:
    evs = market(6)
    j = journal_id()
    await fill(rd.make(), [batch(j, 0, evs)])
    rows = [msgspec.json.decode(data) for _, _, data in await rd.entries()]
    by_pos = dict(zip(positions_of(0, 6), evs, strict=True))
    for (_, pos, data), row in zip(await rd.entries(), rows, strict=True):
        ev = by_pos[pos]
        spec = STOCKS.table_for(type(ev))
        assert spec is not None and list(row) == spec.column_names
        assert row["symbol"] == ev.symbol and row["ts"] == ev.timestamp * 1_000_000
        assert event_from_row(spec, data) == ev
    wire = f"{rd.prefix}:w"  # under the fixture's prefix: cleaned up with it
    await fill(RedisStreamSink(URL, STOCKS, prefix=wire, wire=True), [batch(j, 0, evs)])
    keys = [k async for k in rd.client.scan_iter(f"{wire}:massive:*")]
    raw = [fields for key in keys for _, fields in await rd.client.xrange(key)]
    assert len(raw) == 6 and all(b"row" not in f and b'"sym"' in f[b"ev"] for f in raw)
    assert sink_from_url(f"{URL}?wire=1", STOCKS).wire  # type: ignore[attr-defined]
