"""Journals for the journal tests: frames, a writer's output, records read back."""

from __future__ import annotations

import zlib
from pathlib import Path

from tickwire.journal import FRAME, JournalWriter, read_records
from tickwire.journal.format import FILE_HEADER, HEADER_V1, MAGIC


def frames(n: int, start: int = 0) -> list[bytes]:
    return [
        b'[{"ev":"T","sym":"AAPL","p":%d.5,"s":100,"t":%d}]' % (i, 1_700_000_000_000 + i)
        for i in range(start, start + n)
    ]


def write_journal(directory: Path, data: list[bytes], **options: object) -> JournalWriter:
    """``data`` appended by one writer (closed); the writer, for its counters."""
    opts: dict[str, object] = {"compress": False, "meta": {"provider": "massive", "market": "stocks"}}
    opts.update(options)
    with JournalWriter(directory, **opts) as w:  # type: ignore[arg-type]
        for i, f in enumerate(data):
            w.append(f, 1_000 + i, 1)
    return w


def frame_data(journal: Path) -> list[bytes]:
    return [r.data for r in read_records(journal, frames_only=True)]


def v1_segment(path: Path, data: list[bytes]) -> None:
    """A segment in the version 1 format (no sequence numbers), as tickwire wrote before."""
    out = bytearray(FILE_HEADER.pack(MAGIC, 1, 0, 1))
    for i, d in enumerate(data):
        part = HEADER_V1.pack(0, 0, i, 1, FRAME, 0)[8:]
        out += HEADER_V1.pack(len(d), zlib.crc32(d, zlib.crc32(part)), i, 1, FRAME, 0) + d
    path.write_bytes(bytes(out))
