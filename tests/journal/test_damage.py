"""Damage: resync after a bad record, torn tails of every length, header-less newest segments,
tail repair that never cuts a good record, zstd bombs in bounded memory, version 1 segments."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest
import zstandard

from tests.journal.helpers import frame_data, frames, v1_segment, write_journal
from tickwire.journal import JournalWriter, journal_info, read_records, repair_tail, verify
from tickwire.journal.format import FILE_HEADER, HEADER, MAGIC, VERSION


def _segment(directory: Path) -> Path:
    (seg,) = directory.glob("*.twj")
    return seg


def test_bit_flip_mid_segment_loses_only_that_record(tmp_path: Path) -> None:
    data = frames(1000)
    write_journal(tmp_path, data)
    seg = _segment(tmp_path)
    recs = list(read_records(tmp_path))
    victim = recs[500]  # frame 499 (record 0 is META)
    raw = bytearray(seg.read_bytes())
    raw[victim.offset + HEADER.size + 3] ^= 0x10
    seg.write_bytes(bytes(raw))
    report = verify(tmp_path)
    assert not report.ok and "CRC" in report.errors[0]
    assert report.frames == 999 and report.lost_records == 1
    assert report.skipped_bytes == HEADER.size + len(victim.data)
    assert frame_data(tmp_path) == data[:499] + data[500:]
    seqs = [r.seq for r in read_records(tmp_path)]
    assert seqs == [s for s in range(1001) if s != 500]  # positions stay exact after the damage


def test_garbage_inserted_and_a_repeated_record_are_skipped(tmp_path: Path) -> None:
    data = frames(50)
    write_journal(tmp_path, data)
    seg = _segment(tmp_path)
    recs = list(read_records(tmp_path))
    raw = bytearray(seg.read_bytes())
    rec = recs[10]
    whole = raw[rec.offset : rec.offset + HEADER.size + len(rec.data)]
    raw[recs[20].offset : recs[20].offset] = b"\x01\x00\x00\x00" * 9 + whole  # junk, then record 10 again
    seg.write_bytes(bytes(raw))
    report = verify(tmp_path)
    assert report.frames == 50 and report.lost_records == 0
    assert report.skipped_bytes == 36 + len(whole)
    assert frame_data(tmp_path) == data  # each record once, in order


def test_torn_tail_of_every_length_is_cut_on_reopen_and_nothing_before_it(tmp_path: Path) -> None:
    data = frames(20)
    src = tmp_path / "src"
    write_journal(src, data)
    whole = _segment(src).read_bytes()
    last = list(read_records(src))[-1]
    record_len = HEADER.size + len(last.data)
    for cut in range(1, record_len):
        journal = tmp_path / f"cut{cut}"
        journal.mkdir()
        seg = journal / "00000001.twj"
        seg.write_bytes(whole[: len(whole) - cut])
        report = verify(journal)
        assert not report.ok and "torn" in report.errors[0], cut
        w = JournalWriter(journal, compress=False).open()
        assert w.repaired_bytes == record_len - cut
        assert w.next_seq == len(data) + 1  # META + 19 frames + this segment's META
        w.append(b"[]", 5, 2)
        w.close()
        assert verify(journal).ok, cut
        assert frame_data(journal) == [*data[:-1], b"[]"]
        assert (journal / f"00000001.twj.torn-{len(whole) - record_len}").read_bytes() == whole[
            len(whole) - record_len : len(whole) - cut
        ]


def test_repair_cuts_only_the_torn_tail_never_a_good_record_after_damage(tmp_path: Path) -> None:
    data = frames(100)
    write_journal(tmp_path, data)
    seg = _segment(tmp_path)
    recs = list(read_records(tmp_path))
    raw = bytearray(seg.read_bytes())
    raw[recs[30].offset + HEADER.size] ^= 0xFF  # damage mid-segment
    raw += b"\x07" * 11  # and a torn tail
    seg.write_bytes(bytes(raw))
    kept, cut = repair_tail(seg)
    assert (kept, cut) == (len(raw) - 11, 11)
    assert frame_data(tmp_path) == data[:29] + data[30:]


@pytest.mark.parametrize("size", [0, 1, 4, 15])
def test_header_less_newest_segment_is_a_torn_tail_and_never_stops_a_restart(
    tmp_path: Path, size: int
) -> None:
    data = frames(10)
    write_journal(tmp_path, data)
    header = FILE_HEADER.pack(MAGIC, VERSION, 0, 123)
    (tmp_path / "00000002.twj").write_bytes(header[:size])  # ENOSPC or a crash at rotation
    report = verify(tmp_path)
    assert report.frames == 10 and "torn segment header" in report.errors[0]
    with JournalWriter(tmp_path, compress=False) as w:
        w.append(b"[]", 1, 2)
    assert frame_data(tmp_path) == [*data, b"[]"]
    assert verify(tmp_path).ok
    assert not (tmp_path / "00000002.twj").exists()
    assert journal_info(tmp_path).head_seq == 13


def test_header_only_newest_segment_is_not_damage(tmp_path: Path) -> None:
    data = frames(10)
    write_journal(tmp_path, data)
    (tmp_path / "00000002.twj").write_bytes(FILE_HEADER.pack(MAGIC, VERSION, 0, 123))
    assert verify(tmp_path).ok
    with JournalWriter(tmp_path, compress=False) as w:
        assert w.next_seq == 12
        w.append(b"[]", 1, 2)
    assert frame_data(tmp_path) == [*data, b"[]"]


def _bomb(path: Path, zeros: int) -> None:
    """A zstd segment of a valid file header then ``zeros`` zero bytes (a few KB on disk)."""
    cctx = zstandard.ZstdCompressor(level=1)
    with path.open("wb") as f, cctx.stream_writer(f) as w:
        w.write(FILE_HEADER.pack(MAGIC, VERSION, 0, 1))
        block = bytes(1 << 20)
        for _ in range(zeros >> 20):
            w.write(block)


def test_a_zstd_bomb_is_read_in_bounded_memory(tmp_path: Path) -> None:
    data = frames(5)
    write_journal(tmp_path, data)
    _bomb(tmp_path / "00000002.twj.zst", 256 << 20)
    assert (tmp_path / "00000002.twj.zst").stat().st_size < 64 << 10
    tracemalloc.start()
    try:
        report = verify(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"peak {peak >> 20} MiB"
    assert report.frames == 5 and report.skipped_bytes == 256 << 20


def test_an_impossible_length_costs_no_memory(tmp_path: Path) -> None:
    seg = tmp_path / "00000001.twj.zst"
    body = FILE_HEADER.pack(MAGIC, VERSION, 0, 1) + HEADER.pack(0xFFFFFFF0, 0, 0, 0, 0, 1, 0) + bytes(100)
    seg.write_bytes(zstandard.ZstdCompressor().compress(body))
    tracemalloc.start()
    try:
        report = verify(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    assert "impossible record length" in report.errors[0]


def test_version_1_segments_are_read_and_numbered_and_the_writer_goes_on(tmp_path: Path) -> None:
    old = frames(7)
    v1_segment(tmp_path / "00000001.twj.zst.src", old)
    (tmp_path / "00000001.twj").write_bytes((tmp_path / "00000001.twj.zst.src").read_bytes())
    os.unlink(tmp_path / "00000001.twj.zst.src")
    assert [r.seq for r in read_records(tmp_path)] == list(range(7))
    assert journal_info(tmp_path).head_seq == 7
    new = frames(3, 100)
    with JournalWriter(tmp_path, compress=False) as w:
        assert w.next_seq == 8  # 7 old records, then this segment's META
        for f in new:
            w.append(f, 1, 2)
    assert frame_data(tmp_path) == old + new
    assert [r.seq for r in read_records(tmp_path)] == list(range(11))
    assert [r.data for r in read_records(tmp_path, from_seq=5, frames_only=True)] == old[5:] + new
    assert verify(tmp_path).ok
