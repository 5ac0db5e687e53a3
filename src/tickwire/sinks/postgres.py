"""PostgreSQL (psycopg 3): typed tables keyed by journal position, COPY for speed, a watermark per journal.

Each table (see :mod:`tickwire.tables`) has the spec's columns plus ``_journal TEXT, _pos BIGINT,
PRIMARY KEY (_journal, _pos)``: the event's place in the journal, so a replayed event is never a
second row while genuinely repeated events (two equal Polymarket price ticks) stay two rows, which
the old content hash (``event_id``) wrongly merged. An index ``<table>_key`` on the natural key
columns (symbol and time...) serves lookups. Decimal columns are ``NUMERIC`` (exact).

A batch is one transaction: lock the journal's row of ``_tickwire_watermarks(journal, pos,
updated)`` (``SELECT ... FOR UPDATE``, so two writers take turns), COPY the events from the stored
watermark on into a temporary staging table, move them with ``INSERT ... ON CONFLICT DO NOTHING``,
and set the watermark to the batch's end. A value PostgreSQL refuses (out of range, a NUL in a
string, a timestamp past year 294276) is a data error (:meth:`PostgresSink.is_data_error`): the
transaction is rolled back and the connection kept for the next batch; a connection error drops
the connection, and the next write reconnects.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Any

from tickwire.errors import ConfigError
from tickwire.sinks.base import JOURNAL_COLUMN, POS_COLUMN, DataRefused, SinkBatch, by_table, mask_url
from tickwire.tables import TableRegistry, TableSpec, columns_of

__all__ = ["WATERMARKS", "PostgresSink"]

WATERMARKS = "_tickwire_watermarks"
"""The table of each journal's watermark in the sink's schema."""

_PG = {
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
    "decimal": "NUMERIC",
    "str": "TEXT",
    "bool": "BOOLEAN",
    "ints": "BIGINT[]",
    "json": "JSONB",
    "ts": "TIMESTAMPTZ",
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DATA_CLASSES = ("22", "23", "54")  # data exception, integrity violation, program limit (a row too big)


class PostgresSink:
    """Writes events to PostgreSQL ``url`` in ``schema`` (created if missing)."""

    def __init__(
        self,
        url: str,
        tables: TableRegistry,
        *,
        schema: str = "tickwire",
        connect_timeout: float = 10.0,
        idle_timeout: float = 15.0,
    ) -> None:
        if not _IDENT.match(schema):
            raise ValueError(f"schema must be a plain identifier, not {schema!r}")
        self.url = url
        self.tables = tables
        self.schema = schema
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        """Seconds a session of this sink may sit in a transaction without a word (then the server
        ends it) or wait for a lock."""
        self.name = f"postgres:{mask_url(url).split('?', 1)[0]}"
        self._conn: Any = None
        self._tables_ready = False  # the schema's tables exist (committed)
        self._staged: set[str] = set()  # this connection's staging tables

    async def open(self) -> None:
        await self._connect()

    async def watermark(self, journal: str) -> int:
        conn = await self._connect()
        try:
            async with conn.transaction():
                cur = await conn.execute(
                    f'SELECT pos FROM "{self.schema}".{WATERMARKS} WHERE journal = %s', (journal,)
                )
                row = await cur.fetchone()
        except Exception as exc:
            await self._drop(exc)
            raise
        return int(row[0]) if row else 0

    async def write(self, batch: SinkBatch) -> None:
        groups = by_table(self.tables, batch)
        conn = await self._connect()
        wm = f'"{self.schema}".{WATERMARKS}'
        try:
            async with conn.transaction():
                await conn.execute(
                    f"INSERT INTO {wm} (journal, pos) VALUES (%s, 0) ON CONFLICT (journal) DO NOTHING",
                    (batch.journal,),
                )
                cur = await conn.execute(
                    f"SELECT pos FROM {wm} WHERE journal = %s FOR UPDATE", (batch.journal,)
                )
                row = await cur.fetchone()
                held = int(row[0]) if row else 0
                if batch.end <= held:
                    return
                for spec, (events, positions) in groups.items():
                    i = bisect_left(positions, held)
                    if i < len(positions):
                        await self._write_table(conn, spec, batch.journal, events[i:], positions[i:])
                await conn.execute(
                    f"UPDATE {wm} SET pos = %s, updated = now() WHERE journal = %s",
                    (batch.end, batch.journal),
                )
        except Exception as exc:
            await self._drop(exc)
            raise

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    def is_data_error(self, exc: BaseException) -> bool:
        """What PostgreSQL or psycopg refuse in the values: SQLSTATE classes 22 (data exception:
        out of range, bad encoding, NUL), 23 (integrity) and 54 (a row over a limit), psycopg's own
        ``DataError`` (a NUL in a string, found while dumping) and integers over 64 bits. Connection
        errors (refused, closed, timed out) are not."""
        import psycopg

        if isinstance(exc, (DataRefused, OverflowError)):
            return True
        if not isinstance(exc, psycopg.Error):
            return False
        state = exc.sqlstate
        if state is not None:
            return state[:2] in _DATA_CLASSES
        return isinstance(exc, (psycopg.DataError, psycopg.IntegrityError))

    # ------------------------------------------------------------------ internals

    async def _connect(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            idle_ms = round(self.idle_timeout * 1000)
            self._conn = await psycopg.AsyncConnection.connect(
                self.url,
                autocommit=False,
                connect_timeout=max(1, round(self.connect_timeout)),
                # a writer whose host vanished mid-batch must not keep the watermark row locked for
                # hours (TCP keepalive's default): the server ends its transaction, and we never wait
                # on a lock longer than that (55P03 is a connection error: the cursor retries)
                options=f"-c idle_in_transaction_session_timeout={idle_ms} -c lock_timeout={idle_ms}",
                keepalives=1,
                keepalives_idle=10,
                keepalives_interval=5,
                keepalives_count=3,
            )
            self._staged.clear()
            try:
                await self._prepare(self._conn)
            except Exception as exc:
                await self._drop(exc, always=True)
                raise
        return self._conn

    async def _drop(self, exc: BaseException, *, always: bool = False) -> None:
        """Forget the connection after a connection error (a data error leaves it usable)."""
        if always or not self.is_data_error(exc):
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()

    async def _prepare(self, conn: Any) -> None:
        """The schema, its tables and this connection's staging tables, committed before any data
        transaction (a failed write never leaves the sink believing in a rolled-back table)."""
        async with conn.transaction():
            if not self._tables_ready:
                # CREATE ... IF NOT EXISTS races with itself: two sinks starting at once take turns
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"tickwire:{self.schema}",))
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                await conn.execute(
                    f'CREATE TABLE IF NOT EXISTS "{self.schema}".{WATERMARKS} (journal TEXT PRIMARY KEY, '
                    "pos BIGINT NOT NULL, updated TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                for spec in self.tables.tables():
                    await self._create(conn, spec)
            for spec in self.tables.tables():
                stage_cols = ", ".join(
                    f'"{c.name}" {"BIGINT" if c.type == "ts" else _PG[c.type]}' for c in spec.columns
                )
                await conn.execute(
                    f'CREATE TEMP TABLE IF NOT EXISTS "_tw_stage_{spec.name}" '
                    f"({POS_COLUMN} BIGINT, {stage_cols}) ON COMMIT DELETE ROWS"
                )
        self._tables_ready = True

    async def _create(self, conn: Any, spec: TableSpec) -> None:
        table = f'"{self.schema}"."{spec.name}"'
        cols = ", ".join(f'"{c.name}" {_PG[c.type]}' for c in spec.columns)
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ({cols}, {JOURNAL_COLUMN} TEXT NOT NULL, "
            f"{POS_COLUMN} BIGINT NOT NULL, PRIMARY KEY ({JOURNAL_COLUMN}, {POS_COLUMN}))"
        )
        cur = await conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.schema, spec.name),
        )
        have = {r[0] for r in await cur.fetchall()}
        if POS_COLUMN not in have:
            raise ConfigError(
                f"table {self.schema}.{spec.name} was made by an older tickwire (keyed by event_id, "
                "not journal position): rename or drop it, or record into another ?schema="
            )
        if spec.key:
            key = ", ".join(f'"{k}"' for k in spec.key)
            await conn.execute(f'CREATE INDEX IF NOT EXISTS "{spec.name}_key" ON {table} ({key})')

    async def _write_table(
        self, conn: Any, spec: TableSpec, journal: str, events: list[Any], positions: list[int]
    ) -> None:
        table = f'"{self.schema}"."{spec.name}"'
        stage = f'"_tw_stage_{spec.name}"'
        names = spec.column_names
        values = columns_of(spec, events)
        quoted = ", ".join(f'"{n}"' for n in names)
        async with conn.cursor() as cur:
            async with cur.copy(f"COPY {stage} ({POS_COLUMN}, {quoted}) FROM STDIN") as copy:
                for row in zip(positions, *(values[n] for n in names), strict=True):
                    await copy.write_row(row)
            select = ", ".join(
                f"to_timestamp({q} / 1e9)" if c.type == "ts" else q
                for c, q in ((c, f'"{c.name}"') for c in spec.columns)
            )
            await cur.execute(
                f"INSERT INTO {table} ({JOURNAL_COLUMN}, {POS_COLUMN}, {quoted}) "
                f"SELECT %s, {POS_COLUMN}, {select} FROM {stage} "
                f"ON CONFLICT ({JOURNAL_COLUMN}, {POS_COLUMN}) DO NOTHING",
                (journal,),
            )
