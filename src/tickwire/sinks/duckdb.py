"""The embedded database: a DuckDB file with one typed table per event kind.

DuckDB lets one process at a time open a database file. So the sink closes the file at least every
``release_every`` seconds (closing also checkpoints it) and reopens it for the next write: other
processes (``tickwire query``) get in between writes while recording goes on. A write that finds
the file locked by a reader fails and is retried by the runner with the same batch, nothing is lost.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

from tickwire.events import Event
from tickwire.sinks.arrow import to_arrow
from tickwire.tables import TableRegistry, TableSpec, group_by_table

__all__ = ["DuckDBSink", "duckdb_type"]

_DUCK = {
    "int": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DECIMAL(38, 9)",
    "str": "VARCHAR",
    "bool": "BOOLEAN",
    "ints": "BIGINT[]",
    "json": "VARCHAR",
    "ts": "TIMESTAMP",
}


def duckdb_type(column_type: str) -> str:
    return _DUCK[column_type]


class DuckDBSink:
    """Appends events to ``path`` (a DuckDB database file), one table per ``tables`` spec."""

    def __init__(
        self, path: str | os.PathLike[str], tables: TableRegistry, *, release_every: float | None = 1.0
    ) -> None:
        self.path = Path(path)
        self.tables = tables
        self.release_every = release_every
        self._opened_at = 0.0
        self.name = f"duckdb:{self.path}"
        self._created: set[str] = set()
        self._con: Any = None
        self._lock = threading.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)

    async def write(self, events: list[Event]) -> None:
        groups = group_by_table(self.tables, events)
        if groups:
            await asyncio.to_thread(self.write_sync, groups)

    def write_sync(self, groups: dict[TableSpec, list[Event]]) -> None:
        """Insert the groups in one transaction (all or nothing)."""
        import duckdb

        with self._lock:
            con = self._con
            if con is None:
                con = duckdb.connect(str(self.path))
                self._opened_at = time.monotonic()
            try:
                con.execute("BEGIN")
                for spec, evs in groups.items():
                    self._ensure(con, spec)
                    batch = to_arrow(spec, evs)  # noqa: F841 (read by name in the SQL below)
                    con.execute(f'INSERT INTO "{spec.name}" SELECT * FROM batch')
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            finally:
                release = self.release_every
                if release is not None and time.monotonic() - self._opened_at >= release:
                    con.close()
                    self._con = None
                else:
                    self._con = con

    def _ensure(self, con: Any, spec: TableSpec) -> None:
        if spec.name in self._created:
            return
        cols = ", ".join(f'"{c.name}" {_DUCK[c.type]}' for c in spec.columns)
        con.execute(f'CREATE TABLE IF NOT EXISTS "{spec.name}" ({cols})')
        self._created.add(spec.name)

    async def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
