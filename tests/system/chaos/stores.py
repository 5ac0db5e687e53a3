"""The chaos suite's sinks: where each test's data goes, how to read it back, how to clean up.

Each test gets a :class:`Stores`: its own PostgreSQL schema, Redis key prefix, NATS stream and
subject prefix (from one random tag), each reached through a :class:`~.proxy.ChaosProxy`, plus the
data directory's DuckDB and a Parquet directory. The ``read_*`` functions return what a sink holds
as a list of ``((journal, pos), row)`` (a list, not a dict: a duplicate must show), ``row`` being
:func:`normalize`'s key columns, so every sink compares with the journal the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from tests.services import service_url, unavailable
from tests.system.chaos.proxy import ChaosProxy, ProxyLoop
from tickwire.events import Event
from tickwire.journal.position import position
from tickwire.massive.tables import massive_tables
from tickwire.sinks.nats_jetstream import StreamFilter, message_decoder
from tickwire.sinks.rows import event_from_row, invertible
from tickwire.tables import TableSpec, columns_of

__all__ = [
    "KEY_COLUMNS",
    "TABLES",
    "Held",
    "Stores",
    "normalize",
    "read_duckdb",
    "read_nats",
    "read_parquet",
    "read_postgres",
    "read_redis",
]

TABLES = massive_tables("stocks")
NATS_BUCKET = "tickwire_watermarks"
"""The KV bucket the NATS sink keeps its watermarks in (key ``<stream>.<journal>``), shared."""
"""The registry the recorder uses for ``--provider massive`` (stocks, the default market)."""

KEY_COLUMNS = (
    "symbol",
    "price",
    "size",
    "timestamp",
    "bid_price",
    "bid_size",
    "ask_price",
    "ask_size",
    "open",
    "close",
    "volume",
    "start_timestamp",
)
"""The columns compared between the journal and a sink (those a table has, in this order)."""

Key = tuple[str, int]
Row = tuple[Any, ...]
Held = list[tuple[Key, Row]]


def _keys(spec: TableSpec) -> list[str]:
    names = set(spec.column_names)
    return [c for c in KEY_COLUMNS if c in names]


def normalize(events: Sequence[Event], spec: TableSpec) -> list[Row]:
    """``(table, key column values...)`` of each event, converted as the sinks convert them."""
    cols = _keys(spec)
    values = columns_of(spec, events, ts=False)
    return [(spec.name, *(values[c][i] for c in cols)) for i in range(len(events))]


def _db_rows(fetch: Any, tables: Sequence[str]) -> Held:
    """Rows of ``tables`` from a DB-API-like ``fetch(sql) -> rows`` (missing tables hold nothing)."""
    out: Held = []
    for spec in TABLES.tables():
        if spec.name not in tables:
            continue
        cols = _keys(spec)
        select = ", ".join(['"_journal"', '"_pos"', *(f'"{c}"' for c in cols)])
        for row in fetch(spec.name, select):
            out.append(((row[0], int(row[1])), (spec.name, *row[2:])))
    return out


def read_duckdb(path: Path) -> Held:
    """What the DuckDB file holds (read-only: the recorder has exited)."""
    import duckdb

    if not path.exists():
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        have = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        return _db_rows(lambda t, sel: con.execute(f'SELECT {sel} FROM "{t}"').fetchall(), sorted(have))
    finally:
        con.close()


def read_parquet(root: Path) -> Held:
    """What the Parquet files under ``root/<table>/`` hold (temp files, ``.<name>.tmp``, are not data)."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    out: Held = []
    for spec in TABLES.tables():
        folder = root / spec.name
        if not folder.is_dir():
            continue
        cols = _keys(spec)
        for f in sorted(folder.glob("*.parquet")):
            if f.name.startswith("."):
                continue
            t = pq.read_table(f, columns=["_journal", "_pos", *cols]).to_pydict()
            for i in range(t["_pos"].__len__()):
                out.append(((t["_journal"][i], int(t["_pos"][i])), (spec.name, *(t[c][i] for c in cols))))
    return out


async def read_postgres(url: str, schema: str) -> Held:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url) as conn:
        cur = await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
        have = {r[0] for r in await cur.fetchall()}
        rows: dict[str, list[Any]] = {}
        for t in have:
            spec = next((s for s in TABLES.tables() if s.name == t), None)
            if spec is None:
                continue
            sel = ", ".join(['"_journal"', '"_pos"', *(f'"{c}"' for c in _keys(spec))])
            cur = await conn.execute(f'SELECT {sel} FROM "{schema}"."{t}"')
            rows[t] = list(await cur.fetchall())
    return _db_rows(lambda t, _sel: rows.get(t, []), sorted(rows))


def _decoded_row(payload: bytes) -> tuple[str, Row] | None:
    """A Redis entry's normalized row (:mod:`tickwire.sinks.rows`) as the event it holds."""
    ev_tag = msgspec.json.decode(payload)["ev"]
    spec = next((s for s in TABLES.tables() if s.ev == ev_tag and invertible(s)), None)
    if spec is None:
        return None
    return spec.name, normalize([event_from_row(spec, payload)], spec)[0]


_NATS_DECODE = message_decoder(TABLES)


async def read_redis(url: str, prefix: str, journal: str) -> Held:
    """Every entry of the streams under ``prefix``: entry id ``<seq+1>-<idx>`` is the position."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    out: Held = []
    try:
        async for key in client.scan_iter(f"{prefix}:*"):
            if (await client.type(key)) != b"stream":
                continue
            entries: list[tuple[bytes, dict[bytes, bytes]]] = await client.xrange(key)  # type: ignore[assignment]
            for entry_id, fields in entries:
                ms, idx = (int(x) for x in entry_id.split(b"-"))
                got = _decoded_row(fields[b"row"])
                if got is not None:
                    out.append(((journal, position(ms - 1, idx)), got[1]))
    finally:
        await client.aclose()
    return out


async def read_nats(url: str, stream: str) -> Held:
    """Every event of ``stream`` a consumer sees (:class:`StreamFilter`), keyed by the journal and
    positions its messages carry."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    out: Held = []
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            return []
        last = info.state.last_seq
        if info.state.messages == 0:
            return []
        sub = await js.subscribe(">", stream=stream, ordered_consumer=True)
        try:
            async with asyncio.timeout(30):
                seen = StreamFilter()  # what a consumer sees: consume_nats drops repeats by position
                async for msg in sub.messages:
                    m = _NATS_DECODE(msg.subject, msg.headers, msg.data)
                    kept = {id(e) for e in seen.keep(m)}
                    for pos, ev in zip(m.positions, m.events, strict=True):
                        if id(ev) not in kept:
                            continue
                        spec = TABLES.table_for(type(ev))
                        if m.journal and spec is not None:
                            out.append(((m.journal, pos), normalize([ev], spec)[0]))
                    if msg.metadata.sequence.stream >= last:
                        break
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
    finally:
        await nc.close()
    return out


def _hostport(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", int(parts.port or 0)


def _via(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


@dataclass
class Stores:
    """One test's sinks (see the module doc): URLs through the proxies, readers, cleanup."""

    data: Path
    proxies: ProxyLoop
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    pg_url: str = field(default_factory=lambda: service_url("TICKWIRE_POSTGRES_URL"))
    redis_url: str = field(default_factory=lambda: service_url("TICKWIRE_REDIS_URL"))
    nats_url: str = field(default_factory=lambda: service_url("TICKWIRE_NATS_URL"))

    def __post_init__(self) -> None:
        self.schema = f"chaos_{self.tag}"
        self.prefix = f"chaos{self.tag}"
        self.stream = f"CHAOS_{self.tag.upper()}"
        self.pq_dir = self.data / "pq"
        self.pg = ChaosProxy(self.proxies, _hostport(self.pg_url), "postgres")
        self.redis = ChaosProxy(self.proxies, _hostport(self.redis_url), "redis")
        self.nats = ChaosProxy(self.proxies, _hostport(self.nats_url), "nats")

    # -- the sink URLs the recorder gets --------------------------------------------------------

    @property
    def pg_sink(self) -> str:
        return _via(self.pg_url, self.pg.port) + f"?schema={self.schema}&connect_timeout=2"

    @property
    def redis_sink(self) -> str:
        return _via(self.redis_url, self.redis.port) + f"?prefix={self.prefix}"

    @property
    def nats_sink(self) -> str:
        return _via(self.nats_url, self.nats.port) + f"?stream={self.stream}&prefix={self.prefix}"

    @property
    def parquet_sink(self) -> str:
        return f"parquet:{self.pq_dir}"

    def sink_args(self, kinds: Sequence[str] = ("postgres", "redis", "nats", "parquet")) -> list[str]:
        urls = {
            "postgres": self.pg_sink,
            "redis": self.redis_sink,
            "nats": self.nats_sink,
            "parquet": self.parquet_sink,
        }
        return [a for k in kinds for a in ("--sink", urls[k])]

    # -- availability, reading, cleanup ---------------------------------------------------------

    async def check(self, kinds: Sequence[str] = ("postgres", "redis", "nats")) -> None:
        """Skip (or fail, in CI) when a service the test needs is not running."""
        import nats
        import psycopg
        import redis.asyncio as aioredis

        if "postgres" in kinds:
            try:
                async with await psycopg.AsyncConnection.connect(self.pg_url, connect_timeout=3):
                    pass
            except Exception as exc:
                unavailable("PostgreSQL", exc)
        if "redis" in kinds:
            client = aioredis.from_url(self.redis_url, socket_connect_timeout=3)
            try:
                await client.ping()
            except Exception as exc:
                unavailable("Redis", exc)
            finally:
                await client.aclose()
        if "nats" in kinds:
            try:
                nc = await nats.connect(self.nats_url, connect_timeout=3, max_reconnect_attempts=0)
                await nc.close()
            except Exception as exc:
                unavailable("NATS", exc)

    async def held(self, kind: str, journal: str) -> Held:
        """What sink ``kind`` holds (read directly from the service, not through the proxy)."""
        if kind == "duckdb":
            return await asyncio.to_thread(read_duckdb, self.data / "tickwire.duckdb")
        if kind == "parquet":
            return await asyncio.to_thread(read_parquet, self.pq_dir)
        if kind == "postgres":
            return await read_postgres(self.pg_url, self.schema)
        if kind == "redis":
            return await read_redis(self.redis_url, self.prefix, journal)
        if kind == "nats":
            return await read_nats(self.nats_url, self.stream)
        raise ValueError(kind)

    async def cleanup(self) -> None:
        """Drop the schema, the keys and the stream (and any KV bucket named after the tag)."""
        import nats
        import psycopg
        import redis.asyncio as aioredis

        for p in (self.pg, self.redis, self.nats):
            p.close()
        with contextlib.suppress(Exception):
            async with await psycopg.AsyncConnection.connect(self.pg_url, autocommit=True) as conn:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        with contextlib.suppress(Exception):
            client = aioredis.from_url(self.redis_url)
            try:
                keys = [k async for k in client.scan_iter(f"{self.prefix}:*")]
                if keys:
                    await client.delete(*keys)
            finally:
                await client.aclose()
        with contextlib.suppress(Exception):
            nc = await nats.connect(self.nats_url, max_reconnect_attempts=0)
            try:
                js = nc.jetstream()
                names = await js.streams_info()
                for info in names:
                    name = info.config.name or ""
                    if self.tag.upper() in name.upper():
                        await js.delete_stream(name)
                with contextlib.suppress(Exception):  # the sink's watermark, in the shared bucket
                    kv = await js.key_value(NATS_BUCKET)
                    for key in await kv.keys():
                        if key.startswith(self.stream + "."):
                            await kv.purge(key)
            finally:
                await nc.close()
