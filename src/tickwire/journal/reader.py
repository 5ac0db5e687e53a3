"""Reading journals: records in order, verification, torn-tail repair.

A record that fails its length or CRC check ends a segment's readable part. At the tail of the
newest segment that is the normal result of a crash mid-write (a *torn tail*): the writer cuts it
off when it reopens the journal (keeping the cut bytes in a ``.torn`` file). Anywhere else it is
corruption, reported by :func:`verify` and skipped (with a count) by :func:`read_records`. A
compressed segment that stops decompressing yields what came before the damage. Reading a
directory, a segment that is not readable at all (bad header) is reported and skipped too; a
single file given on its own raises :class:`JournalError`.
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from tickwire.errors import JournalError
from tickwire.journal.format import FILE_HEADER, FRAME, HEADER, MAGIC, MAX_RECORD, META, segments

__all__ = [
    "JournalError",
    "Record",
    "SegmentReport",
    "VerifyReport",
    "journal_meta",
    "read_records",
    "read_segment",
    "repair_tail",
    "verify",
]

log = logging.getLogger("tickwire.journal")

_CRC = zlib.crc32
_HLEN = HEADER.size
_FLEN = FILE_HEADER.size


class Record(msgspec.Struct, frozen=True, gc=False):
    """One journal record: a received frame (``kind == FRAME``) or session metadata (``META``)."""

    kind: int
    recv_ns: int
    epoch: int
    data: bytes
    segment: int = 0
    offset: int = 0

    @property
    def is_frame(self) -> bool:
        return self.kind == FRAME


@dataclass
class SegmentReport:
    """What :func:`scan_segment` found in one segment."""

    index: int
    path: Path
    records: int = 0
    frames: int = 0
    bytes: int = 0
    good_until: int = 0  # offset after the last good record
    size: int = 0
    error: str | None = None
    first_ns: int | None = None
    last_ns: int | None = None

    @property
    def torn(self) -> bool:
        return self.error is not None


@dataclass
class VerifyReport:
    """The result of :func:`verify`: per-segment reports and totals."""

    segments: list[SegmentReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.error is None for s in self.segments)

    @property
    def records(self) -> int:
        return sum(s.records for s in self.segments)

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.segments)

    @property
    def errors(self) -> list[str]:
        return [f"{s.path.name}: {s.error}" for s in self.segments if s.error is not None]


def _load(path: Path) -> tuple[bytes, str | None]:
    """A segment's bytes (decompressed), and why decompression stopped early, if it did."""
    if not path.name.endswith(".zst"):
        return path.read_bytes(), None
    import zstandard

    chunks: list[bytes] = []
    error: str | None = None
    with path.open("rb") as f:
        reader = zstandard.ZstdDecompressor().stream_reader(f)
        try:
            while chunk := reader.read(1 << 16):  # small reads: keep what came before a bad block
                chunks.append(chunk)
        except zstandard.ZstdError as exc:
            error = f"corrupt compressed data after {sum(map(len, chunks))} bytes ({exc})"
    return b"".join(chunks), error


def _check_header(buf: bytes | memoryview, path: Path) -> None:
    if len(buf) < _FLEN:
        raise JournalError(f"{path}: too short for a journal segment ({len(buf)} bytes)")
    magic, version, _flags, _created = FILE_HEADER.unpack_from(buf, 0)
    if magic != MAGIC:
        raise JournalError(f"{path}: not a tickwire journal segment (magic {magic!r})")
    if version != 1:
        raise JournalError(f"{path}: journal version {version} is newer than this tickwire understands")


def _iter_buffer(buf: bytes, index: int, report: SegmentReport | None) -> Iterator[Record]:
    """Parse records from a whole segment's bytes; stops at the first bad record (noted in ``report``)."""
    mv = memoryview(buf)
    end = len(buf)
    pos = _FLEN
    unpack = HEADER.unpack_from
    error: str | None = None
    while pos < end:
        if end - pos < _HLEN:
            error = f"torn record header at offset {pos}"
            break
        length, crc, recv_ns, epoch, kind, _ = unpack(mv, pos)
        body = pos + _HLEN
        if length > MAX_RECORD:
            error = f"impossible record length {length} at offset {pos}"
            break
        if body + length > end:
            error = f"torn record at offset {pos} ({end - body} of {length} payload bytes)"
            break
        if _CRC(mv[body : body + length], _CRC(mv[pos + 8 : body])) != crc:
            error = f"CRC mismatch at offset {pos}"
            break
        data = buf[body : body + length]
        if report is not None:
            report.records += 1
            report.bytes += length
            if kind == FRAME:
                report.frames += 1
            if report.first_ns is None:
                report.first_ns = recv_ns
            report.last_ns = recv_ns
        yield Record(kind, recv_ns, epoch, data, index, pos)
        pos = body + length
    if report is not None:
        report.good_until = pos
        report.size = end
        report.error = error


def read_segment(path: Path, index: int = 0, report: SegmentReport | None = None) -> Iterator[Record]:
    """The good records of one segment file, in order."""
    buf, load_error = _load(path)
    _check_header(buf, path)
    yield from _iter_buffer(buf, index, report)
    if load_error is not None and report is not None:
        report.error = load_error  # the cause, rather than the torn record it left


def read_records(
    journal: str | os.PathLike[str], *, frames_only: bool = False, reports: list[SegmentReport] | None = None
) -> Iterator[Record]:
    """Every good record of a journal directory (or one segment file), oldest first.

    A bad record ends its segment's readable part and is logged; reading goes on with the next
    segment. Pass ``reports`` to collect per-segment reports.
    """
    root = Path(journal)
    single = root.is_file()
    items = [(0, root)] if single else segments(root)
    if not items and not root.exists():
        raise JournalError(f"no journal at {root}")
    for index, path in items:
        report = SegmentReport(index, path)
        try:
            for rec in read_segment(path, index, report):
                if not frames_only or rec.kind == FRAME:
                    yield rec
        except JournalError as exc:
            if single:
                raise
            report.error = str(exc)
        if report.error is not None:
            log.warning("journal %s: %s; the rest of this segment is unreadable", path.name, report.error)
        if reports is not None:
            reports.append(report)


def verify(journal: str | os.PathLike[str]) -> VerifyReport:
    """Check every record's length and CRC; nothing is modified."""
    report = VerifyReport()
    for _ in read_records(journal, reports=report.segments):
        pass
    return report


def repair_tail(path: Path) -> tuple[int, int]:
    """Cut a torn tail off an *uncompressed* segment: returns (good bytes kept, bytes cut).

    The cut bytes are kept beside it as ``<segment>.torn-<offset>``, never silently thrown away.
    """
    report = SegmentReport(0, path)
    for _ in read_segment(path, 0, report):
        pass
    if report.error is None:
        return report.good_until, 0
    cut = report.size - report.good_until
    with path.open("r+b") as f:
        f.seek(report.good_until)
        tail = f.read()
        (path.parent / f"{path.name}.torn-{report.good_until}").write_bytes(tail)
        f.truncate(report.good_until)
        f.flush()
        os.fsync(f.fileno())
    log.warning("journal %s: %s; cut %d bytes (kept in %s.torn-*)", path.name, report.error, cut, path.name)
    return report.good_until, cut


def journal_meta(journal: str | os.PathLike[str]) -> dict[str, object]:
    """The newest session metadata in a journal (market, url, subscriptions...), or ``{}``."""
    meta: dict[str, object] = {}
    root = Path(journal)
    single = root.is_file()
    items = [(0, root)] if single else segments(root)
    for index, path in items:
        try:
            for rec in read_segment(path, index):
                if rec.kind == META:
                    meta = msgspec.json.decode(rec.data)
                break  # the metadata record is the first of each segment
        except JournalError:
            if single:
                raise
    return meta
