"""The embedded database: a DuckDB file with one typed table per event kind, exact to the event.

Every table has the spec's columns plus ``_journal VARCHAR, _pos BIGINT`` (the journal id and the
event's position: its natural key). ``_tickwire_watermarks(journal, pos, updated)`` holds, per
journal, the position up to which the file holds every event; a batch's rows and the new watermark
are written in **one transaction**, and the rows of a batch before the stored watermark are left
out, so replaying a journal twice adds nothing and a crash at any moment loses nothing the journal
will not give again. There is no primary-key index on ``(_journal, _pos)``: the watermark already
makes the rows exact, and the index would halve the insert rate (the sink writes Arrow tables
straight into DuckDB, several hundred thousand events a second).

DuckDB lets one process at a time open a database file. So the sink closes the file once it has
held it ``release_every`` seconds (closing also checkpoints it) and stays away ``release_gap``
seconds before it opens it again: other processes (``tickwire query``, a notebook) get in while
recording goes on, even when the sink writes back to back. The watermark read that follows each
write is answered from the value read back in the write's own transaction when the file has just
been let go, so it does not take the file back at once. A write that finds the file locked by a
reader fails (not a data error) and is retried with the same batch.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from bisect import bisect_left
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from tickwire.sinks.arrow import CONVERSION_ERRORS, to_arrow
from tickwire.sinks.base import JOURNAL_COLUMN, POS_COLUMN, SinkBatch, by_table
from tickwire.tables import TableRegistry, TableSpec

__all__ = ["WATERMARKS", "DuckDBSink", "duckdb_type"]

WATERMARKS = "_tickwire_watermarks"
"""The table of each journal's watermark (``journal`` primary key, ``pos``, ``updated``)."""

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
_STAGED = "_tw_rows"
CHUNK_ROWS = 50_000
"""Rows converted and inserted at a time (see :meth:`DuckDBSink._insert_all`)."""


def duckdb_type(column_type: str) -> str:
    return _DUCK[column_type]


class DuckDBSink:
    """Writes events to ``path`` (a DuckDB database file), one table per ``tables`` spec."""

    batch_events = 250_000
    """Batches this large let DuckDB write a table's rows straight to the file (a row group, 122,880
    rows, or more per table), not once to the write-ahead log and again at the checkpoint."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        tables: TableRegistry,
        *,
        release_every: float | None = 1.0,
        release_gap: float = 0.1,
    ) -> None:
        self.path = Path(path)
        self.tables = tables
        self.release_every = release_every
        self.release_gap = release_gap
        self.name = f"duckdb:{self.path}"
        self._opened_at = 0.0
        self._released_at: float | None = None
        self._committed: dict[str, int] = {}  # journal -> watermark read back by the last commit
        self._created: set[str] = set()  # tables known to exist (added only once committed)
        self._con: Any = None
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._releaser: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # (re)opened: what the file holds is read from it, never remembered from before
        self._committed.clear()
        self._created.clear()

    async def watermark(self, journal: str) -> int:
        try:
            return await asyncio.to_thread(self._watermark_sync, journal)
        finally:
            self._release_when_idle()

    async def write(self, batch: SinkBatch) -> None:
        try:
            await asyncio.to_thread(self.write_sync, batch)
        finally:
            self._release_when_idle()

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        if self._releaser is not None:
            self._releaser.cancel()
            self._releaser = None
        with self._lock:
            self._committed.clear()
            if self._con is not None:
                self._con.close()
                self._con = None
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    def is_data_error(self, exc: BaseException) -> bool:
        """Values DuckDB or the Arrow conversion refuse; an I/O error (the file locked by a reader,
        disk full) or a closed connection is not one."""
        import duckdb

        return isinstance(
            exc,
            (
                *CONVERSION_ERRORS,
                duckdb.ConversionException,
                duckdb.OutOfRangeException,
                duckdb.InvalidInputException,
                duckdb.TypeMismatchException,
                duckdb.ConstraintException,
            ),
        )

    def _release_when_idle(self) -> None:
        """Let go of the file ``release_every`` seconds after opening it even if no call comes to
        do it (a quiet stream): the file is never held longer than that while the sink is idle."""
        if self.release_every is None or self._con is None or self._releaser is not None:
            return
        self._releaser = asyncio.get_running_loop().create_task(self._release_in_time())

    async def _release_in_time(self) -> None:
        assert self.release_every is not None
        try:
            while self._con is not None:
                await asyncio.sleep(max(0.0, self._opened_at + self.release_every - time.monotonic()))
                await asyncio.to_thread(self._release_held)
        finally:
            self._releaser = None

    def _release_held(self) -> None:
        with self._lock:
            if self._con is not None:
                self._release(self._con)

    # ------------------------------------------------------------------ synchronous core

    def _watermark_sync(self, journal: str) -> int:
        with self._lock:
            if self._con is None and journal in self._committed:  # just let go: keep away
                return self._committed[journal]
            con = self._connect()
            try:
                return _stored(con, journal)
            finally:
                self._release(con)

    def write_sync(self, batch: SinkBatch) -> None:
        """The batch's new rows and its watermark in one transaction (all or nothing)."""
        groups = by_table(self.tables, batch)
        with self._lock:
            con = self._connect()
            try:
                self._ensure(con, groups)
                con.execute("BEGIN")
                try:
                    held = _stored(con, batch.journal)
                    if batch.end > held:
                        self._insert_all(con, groups, batch.journal, held)
                        con.execute(
                            f"INSERT INTO {WATERMARKS} VALUES (?, ?, now()) ON CONFLICT (journal) DO UPDATE "
                            f"SET pos = greatest({WATERMARKS}.pos, excluded.pos), updated = excluded.updated",
                            [batch.journal, batch.end],
                        )
                    con.execute("COMMIT")
                except BaseException:
                    self._committed.pop(batch.journal, None)
                    con.execute("ROLLBACK")
                    raise
                self._committed[batch.journal] = _stored(con, batch.journal)
            finally:
                self._release(con)

    def _insert_all(
        self, con: Any, groups: dict[TableSpec, tuple[list[Any], list[int]]], journal: str, held: int
    ) -> None:
        """Every row from position ``held`` on, in chunks: while DuckDB inserts one chunk (in a worker
        thread; it lets go of the GIL) the next is converted to Arrow (Python, holding it), so the two
        costs overlap instead of adding up. The connection is used by one thread at a time."""
        pool = self._pool
        if pool is None:
            pool = self._pool = ThreadPoolExecutor(1, thread_name_prefix="tickwire-duckdb")
        pending: Future[None] | None = None
        try:
            for spec, (events, positions) in groups.items():
                for at in range(bisect_left(positions, held), len(positions), CHUNK_ROWS):
                    end = at + CHUNK_ROWS
                    rows = to_arrow(spec, events[at:end], journal, positions[at:end])
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(self._insert, con, spec, rows)
            if pending is not None:
                done, pending = pending, None
                done.result()
        finally:
            if pending is not None:  # a conversion failed: never roll back under a running insert
                wait([pending])

    def _insert(self, con: Any, spec: TableSpec, rows: Any) -> None:
        con.register(_STAGED, rows)
        try:
            con.execute(f'INSERT INTO "{spec.name}" BY NAME SELECT * FROM {_STAGED}')
        finally:
            con.unregister(_STAGED)

    def _connect(self) -> Any:
        import duckdb

        con = self._con
        if con is None:
            if self._released_at is not None:  # the gap readers get in by
                time.sleep(max(0.0, self._released_at + self.release_gap - time.monotonic()))
            con = self._con = duckdb.connect(str(self.path))
            self._opened_at = time.monotonic()
            if WATERMARKS not in self._created:
                con.execute(
                    f"CREATE TABLE IF NOT EXISTS {WATERMARKS} "
                    "(journal VARCHAR PRIMARY KEY, pos BIGINT NOT NULL, updated TIMESTAMPTZ NOT NULL)"
                )
                self._created.add(WATERMARKS)
        return con

    def _release(self, con: Any) -> None:
        """Close the file when it has been held ``release_every`` seconds (readers get in)."""
        release = self.release_every
        if release is not None and time.monotonic() - self._opened_at >= release:
            con.close()
            self._con = None
            self._released_at = time.monotonic()

    def _ensure(self, con: Any, groups: dict[TableSpec, Any]) -> None:
        """Create the batch's missing tables, each committed on its own before the data transaction,
        so a failed write never leaves the sink believing in a table that was rolled back. A table
        of an older tickwire gets the ``_journal``/``_pos`` columns (null in its old rows)."""
        for spec in groups:
            if spec.name in self._created:
                continue
            cols = ", ".join(f'"{c.name}" {_DUCK[c.type]}' for c in spec.columns)
            keys = f"{JOURNAL_COLUMN} VARCHAR, {POS_COLUMN} BIGINT"
            con.execute(f'CREATE TABLE IF NOT EXISTS "{spec.name}" ({cols}, {keys})')
            have = {
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() "
                    "WHERE table_name = ? AND schema_name = current_schema()",
                    [spec.name],
                ).fetchall()
            }
            for col, kind in ((JOURNAL_COLUMN, "VARCHAR"), (POS_COLUMN, "BIGINT")):
                if col not in have:
                    con.execute(f'ALTER TABLE "{spec.name}" ADD COLUMN {col} {kind}')
            self._created.add(spec.name)


def _stored(con: Any, journal: str) -> int:
    rows = con.execute(f"SELECT pos FROM {WATERMARKS} WHERE journal = ?", [journal]).fetchall()
    return int(rows[0][0]) if rows else 0
