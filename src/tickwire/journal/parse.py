"""Parsing segments incrementally: records out of chunks of bytes, resync after damage, bounded memory.

:class:`SegmentParser` is fed a segment's bytes in chunks (a plain file read piece by piece, a
zstd stream decompressed piece by piece, the growing tail of the segment being written) and
returns every complete record that checks. It never holds more than one record (at most
:data:`~.format.MAX_RECORD` bytes) plus one chunk, whatever the input, so a hostile length field
or a zstd bomb costs bounded memory.

A record that fails its checks (length, CRC, kind, a sequence number going backwards) starts a
*damaged region*: the parser scans forward for the next offset where a header and its payload
check, counts the bytes in between (:attr:`SegmentReport.skipped_bytes`) and the records the
sequence numbers say are missing (:attr:`SegmentReport.lost_records`), and goes on. Damage that
runs to the end of the data is a torn tail when the segment is the one being written.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import msgspec

from tickwire.errors import JournalError
from tickwire.journal.format import (
    FILE_HEADER,
    FRAME,
    HEADER,
    HEADER_V1,
    KINDS,
    MAGIC,
    MAX_RECORD,
    VERSIONS,
)

__all__ = ["CHUNK", "Record", "SegmentParser", "SegmentReport", "open_segment", "segment_chunks"]

CHUNK = 1 << 20
"""Bytes read (or decompressed) at a time."""

_CRC = zlib.crc32
_FLEN = FILE_HEADER.size
_MAX_MESSAGES = 8
# kind (1..3, u16) and reserved (0, u16): the last 4 bytes of a header in both versions
_KIND_TAIL = re.compile(rb"[" + bytes(KINDS) + rb"]\x00\x00\x00")


class Record(msgspec.Struct, frozen=True, gc=False):
    """One journal record: a received frame (``kind == FRAME``), session metadata (``META``) or a
    reported loss (``GAP``); ``seq`` is its number in the journal (see :mod:`.position`)."""

    kind: int
    recv_ns: int
    epoch: int
    data: bytes
    segment: int = 0
    offset: int = 0
    seq: int = 0

    @property
    def is_frame(self) -> bool:
        return self.kind == FRAME


@dataclass
class SegmentReport:
    """What reading one segment found: records, and the damage skipped over."""

    index: int
    path: Path
    version: int = 0
    records: int = 0
    frames: int = 0
    bytes: int = 0
    good_until: int = 0
    """Offset after the last good record (what a tail repair keeps)."""
    size: int = 0
    error: str | None = None
    """The first problem found (None: the segment is clean)."""
    messages: list[str] = field(default_factory=list)
    damaged_regions: int = 0
    skipped_bytes: int = 0
    """Bytes that are part of no good record."""
    lost_records: int = 0
    """Records missing from the sequence (version 2: exact; version 1: one per damaged region)."""
    first_ns: int | None = None
    last_ns: int | None = None
    first_seq: int | None = None
    last_seq: int | None = None

    @property
    def torn(self) -> bool:
        return self.error is not None

    def problem(self, message: str) -> None:
        if self.error is None:
            self.error = message
        if len(self.messages) < _MAX_MESSAGES:
            self.messages.append(message)


class SegmentParser:
    """Records out of one segment's bytes, fed in chunks (see the module docstring).

    ``expect`` is the sequence number the first record should carry (None: take the first good
    record's); version 1 records, which carry none, are numbered from it. Records missing before
    the first one are charged to ``previous`` (the report of the segment before: its end is where
    they were lost), else to this segment.
    """

    def __init__(
        self,
        index: int,
        report: SegmentReport,
        expect: int | None = None,
        previous: SegmentReport | None = None,
    ) -> None:
        self.index = index
        self.report = report
        self.previous = previous
        self.next_seq = expect
        self._buf = bytearray()
        self._base = 0  # file offset of _buf[0]
        self._pos = 0  # parse position in _buf
        self._bad_from: int | None = None  # file offset where the current damaged region began
        self._scan = 0  # where the resync scan goes on (in _buf)
        self._head: struct.Struct | None = None
        self._mv = memoryview(b"")
        self._hlen = 0

    @property
    def started(self) -> bool:
        """Whether the file header has been read."""
        return self._head is not None

    @property
    def pending(self) -> int:
        """Bytes fed but not yet part of a record (a partial record, or damage being scanned)."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        self._buf += data

    def parse(self, eof: bool = False) -> list[Record]:
        """The complete good records in what was fed so far; with ``eof`` the data is complete and
        whatever is left is damage (a torn tail)."""
        out: list[Record] = []
        if self._head is None and not self._read_header(eof):
            return out
        buf = self._buf
        n = len(buf)
        pos = self._pos
        self._mv = memoryview(buf)
        try:
            pos = self._parse(out, pos, n, eof)
        finally:
            self._mv.release()
        self.report.size = self._base + n
        keep = self._scan if self._bad_from is not None else pos
        keep = min(keep, n)
        if keep:
            del buf[:keep]
            self._base += keep
            pos -= keep
            self._scan -= keep
        self._pos = max(pos, 0)
        return out

    def _parse(self, out: list[Record], pos: int, n: int, eof: bool) -> int:
        buf = self._buf
        while True:
            if self._bad_from is None:
                end = self._check(pos, n, eof, True)
                if end > 0:
                    out.append(self._record(pos, end))
                    pos = end
                    continue
                if end < 0 or pos >= n:
                    break
                self._bad_from = self._base + pos
                self._scan = pos + 1
            m = _KIND_TAIL.search(buf, self._scan + self._hlen - 4)
            if m is None:
                if not eof:
                    self._scan = max(self._scan, n - self._hlen + 1)
                    break
                self._end_region(self._base + n)
                pos = n
                break
            cand = m.start() - self._hlen + 4
            end = self._check(cand, n, eof, False)
            if end < 0:
                self._scan = cand
                break
            if end == 0:
                self._scan = cand + 1
                continue
            self._end_region(self._base + cand)
            pos = cand
        return pos

    # ------------------------------------------------------------------ internals

    def _read_header(self, eof: bool) -> bool:
        buf = self._buf
        if len(buf) < _FLEN:
            if eof:
                self.report.size = len(buf)
                self.report.skipped_bytes += len(buf)
                if buf:
                    self.report.damaged_regions += 1
                self.report.problem(f"torn segment header ({len(buf)} of {_FLEN} bytes)")
                self._buf.clear()
            return False
        magic, version, _flags, _created = FILE_HEADER.unpack_from(buf, 0)
        if magic != MAGIC:
            raise JournalError(f"{self.report.path}: not a tickwire journal segment (magic {magic!r})")
        if version not in VERSIONS:
            raise JournalError(
                f"{self.report.path}: journal version {version} is newer than this tickwire understands"
            )
        self._head = HEADER if version == 2 else HEADER_V1
        self._hlen = self._head.size
        self.report.version = version
        self._pos = _FLEN
        self.report.good_until = _FLEN
        return True

    def _check(self, pos: int, n: int, eof: bool, note: bool) -> int:
        """The end of the good record at ``pos``; 0 if there is none; -1 if more data is needed."""
        hlen = self._hlen
        buf = self._buf
        avail = n - pos
        if avail < hlen:
            if not eof or avail <= 0:
                return -1
            if note:
                self.report.problem(f"torn record header at offset {self._base + pos}")
            return 0
        head = self._head
        assert head is not None
        fields = head.unpack_from(buf, pos)
        length, crc = fields[0], fields[1]
        kind, reserved = fields[-2], fields[-1]
        if length > MAX_RECORD or kind not in KINDS or reserved:
            if note:
                what = f"impossible record length {length}" if length > MAX_RECORD else "bad record header"
                self.report.problem(f"{what} at offset {self._base + pos}")
            return 0
        end = pos + hlen + length
        if end > n:
            if not eof:
                return -1
            if note:
                self.report.problem(
                    f"torn record at offset {self._base + pos} ({n - pos - hlen} of {length} payload bytes)"
                )
            return 0
        mv = self._mv
        if _CRC(mv[pos + hlen : end], _CRC(mv[pos + 8 : pos + hlen])) != crc:
            if note:
                self.report.problem(f"CRC mismatch at offset {self._base + pos}")
            return 0
        if head is HEADER and self.next_seq is not None and fields[2] < self.next_seq:
            if note:
                self.report.problem(
                    f"record {fields[2]} out of order at offset {self._base + pos} (expected {self.next_seq})"
                )
            return 0
        return int(end)

    def _record(self, pos: int, end: int) -> Record:
        head = self._head
        assert head is not None
        fields = head.unpack_from(self._buf, pos)
        report = self.report
        if head is HEADER:
            seq, recv_ns, epoch, kind = fields[2], fields[3], fields[4], fields[5]
            if self.next_seq is not None and seq > self.next_seq:
                missing = seq - self.next_seq
                if report.records == 0 and self.previous is not None:
                    self.previous.lost_records += missing
                    self.previous.problem(f"{missing} records missing after its last one (before {seq})")
                else:
                    report.lost_records += missing
                    report.problem(f"{missing} records missing before record {seq}")
        else:
            seq = self.next_seq or 0
            recv_ns, epoch, kind = fields[2], fields[3], fields[4]
        self.next_seq = seq + 1
        data = bytes(self._mv[pos + self._hlen : end])
        report.records += 1
        report.bytes += len(data)
        if kind == FRAME:
            report.frames += 1
        if report.first_ns is None:
            report.first_ns = recv_ns
            report.first_seq = seq
        report.last_ns = recv_ns
        report.last_seq = seq
        report.good_until = self._base + end
        return Record(kind, recv_ns, epoch, data, self.index, self._base + pos, seq)

    def _end_region(self, at: int) -> None:
        """Close the damaged region ending at file offset ``at`` (where a good record starts, or
        the end of the data). Version 2 counts the records it lost from the next sequence number."""
        assert self._bad_from is not None
        report = self.report
        report.damaged_regions += 1
        report.skipped_bytes += at - self._bad_from
        if self._head is HEADER_V1:
            report.lost_records += 1
        self._bad_from = None
        self._scan = 0


MAX_WINDOW = 1 << 27
"""The largest zstd window a compressed segment may ask for (bytes)."""


def open_segment(path: Path) -> BinaryIO:
    """A readable stream of a segment's bytes (decompressing ``.zst`` on the fly, in small pieces)."""
    f = path.open("rb")
    if not path.name.endswith(".zst"):
        return f
    import zstandard

    # the window a frame declares is memory the decompressor fills: a bomb may declare gigabytes.
    # 128 MiB covers every compression level tickwire (or zstd up to level 22) writes with.
    dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
    return dctx.stream_reader(f, read_size=1 << 16, closefd=True)


def segment_chunks(path: Path, report: SegmentReport, chunk: int = CHUNK) -> Iterator[bytes]:
    """A segment's bytes in chunks of at most ``chunk``; a corrupt zstd stream ends them early
    (noted in ``report``, replacing the torn record it leaves as the cause)."""
    import zstandard

    done = 0
    if path.name.endswith(".zst"):
        chunk = min(chunk, 1 << 16)  # small reads: keep what came before a bad block
    with open_segment(path) as stream:
        while True:
            try:
                data = stream.read(chunk)
            except zstandard.ZstdError as exc:
                report.error = None
                report.problem(f"corrupt compressed data after {done} bytes ({exc})")
                return
            if not data:
                return
            done += len(data)
            yield data
