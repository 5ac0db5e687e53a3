"""Following a journal while it is written: :class:`TailReader`.

The reader keeps the segment it is in open and reads what has been appended since the last
:meth:`TailReader.poll`, so a segment that the writer closes, compresses and removes meanwhile is
still read to its end through the open file (the removal does not affect it). A segment is
finished when a newer one exists and everything up to its end has been read (the writer starts a
new segment only after handing the old one's last byte to the OS); whatever does not parse at
the end of a finished segment is a torn tail, counted and skipped. A segment not yet opened when
it was compressed is read from its ``.zst`` file, skipping records before :attr:`next_seq`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from tickwire.errors import JournalError
from tickwire.journal.format import segments
from tickwire.journal.parse import CHUNK, Record, SegmentParser, SegmentReport, open_segment
from tickwire.journal.reader import _start

__all__ = ["TailReader"]


class TailReader:
    """The records of a journal directory from sequence number ``from_seq`` on, as they appear.

    :meth:`poll` never blocks: it returns the complete good records on disk now (about
    ``max_bytes`` at most), in order, following rotation and compression; an empty list when
    there is nothing new. Damage is skipped and counted (:attr:`skipped_bytes`,
    :attr:`lost_records`). Use from one thread at a time.
    """

    def __init__(self, journal_dir: str | os.PathLike[str], from_seq: int = 0) -> None:
        self.directory = Path(journal_dir)
        self.next_seq = from_seq
        """The sequence number of the next record :meth:`poll` returns."""
        self._skipped = 0  # of the segments finished before the previous one
        self._lost = 0
        self._errors: list[str] = []
        self._index: int | None = None  # the segment being read
        self._stream: BinaryIO | None = None
        self._parser: SegmentParser | None = None
        self._report: SegmentReport | None = None
        self._compressed = False
        self._expect: int | None = None
        self._previous: SegmentReport | None = None  # the segment before (charged for a gap after it)

    def poll(self, max_bytes: int = 8 << 20) -> list[Record]:
        out: list[Record] = []
        budget = max_bytes
        while budget > 0:
            if self._stream is None and not self._open_next():
                break
            stream, parser = self._stream, self._parser
            assert stream is not None and parser is not None
            budget, eof = self._read(stream, parser, budget, out)
            if not eof:
                break  # the budget is spent; the rest next time
            if not self._compressed:
                if not self._newer_exists():
                    break  # the segment being written: wait for the writer
                budget, eof = self._read(stream, parser, budget, out)  # what came before the rotation
                if not eof:
                    break
            self._take(parser.parse(eof=True), out)
            self._finish()
        return out

    def close(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.close()
            self._stream = None

    def __enter__(self) -> TailReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _read(
        self, stream: BinaryIO, parser: SegmentParser, budget: int, out: list[Record]
    ) -> tuple[int, bool]:
        """Feed the parser until end of data or the budget is spent: (budget left, at the end)."""
        import zstandard

        while budget > 0:
            try:
                data = stream.read(min(1 << 16 if self._compressed else CHUNK, budget))
            except zstandard.ZstdError as exc:
                assert self._report is not None
                self._report.error = None
                self._report.problem(f"corrupt compressed data ({exc})")
                return budget, True
            if not data:
                return budget, True
            budget -= len(data)
            parser.feed(data)
            self._take(parser.parse(), out)
        return budget, False

    def _take(self, records: list[Record], out: list[Record]) -> None:
        nxt = self.next_seq
        for rec in records:
            if rec.seq >= nxt:
                out.append(rec)
                nxt = rec.seq + 1
        self.next_seq = nxt

    def _open_next(self) -> bool:
        """Open the segment after the current one (the one holding :attr:`next_seq` at first)."""
        for _attempt in range(3):  # a plain segment may be removed (compressed) as we open it
            items = segments(self.directory)
            if self._index is None:
                first, self._expect = _start(items, self.next_seq)
                items = items[first:]
            else:
                items = [(i, p) for i, p in items if i > self._index]
            if not items:
                return False
            index, path = items[0]
            try:
                stream = open_segment(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise JournalError(f"{path}: {exc.strerror or exc}") from None
            self._index = index
            self._stream = stream
            self._compressed = path.name.endswith(".zst")
            self._report = SegmentReport(index, path)
            self._parser = SegmentParser(index, self._report, self._expect, self._previous)
            return True
        return False

    def _newer_exists(self) -> bool:
        assert self._index is not None
        return any(i > self._index for i, _ in segments(self.directory))

    def _finish(self) -> None:
        old, report = self._previous, self._report
        if old is not None:
            self._skipped += old.skipped_bytes
            self._lost += old.lost_records
            if old.error is not None and len(self._errors) < 100:
                self._errors.append(f"{old.path.name}: {old.error}")
        if report is not None and report.last_seq is not None:
            self._expect = report.last_seq + 1
        self._previous = report
        self.close()
        self._parser = None
        self._report = None

    def _reports(self) -> list[SegmentReport]:
        return [r for r in (self._previous, self._report) if r is not None]

    @property
    def skipped_bytes(self) -> int:
        """Bytes skipped as damage so far."""
        return self._skipped + sum(r.skipped_bytes for r in self._reports())

    @property
    def lost_records(self) -> int:
        """Records the sequence numbers say are missing so far."""
        return self._lost + sum(r.lost_records for r in self._reports())

    @property
    def errors(self) -> list[str]:
        """What damage was found (the first problem of each damaged segment)."""
        return self._errors + [f"{r.path.name}: {r.error}" for r in self._reports() if r.error is not None]
