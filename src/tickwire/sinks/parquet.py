"""Parquet files named by the journal range they hold, one directory per table.

Layout and commit protocol are those of :mod:`tickwire.sinks.files`:
``<root>/<table>/<journal>-<start>-<end>.parquet`` (zstd), complete files only (written under a
temporary name, then renamed), rolled every :class:`~tickwire.sinks.files.RollPolicy` (by default
a million rows, 64 MiB or a minute), so the dataset is always readable while recording goes on,
e.g. ``duckdb`` ``read_parquet('<root>/stocks_trades/*.parquet')``. Rows carry ``_journal`` and
``_pos``: the data of one range is in exactly one file per table.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tickwire.events import Event
from tickwire.sinks.arrow import to_arrow
from tickwire.sinks.files import RollingFileSink, RollPolicy
from tickwire.tables import TableRegistry, TableSpec

__all__ = ["ParquetSink"]


class ParquetSink(RollingFileSink):
    """Parquet files rolled from the buffered rows (see the module docstring)."""

    ext = "parquet"

    def __init__(
        self,
        root: str | os.PathLike[str],
        tables: TableRegistry,
        *,
        compression: str = "zstd",
        roll: RollPolicy | None = None,
        fsync: bool = True,
    ) -> None:
        super().__init__(root, tables, roll=roll, fsync=fsync)
        self.compression = compression

    def convert(
        self, spec: TableSpec, events: list[Event], journal: str, positions: list[int]
    ) -> tuple[Any, int]:
        table = to_arrow(spec, events, journal, positions)
        return table, table.nbytes

    def write_file(self, spec: TableSpec, chunks: list[Any], path: Path) -> None:
        pq.write_table(pa.concat_tables(chunks), path, compression=self.compression)
