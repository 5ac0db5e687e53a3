"""Files named by the journal range they hold: Parquet (:mod:`tickwire.sinks.parquet`), CSV, JSON lines.

Layout: ``<root>/<table>/<journal>-<start>-<end>.<ext>``, ``start`` and ``end`` the journal
positions (see :mod:`tickwire.journal.position`; 19 digits, zero-padded, so names sort in journal
order) of the range ``[start, end)`` whose events of that table the file holds. Every row also
carries ``_journal`` and ``_pos``.

Theory of operation
-------------------
Rows are buffered across batches (already converted, so a bad value fails the ``write`` of its own
batch and the buffer stays clean) and *rolled* into files when the buffer reaches
:class:`RollPolicy` ``rows``, ``bytes`` (the in-memory size, a little above the file's) or
``seconds`` since its first row, on :meth:`flush` and on :meth:`close`. Rolling writes one file per
table that has rows, all named by the buffer's range: each is written to ``.<name>.tmp``, fsynced,
and only when all are complete renamed to their names. The **watermark** of a journal is the
largest ``end`` among its files (listed at open, cached after), so rows and watermark move together
with the rename. A range with no stored rows at all (only control events) is recorded by a marker,
``<root>/_watermarks/<journal>``.

After a crash, :meth:`open` finds leftover temp files: when a file of the same range was renamed,
every temp of that range was complete, so the rest are renamed too (the roll is finished);
otherwise they are removed and the range is written again from the journal. Either way no event
is held twice and none is missing. Directories of other layouts are left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]

from tickwire.errors import ConfigError
from tickwire.events import Event
from tickwire.sinks.arrow import CONVERSION_ERRORS, to_arrow
from tickwire.sinks.base import SinkBatch, by_table, unwritten
from tickwire.sinks.rows import row_json
from tickwire.tables import TableRegistry, TableSpec

__all__ = ["FileSink", "RollPolicy", "RollingFileSink", "file_name"]

log = logging.getLogger("tickwire.sinks")

_ENC = msgspec.json.Encoder()
_JOURNAL_ID = re.compile(r"^[A-Za-z0-9_]+$")
_FILE = re.compile(r"^(?P<journal>[A-Za-z0-9_]+)-(?P<start>\d{19})-(?P<end>\d{19})\.(?P<ext>[a-z]+)$")
_MARKERS = "_watermarks"


@dataclass(frozen=True, slots=True)
class RollPolicy:
    """When the open buffer becomes files: whichever of ``rows``, ``bytes`` or ``seconds`` (age of
    its first row) comes first. The defaults give files of tens of MB at market-data rates."""

    rows: int = 1_000_000
    bytes: int = 64 << 20
    seconds: float = 60.0


def file_name(journal: str, start: int, end: int, ext: str) -> str:
    """``<journal>-<start>-<end>.<ext>``: the name of the file holding positions ``[start, end)``."""
    return f"{journal}-{start:019d}-{end:019d}.{ext}"


@dataclass
class _Buffer:
    """Converted rows not yet in files: one journal's range ``[start, end)``."""

    journal: str | None = None
    start: int = 0
    end: int = 0
    chunks: dict[TableSpec, list[Any]] = field(default_factory=dict)
    rows: int = 0
    nbytes: int = 0
    opened: float | None = None  # time.monotonic() of the first row


class RollingFileSink:
    """The rolling, range-named file sink (see the module doc); subclasses give the format."""

    ext: str
    """The files' extension (``parquet``, ``csv``, ``jsonl``)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        tables: TableRegistry,
        *,
        roll: RollPolicy | None = None,
        fsync: bool = True,
    ) -> None:
        self.root = Path(root)
        self.tables = tables
        self.roll = roll or RollPolicy()
        self.fsync = fsync
        self.name = f"{self.ext}:{self.root}"
        self._committed: dict[str, int] | None = None
        self._buf = _Buffer()
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ the Sink protocol

    async def open(self) -> None:
        async with self._lock:
            await self._listing()
        if self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(
                self._roll_by_time(), name=f"roll {self.name}"
            )

    async def watermark(self, journal: str) -> int:
        async with self._lock:
            return (await self._listing()).get(journal, 0)

    async def write(self, batch: SinkBatch) -> None:
        journal = _checked_journal(batch.journal)
        async with self._lock:
            committed = await self._listing()
            buf = self._buf
            if buf.journal is not None and buf.journal != journal:
                await self._roll()
                buf = self._buf
            held = max(committed.get(journal, 0), buf.end if buf.journal == journal else 0)
            part = unwritten(batch, held)
            if part.end > held:
                converted = await asyncio.to_thread(self._convert_batch, part) if part.events else []
                if buf.journal is None:
                    buf.journal, buf.start = journal, part.start
                for spec, chunk, n, size in converted:
                    buf.chunks.setdefault(spec, []).append(chunk)
                    buf.rows += n
                    buf.nbytes += size
                if converted and buf.opened is None:
                    buf.opened = time.monotonic()
                    self._wake.set()
                buf.end = part.end
            if self._due(buf):
                await self._roll()

    async def flush(self) -> None:
        async with self._lock:
            await self._roll()

    async def close(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        await self.flush()

    def is_data_error(self, exc: BaseException) -> bool:
        """A value the format cannot hold (see :mod:`tickwire.sinks.arrow`); OS errors (disk full,
        permissions) are not: the same batch is retried."""
        return isinstance(exc, (*CONVERSION_ERRORS, msgspec.EncodeError))

    # ------------------------------------------------------------------ the format (subclasses)

    def convert(
        self, spec: TableSpec, events: list[Event], journal: str, positions: list[int]
    ) -> tuple[Any, int]:
        """One table's events of a batch as a buffered chunk, and its size in bytes."""
        raise NotImplementedError

    def write_file(self, spec: TableSpec, chunks: list[Any], path: Path) -> None:
        """Write a table's chunks (in order) to ``path``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ rolling

    def _convert_batch(self, batch: SinkBatch) -> list[tuple[TableSpec, Any, int, int]]:
        out = []
        for spec, (events, positions) in by_table(self.tables, batch).items():
            chunk, size = self.convert(spec, events, batch.journal, positions)
            out.append((spec, chunk, len(events), size))
        return out

    def _due(self, buf: _Buffer) -> bool:
        roll = self.roll
        return (
            buf.rows >= roll.rows
            or buf.nbytes >= roll.bytes
            or (buf.opened is not None and time.monotonic() - buf.opened >= roll.seconds)
        )

    async def _roll(self) -> None:
        """Commit the buffer (lock held): files renamed into place, then the cached watermark."""
        buf = self._buf
        committed = await self._listing()
        if buf.journal is None or buf.end <= committed.get(buf.journal, 0):
            self._buf = _Buffer()
            return
        await asyncio.to_thread(self._commit, buf)
        committed[buf.journal] = buf.end
        self._buf = _Buffer()

    def _commit(self, buf: _Buffer) -> None:
        assert buf.journal is not None
        staged: list[tuple[Path, Path]] = []
        try:
            for spec, chunks in buf.chunks.items():
                folder = self.root / spec.name
                folder.mkdir(parents=True, exist_ok=True)
                final = folder / file_name(buf.journal, buf.start, buf.end, self.ext)
                tmp = folder / f".{final.name}.tmp"
                staged.append((tmp, final))
                self.write_file(spec, chunks, tmp)
                if self.fsync:
                    _fsync(tmp)
        except BaseException:
            for tmp, _ in staged:
                with contextlib.suppress(OSError):
                    tmp.unlink()
            raise
        for tmp, final in staged:
            os.replace(tmp, final)
        if self.fsync:
            for folder in {final.parent for _, final in staged}:
                _fsync(folder)
        if not staged:
            self._mark(buf.journal, buf.end)

    def _mark(self, journal: str, end: int) -> None:
        """A range without rows: its end kept in ``_watermarks/<journal>`` (temp file + rename)."""
        folder = self.root / _MARKERS
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{journal}.tmp"
        tmp.write_text(str(end))
        if self.fsync:
            _fsync(tmp)
        os.replace(tmp, folder / journal)

    async def _roll_by_time(self) -> None:
        """Roll the buffer ``roll.seconds`` after its first row even when no write comes."""
        while True:
            opened = self._buf.opened
            if opened is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            await asyncio.sleep(max(0.0, opened + self.roll.seconds - time.monotonic()))
            async with self._lock:
                if self._buf.opened is None or not self._due(self._buf):
                    continue
                try:
                    await self._roll()
                except Exception as exc:  # the next write or flush tries again
                    log.warning("%s: rolling failed: %s: %s", self.name, type(exc).__name__, exc)
            if self._buf.opened is not None:
                await asyncio.sleep(min(1.0, self.roll.seconds))

    # ------------------------------------------------------------------ the listing

    async def _listing(self) -> dict[str, int]:
        """Each journal's watermark (lock held): listed once, then kept up to date by rolling."""
        if self._committed is None:
            self._committed = await asyncio.to_thread(self._scan)
        return self._committed

    def _scan(self) -> dict[str, int]:
        """List the committed files; finish or remove what a crash left (see the module doc)."""
        self.root.mkdir(parents=True, exist_ok=True)
        marks: dict[str, int] = {}
        ranges: set[tuple[str, int, int]] = set()
        temps: list[Path] = []
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            if folder.name == _MARKERS:
                for f in folder.iterdir():
                    if f.name.startswith("."):
                        f.unlink(missing_ok=True)
                    elif _JOURNAL_ID.match(f.name):
                        with contextlib.suppress(ValueError):
                            marks[f.name] = max(marks.get(f.name, 0), int(f.read_text()))
                continue
            for entry in os.scandir(folder):
                name = entry.name
                if name.startswith(".") and name.endswith(".tmp"):
                    temps.append(Path(entry.path))
                elif (m := _FILE.match(name)) is not None and m["ext"] == self.ext:
                    ranges.add((m["journal"], int(m["start"]), int(m["end"])))
        for tmp in temps:
            m = _FILE.match(tmp.name[1:-4])
            if m is None or m["ext"] != self.ext:
                continue
            if (m["journal"], int(m["start"]), int(m["end"])) in ranges:
                os.replace(tmp, tmp.with_name(tmp.name[1:-4]))
                log.info("%s: finished rolling %s (interrupted)", self.name, tmp.name[1:-4])
            else:
                tmp.unlink(missing_ok=True)
                log.info("%s: removed %s (an interrupted roll; written again)", self.name, tmp.name)
        for journal, _, end in ranges:
            marks[journal] = max(marks.get(journal, 0), end)
        return marks


def _checked_journal(journal: str) -> str:
    if not _JOURNAL_ID.match(journal):
        raise ConfigError(f"journal id {journal!r} cannot name a file (letters, digits and _ only)")
    return journal


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileSink(RollingFileSink):
    """CSV (a header per file; lists and JSON values as JSON text, decimals in plain notation) or
    JSON lines: each event's normalized row (the table's columns, ``ts`` in int ns; see
    :mod:`tickwire.sinks.rows`) plus ``_journal`` and ``_pos``, or with ``wire=True`` the event as
    tickwire encodes it (for Massive the wire keys ``sym``, ``p``, ``t``...)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        tables: TableRegistry,
        fmt: Literal["csv", "jsonl"] = "csv",
        *,
        roll: RollPolicy | None = None,
        fsync: bool = True,
        wire: bool = False,
    ) -> None:
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"file format must be csv or jsonl, not {fmt!r}")
        self.fmt = fmt
        self.ext = fmt
        self.wire = wire
        super().__init__(root, tables, roll=roll, fsync=fsync)

    def convert(
        self, spec: TableSpec, events: list[Event], journal: str, positions: list[int]
    ) -> tuple[Any, int]:
        if self.fmt == "jsonl":
            objs = [_ENC.encode(ev) for ev in events] if self.wire else row_json(spec, events)
            lines = _json_lines(objs, journal, positions)
            return lines, len(lines)
        table = _flatten(to_arrow(spec, events, journal, positions))
        return table, table.nbytes

    def write_file(self, spec: TableSpec, chunks: list[Any], path: Path) -> None:
        with path.open("wb") as f:
            if self.fmt == "jsonl":
                f.writelines(chunks)
            else:
                buf = io.BytesIO()
                pacsv.write_csv(pa.concat_tables(chunks), buf)
                f.write(buf.getbuffer())


def _json_lines(objects: Sequence[bytes], journal: str, positions: Sequence[int]) -> bytes:
    """JSON objects as lines, each ending ``"_journal":...,"_pos":N}``."""
    tail = b',"_journal":' + _ENC.encode(journal) + b',"_pos":'
    out = bytearray()
    for line, pos in zip(objects, positions, strict=True):
        out += line[:-1]
        out += tail
        out += str(pos).encode()
        out += b"}\n"
    return bytes(out)


def _flatten(table: pa.Table) -> pa.Table:
    """List columns as JSON text (CSV has no lists); decimals in plain notation (``0.000000000``,
    which Arrow would write ``0E-9``)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_list(f.type):
            values = [None if v is None else _ENC.encode(v).decode() for v in table.column(i).to_pylist()]
            table = table.set_column(i, f.name, pa.array(values, pa.string()))
        elif pa.types.is_decimal(f.type):
            values = [None if v is None else format(v, "f") for v in table.column(i).to_pylist()]
            table = table.set_column(i, f.name, pa.array(values, pa.string()))
    return table
