"""Reading journals: records in order from any sequence number, verification, torn-tail repair.

A bad record (length, CRC, kind, a sequence number going backwards) is skipped: the reader
resyncs to the next record that checks and counts what it skipped (see :mod:`.parse`), so a bit
flip costs that one record, not the rest of its segment. Damage that runs to the end of the
newest segment is the normal result of a crash mid-write (a *torn tail*, also a newest segment
of 0 to 15 bytes, what a crash or a full disk at rotation leaves): the writer cuts it off when it
reopens the journal (keeping the cut bytes in a ``.torn`` file), and never anything before it.
Anywhere else damage is corruption, reported by :func:`verify` and skipped (with counts) by
:func:`read_records`. Reading a directory, a segment that is not readable at all (bad magic) is
reported and skipped too; a single file given on its own raises :class:`JournalError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from tickwire.errors import JournalError
from tickwire.journal.format import FILE_HEADER, JOURNAL_ID_FILE, META, segments
from tickwire.journal.parse import CHUNK, Record, SegmentParser, SegmentReport, segment_chunks

__all__ = [
    "JournalError",
    "JournalInfo",
    "Record",
    "SegmentReport",
    "VerifyReport",
    "first_record",
    "journal_id_of",
    "journal_info",
    "journal_meta",
    "read_records",
    "read_segment",
    "repair_tail",
    "resolve_journal_dir",
    "verify",
]

log = logging.getLogger("tickwire.journal")


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
    def skipped_bytes(self) -> int:
        """Bytes that belong to no readable record."""
        return sum(s.skipped_bytes for s in self.segments)

    @property
    def lost_records(self) -> int:
        """Records known to be unreadable (missing from the sequence)."""
        return sum(s.lost_records for s in self.segments)

    @property
    def damaged_regions(self) -> int:
        return sum(s.damaged_regions for s in self.segments)

    @property
    def head_seq(self) -> int:
        """The sequence number after the last good record."""
        last = [s.last_seq for s in self.segments if s.last_seq is not None]
        return max(last) + 1 if last else 0

    @property
    def errors(self) -> list[str]:
        return [f"{s.path.name}: {s.error}" for s in self.segments if s.error is not None]


def resolve_journal_dir(path: str | os.PathLike[str]) -> Path:
    """The journal directory for ``path``: a data directory holding ``journal/``, the journal
    directory itself, or one segment file (returned as given); :class:`JournalError` if none."""
    p = Path(path)
    if (p / "journal").is_dir() and not segments(p):
        return p / "journal"
    if p.is_dir() or p.is_file():
        return p
    raise JournalError(f"no journal at {p}")


def read_segment(
    path: Path,
    index: int = 0,
    report: SegmentReport | None = None,
    expect: int | None = None,
    previous: SegmentReport | None = None,
) -> Iterator[Record]:
    """The good records of one segment file, in order (see :class:`~.parse.SegmentParser` for
    ``expect`` and ``previous``)."""
    report = report if report is not None else SegmentReport(index, path)
    parser = SegmentParser(index, report, expect, previous)
    for chunk in segment_chunks(path, report):
        parser.feed(chunk)
        yield from parser.parse()
    yield from parser.parse(eof=True)


def first_record(path: Path, index: int = 0) -> Record | None:
    """The first good record of a segment (its META), reading as little as possible; None if
    it has none. Raises :class:`JournalError` for a file that is not a segment."""
    report = SegmentReport(index, path)
    parser = SegmentParser(index, report)
    read = 0
    for chunk in segment_chunks(path, report, 1 << 16):
        parser.feed(chunk)
        got = parser.parse()
        if got:
            return got[0]
        read += len(chunk)
        if read > 4 * CHUNK and not parser.started:
            return None
    got = parser.parse(eof=True)
    return got[0] if got else None


def _start(items: list[tuple[int, Path]], from_seq: int) -> tuple[int, int | None]:
    """Where to start reading for ``from_seq``: (position in ``items``, the sequence number its
    first record has, None if unknown). Version 1 segments, numbered by counting, start at 0."""
    if from_seq <= 0:
        return 0, _first_expect(items)
    for i in range(len(items) - 1, -1, -1):
        index, path = items[i]
        try:
            rec = first_record(path, index)
        except (JournalError, OSError):
            continue
        if rec is None:
            continue
        if _version(path) == 1:
            return 0, 0
        if rec.seq <= from_seq:
            return i, rec.seq
    return 0, _first_expect(items)


def _first_expect(items: list[tuple[int, Path]]) -> int | None:
    """0 for a journal whose oldest segment is version 1 (its records are numbered from 0)."""
    if items and _version(items[0][1]) == 1:
        return 0
    return None


def _file_header(path: Path) -> bytes:
    """A segment's 16-byte file header (fewer bytes if it has none)."""
    got = b""
    try:
        for chunk in segment_chunks(path, SegmentReport(0, path), FILE_HEADER.size):
            got += chunk
            if len(got) >= FILE_HEADER.size:
                break
    except OSError:
        pass
    return got[: FILE_HEADER.size]


def _version(path: Path) -> int:
    head = _file_header(path)
    return int(FILE_HEADER.unpack_from(head, 0)[1]) if len(head) == FILE_HEADER.size else 0


def read_records(
    journal: str | os.PathLike[str],
    *,
    from_seq: int = 0,
    frames_only: bool = False,
    reports: list[SegmentReport] | None = None,
) -> Iterator[Record]:
    """Every good record of a journal (its directory, the data directory holding it, or one
    segment file) with ``seq >= from_seq``, oldest first.

    Damage is skipped and logged, with counts in the segment's report (pass ``reports`` to
    collect them); reading goes on. Segments before the one holding ``from_seq`` are not read.
    """
    root = resolve_journal_dir(journal)
    single = root.is_file()
    items = [(0, root)] if single else segments(root)
    if single:
        first, expect = 0, (0 if _version(root) == 1 else None)
    else:
        first, expect = _start(items, from_seq)
    previous: SegmentReport | None = None
    for index, path in items[first:]:
        report = SegmentReport(index, path)
        try:
            for rec in read_segment(path, index, report, expect, previous):
                if rec.seq >= from_seq and (not frames_only or rec.is_frame):
                    yield rec
        except JournalError as exc:
            if single:
                raise
            report.problem(str(exc))
        except OSError as exc:
            if single:
                raise JournalError(f"{path}: {exc.strerror or exc}") from None
            report.problem(f"unreadable: {exc.strerror or exc}")
        if report.last_seq is not None:
            expect = report.last_seq + 1
        previous = report
        if report.error is not None:
            log.warning(
                "journal %s: %s (%d bytes skipped, %d records lost)",
                path.name,
                report.error,
                report.skipped_bytes,
                report.lost_records,
            )
        if reports is not None:
            reports.append(report)


def verify(journal: str | os.PathLike[str]) -> VerifyReport:
    """Check every record's length, CRC and sequence number; nothing is modified."""
    report = VerifyReport()
    for _ in read_records(journal, reports=report.segments):
        pass
    return report


def repair_tail(path: Path) -> tuple[int, int]:
    """Cut a torn tail off an *uncompressed* segment: returns (good bytes kept, bytes cut).

    Only what follows the last good record goes, never a good record (damage before it is left
    for the reader to skip). The cut bytes are kept beside it as ``<segment>.torn-<offset>`` (if
    the disk has room for them; the cut is logged either way). A segment too short to have a
    header is removed (its bytes kept in ``.torn-0``). Raises
    :class:`JournalError` for a file that is not a segment (bad magic).
    """
    report = SegmentReport(0, path)
    for _ in read_segment(path, 0, report):
        pass
    size = report.size
    keep = report.good_until if report.version else 0
    if keep >= size:
        if not report.version:  # an empty file: not even a header was written
            path.unlink()
        return keep, 0
    torn = path.parent / f"{path.name}.torn-{keep}"
    kept = "kept in " + torn.name
    with path.open("r+b") as f:
        f.seek(keep)
        tail = f.read()
        try:
            torn.write_bytes(tail)
        except OSError as exc:  # a full disk: the partial record goes, but not silently
            kept = f"could not be kept: {exc.strerror or exc}"
            with contextlib.suppress(OSError):
                torn.unlink()
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    if not keep:  # no complete file header: the whole file was the torn tail
        path.unlink()
    log.warning("journal %s: %s; cut %d bytes (%s)", path.name, report.error, size - keep, kept)
    return keep, size - keep


def journal_meta(journal: str | os.PathLike[str]) -> dict[str, object]:
    """The newest session metadata in a journal (market, url, subscriptions...), or ``{}``."""
    root = resolve_journal_dir(journal)
    single = root.is_file()
    items = [(0, root)] if single else segments(root)
    for index, path in reversed(items):
        try:
            rec = first_record(path, index)  # the metadata record is the first of each segment
        except (JournalError, OSError):
            if single:
                raise
            continue
        if rec is not None and rec.kind == META:
            try:
                meta = msgspec.json.decode(rec.data)
            except msgspec.DecodeError:
                continue
            if isinstance(meta, dict):
                return meta
    return {}


def journal_id_of(directory: Path) -> str:
    """A journal's id: its ``JOURNAL_ID`` file, else the newest metadata's ``journal_id``, else
    (a journal from before ids) one derived from its oldest segment's header; ``""`` for an
    empty journal."""
    try:
        text = (directory / JOURNAL_ID_FILE).read_text().strip()
    except OSError:
        text = ""
    if _is_id(text):
        return text
    meta_id = journal_meta(directory).get("journal_id") if directory.is_dir() else None
    if isinstance(meta_id, str) and _is_id(meta_id):
        return meta_id
    for _index, path in segments(directory):
        head = _file_header(path)
        if len(head) == FILE_HEADER.size:
            return hashlib.blake2b(b"tickwire-journal:" + head, digest_size=8).hexdigest()
    return ""


def _is_id(text: str) -> bool:
    return len(text) == 16 and all(c in "0123456789abcdef" for c in text)


@dataclass
class JournalInfo:
    """A journal at a glance (:func:`journal_info`)."""

    path: Path
    journal_id: str
    head_seq: int
    """The sequence number after the last good record: what the next record will carry."""
    segments: int
    records: int | None = None
    """With ``full``: good records."""
    frames: int | None = None
    lost_records: int = 0
    skipped_bytes: int = 0
    damaged: bool = False
    errors: list[str] = field(default_factory=list)


def journal_info(journal: str | os.PathLike[str], *, full: bool = False) -> JournalInfo:
    """The journal's id and head (reading only its newest segments); with ``full`` every record
    is checked and counted (as :func:`verify`)."""
    root = resolve_journal_dir(journal)
    items = [(0, root)] if root.is_file() else segments(root)
    jid = journal_id_of(root) if root.is_dir() else ""
    if full or (items and _version(items[-1][1]) == 1):
        checked = verify(root)
        return JournalInfo(
            root,
            jid,
            checked.head_seq,
            len(items),
            checked.records,
            checked.frames,
            checked.lost_records,
            checked.skipped_bytes,
            not checked.ok,
            checked.errors,
        )
    head = 0
    for i in range(len(items) - 1, -1, -1):
        index, path = items[i]
        report = SegmentReport(index, path)
        try:
            for _ in read_segment(path, index, report):
                pass
        except (JournalError, OSError):
            continue
        if report.last_seq is not None:
            head = report.last_seq + 1
            break
        if report.version == 1:
            return journal_info(root, full=True)
    return JournalInfo(root, jid, head, len(items))
