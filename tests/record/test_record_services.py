"""The recorder against the simulator and the real PostgreSQL, Redis and NATS: what is written equals
what was streamed (count and content), re-delivery adds nothing, shutdown flushes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.massive.client.conftest import fast_client
from tests.record.service_sinks import cleanup_sinks, reachable_sinks, service_sinks
from tests.waiting import until
from tickwire.events import Event
from tickwire.journal import FRAME, read_records, verify
from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.models import EquityQuote, EquityTrade, MassiveEvent
from tickwire.massive.tables import massive_tables
from tickwire.record import Recorder, load_journal
from tickwire.sim import MassiveSimulator
from tickwire.sinks import DuckDBSink, consume_nats
from tickwire.sinks.nats_jetstream import message_decoder
from tickwire.sinks.rows import row_json
from tickwire.tables import columns_of, group_by_table

pytestmark = pytest.mark.services
ENC = msgspec.json.Encoder()
STOCKS = massive_tables("stocks")


def journal_events(journal: Path) -> list[MassiveEvent]:
    dec = MassiveDecoder("stocks")
    out: list[MassiveEvent] = []
    for rec in read_records(journal):
        if rec.kind == FRAME:
            out += [e for e in dec.decode(rec.data) if isinstance(e, MassiveEvent)]
    return out


async def _pg_rows(url: str, schema: str, table: str) -> list[tuple[Any, ...]]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            f'SELECT symbol, timestamp, price, size, sequence_number FROM "{schema}"."{table}"'
        )
        return list(await cur.fetchall())


async def _redis_entries(url: str, prefix: str) -> list[bytes]:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        out: list[bytes] = []
        async for key in client.scan_iter(f"{prefix}:massive:stocks:*"):
            out += [fields[b"row"] for _, fields in await client.xrange(key)]
        return out
    finally:
        await client.aclose()


async def _nats_events(url: str, prefix: str, stream: str, n: int) -> list[Event]:
    got: list[Event] = []

    async def pump() -> None:
        async for ev in consume_nats(url, STOCKS, prefix=prefix, stream=stream):
            got.append(ev)
            if len(got) >= n:
                return

    await asyncio.wait_for(pump(), 20)
    return got


async def test_recorded_sinks_equal_the_stream_and_redelivery_adds_nothing(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    pg, rs, nt = await reachable_sinks(STOCKS, tag)
    async with MassiveSimulator(seed=21, tick_interval=0.02, rate=20.0, close_timeout=0.3) as sim:
        base = fast_client(sim)  # for its short backoff
        recorder = Recorder(
            tmp_path,
            market="stocks",
            url=sim.url,
            api_key="test-key-0000",
            channels=["T.AAPL", "T.MSFT", "Q.AAPL"],
            sinks=[pg, rs, nt],
            fsync_interval=0.1,
            sink_flush_interval=0.1,
            client_options={
                "backoff": base.driver.config.backoff,
                "stale_timeout": None,
                "dotenv_path": None,
            },
        )
        stop = asyncio.Event()
        run = asyncio.create_task(recorder.run(stop))
        await until(lambda: recorder.events >= 300, 30, "300 events")
        sim.drop()  # a reconnect mid-recording
        await until(
            lambda: recorder.client.metrics().reconnects >= 1 and recorder.events >= 600, 30, "a reconnect"
        )
        stop.set()
        final = await run
    assert final.reconnects >= 1
    assert final.complete, final.outcomes
    assert all(o.written == final.events and o.lacking == 0 for o in final.outcomes or []), final.outcomes

    streamed = journal_events(tmp_path / "journal")
    assert len(streamed) == final.events  # the journal holds exactly what was received
    assert verify(tmp_path / "journal").ok
    trades = [e for e in streamed if isinstance(e, EquityTrade)]
    assert trades and any(isinstance(e, EquityQuote) for e in streamed)

    # DuckDB: every row equals the streamed events' columns
    import duckdb

    con = duckdb.connect(str(tmp_path / "tickwire.duckdb"), read_only=True)
    spec = next(s for s in group_by_table(STOCKS, trades))
    expected = columns_of(spec, trades)
    rows = con.sql(
        f"SELECT symbol, price, size, timestamp, sequence_number, conditions, id FROM {spec.name}"
    ).fetchall()
    con.close()
    want = list(
        zip(
            expected["symbol"],
            expected["price"],
            expected["size"],
            expected["timestamp"],
            expected["sequence_number"],
            expected["conditions"],
            expected["id"],
            strict=True,
        )
    )
    assert sorted(rows, key=repr) == sorted(want, key=repr)

    # PostgreSQL, Redis, NATS: count and content
    pg_trades = await _pg_rows(pg.url, pg.schema, "stocks_trades")
    assert sorted(pg_trades) == sorted(
        (t.symbol, t.timestamp, t.price, t.size, t.sequence_number) for t in trades
    )
    sent = sorted(ENC.encode(e) for e in streamed)  # every event, a repeated one included
    entries = await _redis_entries(rs.url, rs.prefix)
    rows = [row for ev in streamed if (spec := STOCKS.table_for(type(ev))) for row in row_json(spec, [ev])]
    assert sorted(entries) == sorted(rows)  # Redis holds the normalized rows
    from_nats = await _nats_events(nt.url, nt.prefix, nt.stream, len(streamed))
    assert sorted(ENC.encode(e) for e in from_nats) == sent

    # re-delivery: the same events again (a retried batch, a journal loaded twice) add nothing
    assert (
        await load_journal(tmp_path / "journal", service_sinks(STOCKS, tag)) == 0
    )  # their watermarks: complete
    assert len(await _pg_rows(pg.url, pg.schema, "stocks_trades")) == len(trades)
    assert len(await _redis_entries(rs.url, rs.prefix)) == len(streamed)
    import nats

    nc = await nats.connect(nt.url, allow_reconnect=False, max_reconnect_attempts=1, connect_timeout=5)
    js = nc.jetstream()
    info = await js.stream_info(nt.stream)
    decode = message_decoder(STOCKS)  # several events per message: count the events
    msgs = [await js.get_msg(nt.stream, s) for s in range(info.state.first_seq, info.state.last_seq + 1)]
    await nc.close()
    assert sum(len(decode(m.subject, m.headers, m.data or b"").positions) for m in msgs) == len(streamed)
    await cleanup_sinks(pg, rs, nt)


async def test_duckdb_rebuilt_from_the_journal_equals_the_live_database(tmp_path: Path) -> None:
    async with MassiveSimulator(seed=4, tick_interval=0.02, rate=20.0, close_timeout=0.3) as sim:
        recorder = Recorder(
            tmp_path / "live",
            url=sim.url,
            api_key="k",
            channels=["T.*"],
            client_options={"dotenv_path": None},
        )
        stop = asyncio.Event()
        run = asyncio.create_task(recorder.run(stop))
        await until(lambda: recorder.events >= 500, 20, "500 events")
        stop.set()
        final = await run
    assert (
        await load_journal(tmp_path / "live" / "journal", [DuckDBSink(tmp_path / "re.duckdb", STOCKS)])
        == final.events
    )
    import duckdb

    q = "SELECT * FROM stocks_trades ORDER BY symbol, timestamp, sequence_number, size"
    a = duckdb.connect(str(tmp_path / "live" / "tickwire.duckdb"), read_only=True).sql(q).fetchall()
    b = duckdb.connect(str(tmp_path / "re.duckdb"), read_only=True).sql(q).fetchall()
    assert len(a) == final.events and a == b
