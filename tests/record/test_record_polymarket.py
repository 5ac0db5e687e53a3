"""Polymarket US recorded end to end: ``tickwire record --provider polymarket --sim`` writes the journal,
DuckDB and every sink (the real PostgreSQL, Redis, NATS; Parquet, CSV, JSONL) with exactly the events
the journal holds; ``tickwire query`` reads them; re-delivery adds nothing; ``replay --into`` rebuilds
the database; the private socket's orders, positions and balances land in their tables."""

from __future__ import annotations

import asyncio
import csv
import signal
import sys
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import duckdb
import msgspec
import pytest

from tests.record.service_sinks import cleanup_sinks, reachable_sinks, service_sinks
from tests.waiting import until
from tickwire.backoff import Backoff
from tickwire.events import Event
from tickwire.journal import FRAME, journal_meta, read_records
from tickwire.polymarket_us.events import (
    AccountBalanceSnapshot,
    AccountBalanceUpdate,
    MarketData,
    OrderSnapshot,
    OrderUpdate,
    PositionUpdate,
    Trade,
)
from tickwire.provider import Provider, get_provider
from tickwire.record import Recorder, load_journal
from tickwire.sim.polymarket import PolymarketSimulator
from tickwire.sinks import NatsJetStreamSink, consume_nats
from tickwire.sinks.nats_jetstream import message_decoder
from tickwire.sinks.rows import row_json
from tickwire.tables import TableRegistry

ENC = msgspec.json.Encoder()
PM: Provider = get_provider("polymarket")
MARKETS: TableRegistry = PM.tables("markets")


def with_params(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def stored_events(journal: Path, market: str) -> list[Event]:
    """What the journal holds that the provider stores, decoded as a fresh reader would."""
    decoder = PM.decoder(market)
    tables = PM.tables(market)
    return [
        e
        for r in read_records(journal)
        if r.kind == FRAME
        for e in decoder.decode(r.data)
        if tables.table_for(type(e)) is not None
    ]


async def cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tickwire",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    return proc.returncode or 0, out.decode(), err.decode()


async def record_until(events: int, *args: str) -> tuple[int, str]:
    """Run ``tickwire record ... --status-json`` until its status counts ``events``, then stop it as
    Ctrl-C does (SIGINT: a clean shutdown that flushes every sink)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tickwire",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    async with asyncio.timeout(60):
        while True:
            line = await proc.stdout.readline()
            if not line:
                break  # exited early: the return code and stderr say why
            if msgspec.json.decode(line)["events"] >= events:
                proc.send_signal(signal.SIGINT)
                break
        _, err = await proc.communicate()
    return proc.returncode or 0, err.decode()


async def pg_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(sql)
        return list(await cur.fetchall())


def normalized_rows(tables: TableRegistry, events: list[Event]) -> list[bytes]:
    """Each stored event's normalized row JSON (:func:`tickwire.sinks.rows.row_json`)."""
    out: list[bytes] = []
    for ev in events:
        spec = tables.table_for(type(ev))
        if spec is not None:
            out += row_json(spec, [ev])
    return out


async def redis_payloads(url: str, prefix: str) -> list[bytes]:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        out: list[bytes] = []
        async for key in client.scan_iter(f"{prefix}:polymarket_us:markets:*"):
            out += [fields[b"row"] for _, fields in await client.xrange(key)]
        return out
    finally:
        await client.aclose()


async def nats_events(nt: NatsJetStreamSink, n: int) -> list[Event]:
    got: list[Event] = []

    async def pump() -> None:
        async for ev in consume_nats(nt.url, MARKETS, prefix=nt.prefix, stream=nt.stream):
            got.append(ev)
            if len(got) >= n:
                return

    await asyncio.wait_for(pump(), 20)
    return got


async def nats_count(nt: NatsJetStreamSink) -> int:
    import nats

    nc = await nats.connect(nt.url, allow_reconnect=False, max_reconnect_attempts=1, connect_timeout=5)
    try:
        js = nc.jetstream()
        info = await js.stream_info(nt.stream)
        decode = message_decoder(MARKETS)  # several events per message: count the events
        msgs = [await js.get_msg(nt.stream, s) for s in range(info.state.first_seq, info.state.last_seq + 1)]
        return sum(len(decode(m.subject, m.headers, m.data or b"").positions) for m in msgs)
    finally:
        await nc.close()


@pytest.mark.services
async def test_record_polymarket_sim_into_every_sink_query_it_and_redeliver(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:10]
    pg, rs, nt = await reachable_sinks(MARKETS, tag)
    data = tmp_path / "data"
    sinks = [
        with_params(pg.url, schema=pg.schema),
        with_params(rs.url, prefix=rs.prefix, per="symbol"),
        with_params(nt.url, prefix=nt.prefix, stream=nt.stream, bucket=nt.bucket),
        f"parquet:{tmp_path / 'pq'}",
        f"csv:{tmp_path / 'csv'}",
        f"jsonl:{tmp_path / 'jsonl'}",
    ]
    args = ["record", "--provider", "polymarket", "--sim", "-d", str(data), "--status-json"]
    code, err = await record_until(300, *args, *(x for s in sinks for x in ("--sink", s)))
    assert code == 0, err
    assert "SELECT count(*) FROM polymarket_us_trades" in err

    meta = journal_meta(data / "journal")
    assert (meta["provider"], meta["market"]) == ("polymarket_us", "markets")
    events = stored_events(data / "journal", "markets")
    books = [e for e in events if isinstance(e, MarketData)]
    trades = [e for e in events if isinstance(e, Trade)]
    assert books and trades and len(books) + len(trades) == len(events)
    sent = sorted(ENC.encode(e) for e in events)  # every event: a repeated price tick is stored again

    # DuckDB, through `tickwire query`, and exactly: decimals stay decimals
    code, out, err = await cli("query", "-d", str(data), "--csv", "SELECT count(*) FROM polymarket_us_books")
    assert code == 0, err
    assert int(out.splitlines()[1]) == len(books)
    code, out, _ = await cli("query", "-d", str(data), "--tables")
    assert code == 0 and "Polymarket US markets" in out and "polymarket_us_trades" in out
    con = duckdb.connect(str(data / "tickwire.duckdb"), read_only=True)
    got_trades = con.sql(
        "SELECT market_slug, trade_time, price, quantity FROM polymarket_us_trades"
    ).fetchall()
    got_books = con.sql(
        "SELECT market_slug, transact_time, best_bid, best_ask, bid_levels FROM polymarket_us_books"
    ).fetchall()
    total = con.sql("SELECT sum(quantity) FROM polymarket_us_trades").fetchall()[0][0]
    con.close()
    want_trades = Counter((t.market_slug, t.trade_time, t.price, t.quantity) for t in trades)
    assert Counter(got_trades) == want_trades
    assert total == sum((t.quantity for t in trades if t.quantity is not None), Decimal(0))
    want_books = Counter(
        (
            b.market_slug,
            b.transact_time,
            max((lv.price for lv in b.bids), default=None),
            min((lv.price for lv in b.offers), default=None),
            len(b.bids),
        )
        for b in books
    )
    assert Counter(got_books) == want_books

    # PostgreSQL (NUMERIC keeps the prices exact), Redis, NATS: count and content
    rows = await pg_rows(
        pg.url, f'SELECT market_slug, trade_time, price, quantity FROM "{pg.schema}".polymarket_us_trades'
    )
    assert Counter(rows) == want_trades
    (n_books,) = (await pg_rows(pg.url, f'SELECT count(*) FROM "{pg.schema}".polymarket_us_books'))[0]
    assert n_books == len(books)
    rows = sorted(normalized_rows(MARKETS, events))  # Redis and JSON lines hold the normalized rows
    assert sorted(await redis_payloads(rs.url, rs.prefix)) == rows
    assert sorted(ENC.encode(e) for e in await nats_events(nt, len(events))) == sent
    consume = (
        "consume", "nats", nt.url, "--provider", "polymarket", "--prefix", nt.prefix, "--stream", nt.stream,
        "--limit", str(len(events)),
    )  # fmt: skip
    code, out, err = await cli(*consume)  # the normalized rows, as every other sink holds them
    assert code == 0, err
    assert sorted(line.encode() for line in out.splitlines()) == rows
    code, out, err = await cli(*consume, "--wire")
    assert code == 0, err
    assert sorted(line.encode() for line in out.splitlines()) == sent

    # Parquet, CSV, JSONL
    pq = duckdb.sql(
        "SELECT regexp_extract(filename, '/([^/]+)/[^/]+$', 1) AS t, count(*), sum(quantity) "
        f"FROM read_parquet('{tmp_path / 'pq'}/*/*.parquet', filename=true, union_by_name=true) "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert pq == [("polymarket_us_books", len(books), None), ("polymarket_us_trades", len(trades), total)]
    csv_rows = [
        row
        for path in sorted((tmp_path / "csv" / "polymarket_us_trades").glob("*.csv"))
        for row in csv.DictReader(path.read_text().splitlines())
    ]
    assert Counter((r["market_slug"], Decimal(r["price"])) for r in csv_rows) == Counter(
        (t.market_slug, t.price) for t in trades
    )
    lines = [
        msgspec.json.decode(line)
        for path in sorted((tmp_path / "jsonl").rglob("*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]
    for line in lines:
        del line["_journal"], line["_pos"]
    assert sorted(ENC.encode(line) for line in lines) == rows

    # the whole journal again adds nothing: each sink's watermark says it holds it all
    assert await load_journal(data / "journal", service_sinks(MARKETS, tag)) == 0
    rows = await pg_rows(pg.url, f'SELECT count(*) FROM "{pg.schema}".polymarket_us_trades')
    assert rows == [(len(trades),)]
    assert len(await redis_payloads(rs.url, rs.prefix)) == len(events)
    assert await nats_count(nt) == len(events)

    # replay --into rebuilds the database from the journal, table for table
    code, _, err = await cli("replay", str(data / "journal"), "--into", f"duckdb:{tmp_path / 're.duckdb'}")
    assert code == 0, err
    for table in ("polymarket_us_books", "polymarket_us_trades"):
        q = f"SELECT * FROM {table} ORDER BY ALL"
        live = duckdb.connect(str(data / "tickwire.duckdb"), read_only=True).sql(q).fetchall()
        rebuilt = duckdb.connect(str(tmp_path / "re.duckdb"), read_only=True).sql(q).fetchall()
        assert live == rebuilt and live
    await cleanup_sinks(pg, rs, nt)


async def test_private_socket_orders_positions_and_balances_are_recorded(tmp_path: Path) -> None:
    async with PolymarketSimulator(
        seed=11,
        tick_interval=0.02,
        heartbeat_interval=0.05,
        account_interval=None,
        open_orders=4,
        snapshot_page_size=2,
        close_timeout=0.3,
    ) as sim:
        recorder = Recorder(
            tmp_path,
            provider="polymarket",
            market="private",
            sink_flush_interval=0.05,
            client_options={
                "base_url": sim.url,
                "key_id": sim.key_id,
                "secret_key": sim.secret_key,
                "dotenv_path": None,
                "backoff": Backoff(base=0.02, cap=0.1, seed=3),
            },
        )
        assert recorder.channels == ("order", "order_snapshot", "position", "account_balance")
        stop = asyncio.Event()
        run = asyncio.create_task(recorder.run(stop))
        # the balance snapshot answers the last subscription, the snapshot pages come after it
        await until(lambda: recorder.events >= 3, 10, "the balance snapshot and both order snapshot pages")
        activities = [act for _ in range(6) for act in sim.step_account()]
        await until(lambda: recorder.events >= 3 + len(activities), 10, "every account activity")
        stop.set()
        final = await run
    events = stored_events(tmp_path / "journal", "private")
    assert len(events) == final.events
    kinds = Counter(kind for kind, _, _ in activities)
    con = duckdb.connect(str(tmp_path / "tickwire.duckdb"), read_only=True)
    count = {
        t: con.sql(f"SELECT count(*) FROM polymarket_us_{t}").fetchall()[0][0]
        for t in ("orders", "positions", "balances", "order_snapshots", "balance_snapshots")
    }
    fills = con.sql(
        "SELECT execution_id, market_slug, last_shares FROM polymarket_us_orders WHERE exec_type LIKE '%FILL'"
    ).fetchall()
    balance = con.sql(
        "SELECT current_balance FROM polymarket_us_balances ORDER BY update_time DESC LIMIT 1"
    ).fetchall()
    con.close()
    assert count["orders"] == kinds["order"] == sum(isinstance(e, OrderUpdate) for e in events)
    assert count["positions"] == kinds["position"] == sum(isinstance(e, PositionUpdate) for e in events)
    assert count["balances"] == kinds["balance"] == sum(isinstance(e, AccountBalanceUpdate) for e in events)
    assert count["order_snapshots"] == sum(isinstance(e, OrderSnapshot) for e in events) == 2
    assert count["balance_snapshots"] == sum(isinstance(e, AccountBalanceSnapshot) for e in events) == 1
    assert sorted(fills) == sorted(
        (
            e.execution.id,
            e.execution.order.market_slug if e.execution.order else None,
            e.execution.last_shares,
        )
        for e in events
        if isinstance(e, OrderUpdate) and e.execution.type.endswith("FILL")
    )
    assert fills  # six activities include fills
    last = max((e for e in events if isinstance(e, AccountBalanceUpdate)), key=lambda e: e.update_time or 0)
    assert last.after is not None and balance == [(last.after.current_balance,)]
