"""The raw journal: round trip, rotation and compression, torn tails, corruption, sync accounting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tickwire.journal import FRAME, META, JournalError, JournalWriter, journal_meta, read_records, verify
from tickwire.journal.format import HEADER


def _frames(n: int) -> list[bytes]:
    return [
        b'[{"ev":"T","sym":"AAPL","p":%d.5,"s":100,"t":%d}]' % (i, 1_700_000_000_000 + i) for i in range(n)
    ]


def test_round_trip_keeps_bytes_times_and_epochs(tmp_path: Path) -> None:
    frames = _frames(1000)
    with JournalWriter(tmp_path / "j", meta={"market": "stocks"}) as w:
        for i, f in enumerate(frames):
            w.append(f, 1_000 + i, 1 + i // 500)
    recs = list(read_records(tmp_path / "j"))
    assert recs[0].kind == META
    got = [r for r in recs if r.kind == FRAME]
    assert [r.data for r in got] == frames
    assert [r.recv_ns for r in got] == [1_000 + i for i in range(1000)]
    assert {r.epoch for r in got} == {1, 2}
    assert journal_meta(tmp_path / "j")["market"] == "stocks"
    report = verify(tmp_path / "j")
    assert report.ok and report.frames == 1000


def test_segments_rotate_compress_and_reopen_appends_a_new_segment(tmp_path: Path) -> None:
    frames = _frames(3000)
    w = JournalWriter(tmp_path, segment_bytes=16_384, buffer_bytes=2_048).open()
    for i, f in enumerate(frames[:2000]):
        w.append(f, i, 1)
    w.close()
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "JOURNAL_ID")
    assert len(names) > 5 and all(n.endswith(".twj.zst") for n in names)
    with JournalWriter(tmp_path, segment_bytes=16_384, compress=False) as w2:
        for i, f in enumerate(frames[2000:]):
            w2.append(f, 2000 + i, 2)
    assert [r.data for r in read_records(tmp_path, frames_only=True)] == frames
    assert any(p.name.endswith(".twj") for p in tmp_path.iterdir())  # compress=False keeps plain files


@pytest.mark.parametrize("cut", [1, 10, HEADER.size + 3])
def test_torn_tail_is_detected_then_cut_on_reopen_keeping_everything_before(tmp_path: Path, cut: int) -> None:
    frames = _frames(100)
    w = JournalWriter(tmp_path, compress=False).open()
    for i, f in enumerate(frames):
        w.append(f, i, 1)
    w.sync()
    seg = w.current_segment
    assert w._fd is not None
    os.close(w._fd)  # simulate a crash: no orderly close
    w._fd = None
    size = seg.stat().st_size
    with seg.open("r+b") as fh:
        fh.truncate(size - cut)
    report = verify(tmp_path)
    assert not report.ok and "torn" in report.errors[0]
    assert report.frames == 99
    w2 = JournalWriter(tmp_path, compress=False).open()
    assert w2.repaired_bytes == size - cut - report.segments[0].good_until
    w2.append(b"[]", 5, 2)
    w2.close()
    assert verify(tmp_path).ok
    assert [r.data for r in read_records(tmp_path, frames_only=True)] == [*frames[:99], b"[]"]
    assert list(tmp_path.glob("*.torn-*")), "the cut bytes are kept, not silently thrown away"


def test_bit_flip_is_a_crc_error(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, compress=False) as w:
        for i, f in enumerate(_frames(10)):
            w.append(f, i, 1)
    seg = next(tmp_path.glob("*.twj"))
    data = bytearray(seg.read_bytes())
    data[-5] ^= 0x01
    seg.write_bytes(bytes(data))
    report = verify(tmp_path)
    assert report.errors and "CRC" in report.errors[0] and report.frames == 9


def test_sync_accounting_and_not_a_journal(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path / "j", compress=False).open()
    w.append(b"x", 1, 1)
    assert w.synced_records == 0
    w.finish_sync(w.sync_target())
    assert w.synced_records == w.records == 2  # the segment's META record and ours
    w.close()
    bogus = tmp_path / "00000001.twj"
    bogus.write_bytes(b"hello world, not a journal")
    with pytest.raises(JournalError, match="not a tickwire journal"):
        list(read_records(bogus))
