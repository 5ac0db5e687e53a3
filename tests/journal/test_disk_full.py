"""A full disk: writes pause without raising, never write a byte twice, buffer within a bound,
drop whole frames beyond it, record the loss as a GAP record, and resume when space returns.

Once with a fake ``os.write`` (partial writes, then ENOSPC, exactly where we want them), once on
a real 2 MB tmpfs mounted by the test (root), with rotation and a restart on the full disk."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.journal.helpers import frames
from tests.services import services_required
from tickwire.journal import FRAME, GAP, JournalWriter, read_records, verify


class FakeDisk:
    """``os.write`` that takes part of a buffer, then fails with ENOSPC while ``full``."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.full = False
        self.partial = 0  # bytes the next write takes before the disk is full

    def __call__(self, fd: int, data: bytes) -> int:
        if self.partial:
            n, self.partial = min(self.partial, len(data)), 0
            return self.real(fd, bytes(memoryview(data)[:n]))  # type: ignore[operator,no-any-return]
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.real(fd, data)  # type: ignore[operator,no-any-return]


def _check_read_back(journal: Path, kept: list[bytes]) -> list[dict[str, object]]:
    """Every kept frame exactly once, in order; the sequence has no holes; the GAP records."""
    recs = list(read_records(journal))
    assert [r.seq for r in recs] == list(range(recs[0].seq, recs[0].seq + len(recs)))
    assert [r.data for r in recs if r.kind == FRAME] == kept
    assert verify(journal).ok
    return [json.loads(r.data) for r in recs if r.kind == GAP]


def test_partial_write_then_enospc_pauses_buffers_drops_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    disk = FakeDisk(os.write)
    monkeypatch.setattr(os, "write", disk)
    data = frames(400)
    w = JournalWriter(tmp_path, compress=False, buffer_bytes=1 << 30, max_buffer_bytes=4096).open()
    for i, f in enumerate(data[:100]):
        w.append(f, i, 1)
    disk.partial, disk.full = 1000, True  # mid-record
    w.write()
    assert w.disk_full and w.error == f"No space left on device: {tmp_path}"
    assert 0 < w.written_seq < 101
    for i, f in enumerate(data[100:300], 100):
        w.append(f, i, 1)
        w.write()  # retried each time, never raises
    assert w.lost_records > 0 and w.lost_bytes == sum(map(len, data[300 - w.lost_records : 300]))
    dropped = w.lost_records
    disk.full = False
    with caplog.at_level(logging.WARNING, "tickwire.journal"):
        w.write()
    assert not w.disk_full and w.error is None
    assert sum("writing to" in r.getMessage() for r in caplog.records) == 1
    for i, f in enumerate(data[300:], 300):
        w.append(f, i, 1)
    w.close()
    kept = data[: 300 - dropped] + data[300:]
    (gap,) = _check_read_back(tmp_path, kept)
    assert gap["lost_records"] == dropped and gap["reason"] == f"No space left on device: {tmp_path}"
    assert gap["from_ns"] == 300 - dropped and gap["to_ns"] == 299


def test_sync_and_rotation_never_raise_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = FakeDisk(os.write)
    monkeypatch.setattr(os, "write", disk)
    data = frames(2000)
    w = JournalWriter(tmp_path, compress=False, segment_bytes=8192, buffer_bytes=512).open()
    for i, f in enumerate(data[:1000]):
        w.append(f, i, 1)
        if i % 50 == 0:
            disk.full = not disk.full  # full half of the time, across many rotations
        w.sync()
        w.finish_sync(w.sync_target())
    disk.full = False
    for i, f in enumerate(data[1000:], 1000):
        w.append(f, i, 1)
    w.close()
    assert w.lost_records == 0
    assert _check_read_back(tmp_path, data) == []
    assert all(p.stat().st_size >= 16 for p in tmp_path.glob("*.twj"))


def test_a_frame_over_the_record_limit_is_a_reported_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tickwire.journal.writer.MAX_RECORD", 100)
    with JournalWriter(tmp_path, compress=False) as w:
        w.append(b"a", 1, 1)
        w.append(b"x" * 101, 2, 1)
        w.append(b"b", 3, 1)
    (gap,) = _check_read_back(tmp_path, [b"a", b"b"])
    assert gap["lost_records"] == 1 and gap["lost_bytes"] == 101 and "limit" in str(gap["reason"])


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        message = f"cannot mount a tmpfs: {done.stderr.decode().strip()}"
        if services_required():
            pytest.fail(message + " (TICKWIRE_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(message)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(path: Path) -> None:
    """Take every byte left on the file system (the filler file)."""
    with contextlib.suppress(OSError), path.open("ab") as f:
        while True:
            f.write(bytes(4096))
            f.flush()


def test_real_full_tmpfs_pauses_keeps_rotating_restarts_and_resumes(tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "disk", "2m") as disk:
        journal = disk / "journal"
        reserve = disk / "reserve"
        reserve.write_bytes(bytes(256 << 10))
        reserve2 = disk / "reserve2"
        reserve2.write_bytes(bytes(256 << 10))
        data = frames(60_000)
        opts: dict[str, object] = {
            "compress": False,
            "segment_bytes": 64 << 10,
            "buffer_bytes": 4096,
            "max_buffer_bytes": 128 << 10,
        }
        w = JournalWriter(journal, **opts).open()  # type: ignore[arg-type]
        i = 0
        while not w.disk_full:  # the journal fills the disk, rotating as it goes
            w.append(data[i], i, 1)
            i += 1
        assert w.error == f"No space left on device: {journal}"
        full_at = i
        stop = full_at + 5000
        for i in range(full_at, stop):  # paused: held in memory up to the bound, then dropped
            w.append(data[i], i, 1)
            w.write()
        assert w.disk_full and w.lost_records > 0
        dropped = w.lost_records
        reserve.unlink()  # space returns
        w.write()
        assert not w.disk_full and w.error is None
        for i in range(stop, stop + 100):
            w.append(data[i], i, 1)
        w.close()
        (gap,) = _check_read_back(journal, data[: stop - dropped] + data[stop : stop + 100])
        assert gap["lost_records"] == dropped
        assert all(p.stat().st_size >= 16 for p in journal.glob("*.twj"))

        # full again, and the recorder dies mid-record: every restart opens (paused), none fails
        reserve2.unlink()
        w = JournalWriter(journal, **opts).open()
        _fill(disk / "filler")
        for i in range(stop + 100, stop + 3000):
            w.append(data[i], i, 2)
            w.write()
        assert w.disk_full
        written = w.written_seq
        fd = w._fd
        assert fd is not None
        os.close(fd)  # the crash: no orderly close
        for attempt in range(2):
            w2 = JournalWriter(journal, **opts).open()
            w2.append(b"[]", 1, 3 + attempt)
            w2.write()
            assert w2.disk_full
            if w2._fd is not None:
                os.close(w2._fd)
        (disk / "filler").unlink()
        w3 = JournalWriter(journal, **opts).open()
        w3.append(b"[1]", 1, 5)
        w3.close()
        recs = list(read_records(journal))
        assert [r.data for r in recs if r.epoch == 1 and r.kind == FRAME] == (
            data[: stop - dropped] + data[stop : stop + 100]
        )
        epoch2 = [r.data for r in recs if r.epoch == 2]
        assert epoch2 == data[stop + 100 : stop + 100 + len(epoch2)]
        assert [r.seq for r in recs] == sorted({r.seq for r in recs})
        assert max(r.seq for r in recs if r.epoch == 2) < written
        assert recs[-1].data == b"[1]"
        assert verify(journal).ok
