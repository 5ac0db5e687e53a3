"""TailReader across rotation and compression, journal ids and heads, the data-directory lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.journal.helpers import frame_data, frames, write_journal
from tests.waiting import poll
from tickwire.journal import (
    DataDirLock,
    JournalError,
    JournalWriter,
    TailReader,
    journal_info,
    journal_meta,
    lock_data_dir,
    read_records,
    resolve_journal_dir,
)


def test_tail_follows_rotation_and_a_segment_compressed_and_removed_while_read(tmp_path: Path) -> None:
    data = frames(3000)
    w = JournalWriter(tmp_path, segment_bytes=8192, buffer_bytes=1024, compress=True).open()
    tail = TailReader(tmp_path, 0)
    got = []
    for i, f in enumerate(data):
        w.append(f, i, 1)
        if i % 150 == 0:
            w.write()
            got += tail.poll(max_bytes=3000)  # small bites: often mid-segment when it is compressed
            for fut in w._pending:
                fut.result()  # the segment being read is compressed and its plain file removed now
    w.close()
    while more := tail.poll():
        got += more
    tail.close()
    assert not list(tmp_path.glob("*.twj"))  # everything was compressed under the reader
    assert [r.seq for r in got] == list(range(w.next_seq))
    assert [r.data for r in got if r.is_frame] == data
    assert tail.next_seq == w.next_seq and tail.skipped_bytes == 0 and tail.errors == []


def test_tail_from_a_sequence_in_a_compressed_segment_then_live(tmp_path: Path) -> None:
    data = frames(2000)
    write_journal(tmp_path, data, segment_bytes=8192, compress=True)
    tail = TailReader(tmp_path, 1234)
    got = tail.poll(max_bytes=1 << 30)
    assert got[0].seq == 1234 and got[-1].seq == journal_info(tmp_path).head_seq - 1
    assert tail.poll() == []
    with JournalWriter(tmp_path, compress=False) as w:
        w.append(b"live", 1, 2)
        w.write()
        new = tail.poll()
    assert [r.data for r in new if r.is_frame] == [b"live"]
    assert [r.data for r in read_records(tmp_path, from_seq=1234, frames_only=True)][-1] == b"live"


def test_journal_id_is_kept_in_a_file_and_every_meta_and_seq_goes_on(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    w1 = write_journal(journal, frames(10))
    jid = (journal / "JOURNAL_ID").read_text().strip()
    assert len(jid) == 16 and jid == w1.journal_id == journal_meta(tmp_path)["journal_id"]
    w2 = write_journal(journal, frames(5, 10))
    assert w2.journal_id == jid
    assert journal_info(tmp_path).head_seq == w2.next_seq == 17
    assert journal_info(tmp_path, full=True).records == 17
    assert resolve_journal_dir(tmp_path) == journal == resolve_journal_dir(journal)
    assert frame_data(tmp_path) == frames(15)
    other = write_journal(tmp_path / "other", frames(1))
    assert other.journal_id != jid
    with pytest.raises(JournalError, match="no journal at"):
        resolve_journal_dir(tmp_path / "missing")


def test_lock_is_refused_naming_the_holder_and_released_at_death(tmp_path: Path) -> None:
    with lock_data_dir(tmp_path) as held:
        assert held.held
        with pytest.raises(JournalError, match=rf"in use by pid {__import__('os').getpid()}\b"):
            lock_data_dir(tmp_path)
    lock_data_dir(tmp_path).release()  # free again
    code = f"from tickwire.journal import lock_data_dir; l = lock_data_dir({str(tmp_path)!r}); print('ok', flush=True); input()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ok"
        with pytest.raises(JournalError, match=rf"in use by pid {proc.pid}\b"):
            lock_data_dir(tmp_path)
        proc.kill()  # death releases the lock
        proc.wait(10)
        lock = poll(lambda: _try_lock(tmp_path), lambda got: got is not None, 10, 0.05)
        assert lock is not None
        lock.release()
    finally:
        proc.kill()
        proc.wait(10)


def _try_lock(path: Path) -> DataDirLock | None:
    try:
        return lock_data_dir(path)
    except JournalError:
        return None
