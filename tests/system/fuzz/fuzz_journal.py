"""Fuzz cases for the journal reader and tail repair: random corruption of a valid segment.

Reading a directory never raises for a damaged segment: it yields only records that were
written (CRC-checked), reports the damage in the segment's report, and goes on with the next
segment. A segment reported clean is accounted for byte by byte. ``repair_tail`` keeps every
byte it cuts.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import zlib
from pathlib import Path

from tickwire.journal import JournalError, JournalWriter, read_records, verify
from tickwire.journal.format import CRC_PART, FILE_HEADER, HEADER, MAX_RECORD
from tickwire.journal.reader import Record, SegmentReport, repair_tail

from .chooser import Chooser

__all__ = ["journal_reader"]

RecordKey = tuple[int, int, int, int, bytes]


@functools.cache
def _workdir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="tickwire-fuzz-journal-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def _base() -> tuple[bytes, tuple[RecordKey, ...], tuple[int, ...], bytes, tuple[RecordKey, ...]]:
    """A valid segment's bytes, its records, the offsets where its records start, and the bytes
    and records of the segment after it (the same writer reopened: the sequence goes on)."""
    frames = [
        b"",
        b"x",
        b'[{"ev":"T","sym":"AAPL","p":1.5,"s":100,"t":1}]',
        bytes(range(256)) * 3,
        b"[]" * 40,
    ]
    directory = _workdir() / "base"
    for _ in range(2):
        with JournalWriter(directory, compress=False, meta={"market": "stocks"}) as w:
            for i, frame in enumerate(frames * 2):
                w.append(frame, 1_000 + i, 1 + i // 4)
    first, second = sorted(directory.glob("*.twj"))
    records = list(read_records(first))
    later = list(read_records(second))
    return (
        first.read_bytes(),
        tuple(_key(r) for r in records),
        tuple(r.offset for r in records),
        second.read_bytes(),
        tuple(_key(r) for r in later),
    )


def _key(r: Record) -> RecordKey:
    return (r.seq, r.kind, r.recv_ns, r.epoch, r.data)


def _encode(r: Record) -> bytes:
    crc = zlib.crc32(r.data, zlib.crc32(CRC_PART.pack(r.seq, r.recv_ns, r.epoch, r.kind, 0)))
    return HEADER.pack(len(r.data), crc, r.seq, r.recv_ns, r.epoch, r.kind, 0) + r.data


def _corrupt(data: bytes, offsets: tuple[int, ...], ch: Chooser) -> bytes:
    buf = bytearray(data)
    n = len(buf)
    if not n:
        return ch.binary(32)
    op = ch.below(8)
    pos = ch.below(n)
    if op == 0:
        buf[pos] ^= 1 << ch.below(8)
    elif op == 1:
        buf[ch.below(min(n, FILE_HEADER.size))] ^= 1 + ch.below(255)  # the file header
    elif op == 2:
        del buf[pos:]
    elif op == 3:
        del buf[pos : pos + ch.integer(1, 64)]
    elif op == 4:
        buf[pos:pos] = ch.binary(32)
    elif op == 5:  # a whole record (or any run) repeated
        start = ch.choice(offsets)
        buf[start:start] = buf[start : start + ch.integer(1, 900)]
    elif op == 6:  # an impossible or lying length field
        start = ch.choice(offsets)
        length = ch.choice((0xFFFFFFFF, MAX_RECORD + 1, 0, 5, n))
        buf[start : start + 4] = length.to_bytes(4, "little")
    else:
        end = min(n, pos + ch.integer(1, 100))
        buf[pos:end] = bytes(end - pos)  # zeroed, as after a crash on some filesystems
    return bytes(buf)


def journal_reader(ch: Chooser) -> int:
    """One corrupted segment (plain or zstd) beside an intact one, read, verified and repaired."""
    import zstandard

    data, originals, offsets, intact, later = _base()
    for _ in range(ch.integer(1, 3)):
        data = _corrupt(data, offsets, ch)
    directory = _workdir() / "case"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    compressed = ch.chance(0.25)
    plain_known = True
    if compressed:
        packed = zstandard.ZstdCompressor(level=1).compress(data)
        if ch.chance(0.6):
            packed = _corrupt(packed, (0,), ch)
            plain_known = False
        damaged = directory / "00000001.twj.zst"
        damaged.write_bytes(packed)
    else:
        damaged = directory / "00000001.twj"
        damaged.write_bytes(data)
    (directory / "00000002.twj").write_bytes(intact)

    reports: list[SegmentReport] = []
    records = list(read_records(directory, reports=reports))
    first, second = reports
    got = [_key(r) for r in records if r.segment == 1]
    assert all(k in originals for k in got), "a record that was never written"
    assert [_key(r) for r in records if r.segment == 2] == list(later) and second.error is None
    assert first.records == len(got)
    if first.error is None and plain_known:
        body = b"".join(_encode(r) for r in records if r.segment == 1)
        assert data[FILE_HEADER.size :] == body, "bytes lost without a report"
    assert verify(directory).ok == (first.error is None)

    alone: list[RecordKey] = []
    try:  # one segment file on its own: a clear JournalError or the same records
        alone = [_key(r) for r in read_records(damaged)]
    except JournalError:
        assert first.error is not None
    else:
        assert alone == got
    if not compressed:
        try:
            good, cut = repair_tail(damaged)
        except JournalError:
            assert first.error is not None
        else:
            assert good + cut == len(data)
            if cut:
                assert (directory / f"{damaged.name}.torn-{good}").read_bytes() == data[good:]
            if good:  # no good record is cut; damage before the last one stays for the reader to skip
                after = verify(damaged).segments[0]
                assert after.good_until == after.size == good
                assert [_key(r) for r in read_records(damaged)] == alone
            else:  # no file header: the whole file was the torn tail, moved aside
                assert not damaged.exists()
    return 1
