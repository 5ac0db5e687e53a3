"""The database and file sinks under test, each with a way to read back what it holds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg

from tests.services import service_url, unavailable
from tests.sinks.feed import STOCKS
from tickwire.sinks import DuckDBSink, FileSink, ParquetSink, PostgresSink, RollPolicy, Sink

KINDS = ["duckdb", "postgres", "parquet", "csv", "jsonl"]
TABLES = ("stocks_trades", "stocks_quotes")


@dataclass
class Store:
    """One sink kind at one place: ``make()`` builds a fresh sink object on it (a restart),
    ``rows(table)`` reads back ``(_journal, _pos)`` of every row held."""

    kind: str
    make: Callable[[], Sink]
    read: Callable[[str], list[tuple[str, int]]]

    def rows(self, table: str) -> list[tuple[str, int]]:
        return sorted(self.read(table))

    def all_rows(self) -> list[tuple[str, int]]:
        return sorted(r for t in TABLES for r in self.read(t))


def read_files(files: list[Path]) -> list[tuple[str, int]]:
    """``(_journal, _pos)`` of the rows in these Parquet, CSV or JSONL files."""
    if not files:
        return []
    ext = files[0].suffix[1:]
    reader = {"parquet": "read_parquet", "csv": "read_csv", "jsonl": "read_json"}[ext]
    options = {
        "csv": ", header = true, max_line_size = 10000000",
        "jsonl": ", format = 'newline_delimited'",
    }.get(ext, "")
    listed = ", ".join(f"'{f}'" for f in files)
    rows = duckdb.sql(f"SELECT _journal, _pos FROM {reader}([{listed}]{options})").fetchall()
    return [(str(j), int(p)) for j, p in rows]


def _files(root: Path, ext: str) -> Callable[[str], list[tuple[str, int]]]:
    def read(table: str) -> list[tuple[str, int]]:
        return read_files(sorted((root / table).glob(f"*.{ext}")))

    return read


async def store(kind: str, tmp_path: Path, *, roll: RollPolicy | None = None) -> AsyncIterator[Store]:
    """A :class:`Store` of ``kind`` (PostgreSQL: a fresh schema, dropped afterwards)."""
    if kind == "duckdb":
        path = tmp_path / "t.duckdb"

        def read_duck(table: str) -> list[tuple[str, int]]:
            con = duckdb.connect(str(path), read_only=True)
            try:
                names = {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables()").fetchall()}
                if table not in names:
                    return []
                return [
                    (str(j), int(p)) for j, p in con.sql(f'SELECT _journal, _pos FROM "{table}"').fetchall()
                ]
            finally:
                con.close()

        # let go after every call, at once: the store is read between calls in this process
        yield Store(kind, lambda: DuckDBSink(path, STOCKS, release_every=0.0, release_gap=0.0), read_duck)
    elif kind == "postgres":
        url = service_url("TICKWIRE_POSTGRES_URL")
        schema = f"tw_{uuid.uuid4().hex[:10]}"
        try:
            admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            unavailable("PostgreSQL", exc)

        def read_pg(table: str) -> list[tuple[str, int]]:
            got = admin.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                (schema, table),
            ).fetchall()
            if not got:
                return []
            rows = admin.execute(f'SELECT _journal, _pos FROM "{schema}"."{table}"').fetchall()
            return [(str(j), int(p)) for j, p in rows]

        try:
            yield Store(kind, lambda: PostgresSink(url, STOCKS, schema=schema), read_pg)
        finally:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.close()
    else:
        root = tmp_path / kind
        if kind == "parquet":
            yield Store(kind, lambda: ParquetSink(root, STOCKS, roll=roll), _files(root, "parquet"))
        else:
            fmt = "csv" if kind == "csv" else "jsonl"
            yield Store(kind, lambda: FileSink(root, STOCKS, fmt, roll=roll), _files(root, fmt))
