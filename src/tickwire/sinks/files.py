"""Plain files for people who want them: CSV (one file per table and UTC date) or JSON lines
(events as tickwire encodes them, one file per table and date; for Massive that is the wire form).

``<root>/<table>/<YYYY-MM-DD>.csv`` (a header when the file is new; list and JSON values as JSON
text, decimals as plain numbers) or ``<root>/<table>/<YYYY-MM-DD>.jsonl`` (decimals as strings).
The date is the event's own (UTC); events without a time go to ``1970-01-01``. Files are appended
to and flushed per batch.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
from pathlib import Path
from typing import Literal

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]

from tickwire.events import Event
from tickwire.sinks.arrow import to_arrow
from tickwire.tables import TableRegistry, TableSpec, group_by_table

__all__ = ["FileSink"]

_ENC = msgspec.json.Encoder()


class FileSink:
    """Appends each batch to CSV or JSON-lines files, one per table and date."""

    def __init__(
        self, root: str | os.PathLike[str], tables: TableRegistry, fmt: Literal["csv", "jsonl"] = "csv"
    ) -> None:
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"file format must be csv or jsonl, not {fmt!r}")
        self.root = Path(root)
        self.tables = tables
        self.fmt = fmt
        self.name = f"{fmt}:{self.root}"

    async def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    async def write(self, events: list[Event]) -> None:
        groups = group_by_table(self.tables, events)
        if groups:
            await asyncio.to_thread(self.write_sync, groups)

    def write_sync(self, groups: dict[TableSpec, list[Event]]) -> None:
        for spec, evs in groups.items():
            folder = self.root / spec.name
            folder.mkdir(parents=True, exist_ok=True)
            if self.fmt == "jsonl":
                by_date: dict[str, list[bytes]] = {}
                for ev in evs:
                    ns = spec.time_ns(ev) or 0
                    date = time.strftime("%Y-%m-%d", time.gmtime(ns / 1e9))
                    by_date.setdefault(date, []).append(_ENC.encode(ev))
                for date, lines in by_date.items():
                    with (folder / f"{date}.jsonl").open("ab") as f:
                        f.write(b"\n".join(lines) + b"\n")
                continue
            table = _flatten(to_arrow(spec, evs))
            dates = pc.strftime(
                pc.fill_null(table["ts"], pa.scalar(0, pa.timestamp("ns"))), format="%Y-%m-%d"
            )
            for date in pc.unique(dates).to_pylist():
                part = table.filter(pc.equal(dates, date))
                path = folder / f"{date}.csv"
                new = not path.exists() or path.stat().st_size == 0
                buf = io.BytesIO()
                pacsv.write_csv(part, buf, pacsv.WriteOptions(include_header=new))
                with path.open("ab") as f:
                    f.write(buf.getvalue())

    async def close(self) -> None:
        return None


def _flatten(table: pa.Table) -> pa.Table:
    """List columns as JSON text (CSV has no lists); decimals in plain notation (``0.000000000``,
    which Arrow would write ``0E-9``)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            values = [None if v is None else _ENC.encode(v).decode() for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(values, pa.string()))
        elif pa.types.is_decimal(field.type):
            values = [None if v is None else format(v, "f") for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(values, pa.string()))
    return table
