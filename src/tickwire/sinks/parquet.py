"""A Parquet dataset partitioned by channel (table) and UTC date.

Layout: ``<root>/channel=<table>/date=<YYYY-MM-DD>/part-<unix ms>-<n>.parquet``. Each write adds
complete files (written under a temporary name, then renamed), so the dataset is always
readable while recording goes on, e.g. ``duckdb`` ``read_parquet('<root>/channel=stocks_trades/*/*.parquet',
hive_partitioning=true)``. The runner's batching decides the file size (``flush_interval``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from tickwire.events import Event
from tickwire.sinks.arrow import to_arrow
from tickwire.tables import TableRegistry, TableSpec, group_by_table

__all__ = ["ParquetSink"]


class ParquetSink:
    """Writes each batch as new Parquet files, one per table and date (see the module docstring)."""

    def __init__(
        self, root: str | os.PathLike[str], tables: TableRegistry, *, compression: str = "zstd"
    ) -> None:
        self.root = Path(root)
        self.tables = tables
        self.compression = compression
        self.name = f"parquet:{self.root}"
        self._seq = itertools.count(1)

    async def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    async def write(self, events: list[Event]) -> None:
        groups = group_by_table(self.tables, events)
        if groups:
            await asyncio.to_thread(self.write_sync, groups)

    def write_sync(self, groups: dict[TableSpec, list[Event]]) -> None:
        stamp = time.time_ns() // 1_000_000
        for spec, evs in groups.items():
            table = to_arrow(spec, evs)
            dates = pc.strftime(
                pc.fill_null(table["ts"], pa.scalar(0, pa.timestamp("ns"))), format="%Y-%m-%d"
            )
            for date in pc.unique(dates).to_pylist():
                part = table.filter(pc.equal(dates, date)) if len(pc.unique(dates)) > 1 else table
                folder = self.root / f"channel={spec.name}" / f"date={date}"
                folder.mkdir(parents=True, exist_ok=True)
                name = f"part-{stamp}-{next(self._seq):06d}.parquet"
                tmp = folder / ("." + name + ".tmp")
                pq.write_table(part, tmp, compression=self.compression)
                os.replace(tmp, folder / name)

    async def close(self) -> None:
        return None
