"""PostgreSQL (psycopg 3): typed tables, COPY for speed, a primary key that makes re-delivery a no-op.

Each table (see :mod:`tickwire.tables`) gets ``event_id BIGINT PRIMARY KEY``: the event's content id
(:func:`~tickwire.tables.event_id`), so the same event written twice (a retried batch, a journal
replayed into the database again) is stored once, and an index ``<table>_key`` on its natural key
columns (symbol and time...) for lookups. A batch is COPYed into a temporary staging table and
moved with ``INSERT ... ON CONFLICT (event_id) DO NOTHING``, all in one transaction. Decimal
columns are ``NUMERIC`` (exact).
"""

from __future__ import annotations

import re
from typing import Any

from tickwire.events import Event
from tickwire.sinks.base import mask_url
from tickwire.tables import TableRegistry, TableSpec, columns_of, event_id, group_by_table

__all__ = ["PostgresSink"]

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


def _signed(hex_id: str) -> int:
    v = int(hex_id, 16)
    return v - (1 << 64) if v >= 1 << 63 else v


class PostgresSink:
    """Writes events to PostgreSQL ``url`` in ``schema`` (created if missing)."""

    def __init__(self, url: str, tables: TableRegistry, *, schema: str = "tickwire") -> None:
        if not _IDENT.match(schema):
            raise ValueError(f"schema must be a plain identifier, not {schema!r}")
        self.url = url
        self.tables = tables
        self.schema = schema
        self.name = f"postgres:{mask_url(url).split('?', 1)[0]}"
        self._conn: Any = None
        self._ready: set[str] = set()

    async def open(self) -> None:
        await self._connect()

    async def _connect(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=False)
            self._ready.clear()
            async with self._conn.transaction():
                await self._conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        return self._conn

    async def write(self, events: list[Event]) -> None:
        groups = group_by_table(self.tables, events)
        if not groups:
            return
        try:
            conn = await self._connect()
            async with conn.transaction():
                for spec, evs in groups.items():
                    await self._write_table(conn, spec, evs)
        except Exception:
            conn = self._conn
            self._conn = None  # reconnect on the retry
            if conn is not None:
                await conn.close()
            raise

    async def _write_table(self, conn: Any, spec: TableSpec, evs: list[Event]) -> None:
        table = f'"{self.schema}"."{spec.name}"'
        stage = f'"_tw_stage_{spec.name}"'
        names = spec.column_names
        if spec.name not in self._ready:
            cols = ", ".join(f'"{c.name}" {_PG[c.type]}' for c in spec.columns)
            await conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (event_id BIGINT PRIMARY KEY, {cols})")
            if spec.key:
                key = ", ".join(f'"{k}"' for k in spec.key)
                await conn.execute(f'CREATE INDEX IF NOT EXISTS "{spec.name}_key" ON {table} ({key})')
            stage_cols = ", ".join(
                f'"{c.name}" {"BIGINT" if c.type == "ts" else _PG[c.type]}' for c in spec.columns
            )
            await conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} (event_id BIGINT, {stage_cols}) "
                "ON COMMIT DELETE ROWS"
            )
            self._ready.add(spec.name)
        values = columns_of(spec, evs)
        ids = [_signed(event_id(e)) for e in evs]
        quoted = ", ".join(f'"{n}"' for n in names)
        async with conn.cursor() as cur:
            async with cur.copy(f"COPY {stage} (event_id, {quoted}) FROM STDIN") as copy:
                for row in zip(ids, *(values[n] for n in names), strict=True):
                    await copy.write_row(row)
            select = ", ".join(
                f"to_timestamp({q} / 1e9)" if c.type == "ts" else q
                for c, q in ((c, f'"{c.name}"') for c in spec.columns)
            )
            await cur.execute(
                f"INSERT INTO {table} (event_id, {quoted}) SELECT DISTINCT ON (event_id) event_id, {select} "
                f"FROM {stage} "
                "ON CONFLICT (event_id) DO NOTHING"
            )

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
