"""Disk full on a small tmpfs (mounted by the test: CI runs as root) under the data directory.

The recorder runs in-process (its journal's memory bound is lowered to 64 KiB so a loss is
reached in a second, not after 256 MiB). While the disk is full the status says "No space left on
device" naming the directory and the connection stays up; when the test frees space (it deletes its
filler file) recording resumes; the frames that did not fit in memory are GAP records with their
count (one per pause); the journal verifies clean, its records are in order with no byte repeated, and DuckDB, on
the same disk, ends holding exactly the journal's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from tests.system.chaos.checks import judge_local
from tests.system.chaos.conftest import ResultRow, stocks_url
from tests.system.chaos.recorder import API_KEY, tickwire
from tests.waiting import until
from tickwire.journal import GAP, read_records
from tickwire.journal.format import FRAME
from tickwire.record import Recorder
from tickwire.sim.thread import SimulatorThread

TMPFS_SIZE = "4m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> int:
    """Fill the file system holding ``path`` with a file at ``path``; the bytes written."""
    n = 0
    chunk = b"\0" * 65536
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                n += os.write(fd, chunk)
            except OSError:
                with contextlib.suppress(OSError):  # the last few bytes too
                    while os.write(fd, b"\0" * 512):
                        n += 512
                return n
    finally:
        os.close(fd)


async def test_disk_full_pauses_and_resumes(
    sim: SimulatorThread, small_disk: Path, row: ResultRow, caplog: pytest.LogCaptureFixture
) -> None:
    row.experiment = f"disk full ({TMPFS_SIZE} tmpfs), freed again"
    row.sinks = ["duckdb"]
    data = small_disk / "data"
    caplog.set_level(logging.WARNING)
    rec = Recorder(
        data,
        url=stocks_url(sim),
        api_key=API_KEY,
        channels=["T.*", "Q.*", "AM.*"],
        client_options={"dotenv_path": None},
        fsync_interval=None,
        segment_bytes=256 << 10,
        sink_flush_interval=0.1,
        sink_open_timeout=2.0,
        sink_write_timeout=2.0,
        flush_timeout=8.0,
    )
    assert rec.journal is not None
    rec.journal.max_buffer_bytes = 64 << 10
    stop = asyncio.Event()
    task = asyncio.create_task(rec.run(stop))
    filler = small_disk / "filler"
    try:
        await until(lambda: rec.stored_events > 200, 15, "events recorded")
        filled = await asyncio.to_thread(_fill, filler)
        await until(lambda: rec.status().disk_full, 10, "the journal to see the full disk")
        full = rec.status()
        await until(
            lambda: rec.journal is not None and rec.journal.lost_records > 20, 15, "frames beyond the bound"
        )
        connected_while_full = rec.status().connected
        records_while_full = rec.status().journal_records
        filler.unlink()
        await until(lambda: not rec.status().disk_full, 10, "the journal to resume")
        await until(
            lambda: rec.status().journal_records > records_while_full + 50, 10, "recording after resuming"
        )
    finally:
        stop.set()
        final = await asyncio.wait_for(task, 30)
    lost = final.journal_lost
    row.notes.append(f"filler {filled >> 10} KiB")

    records = list(read_records(data / "journal"))
    seqs = [r.seq for r in records]
    gaps = [msgspec.json.decode(r.data) for r in records if r.kind == GAP]
    frames = Counter(r.data for r in records if r.kind == FRAME and len(r.data) > 64)
    verify = tickwire("journal", "verify", data, timeout=60)
    row.notes.append(
        f"{lost} frames lost while full, in {len(gaps)} GAP records; status while full: {(full.journal_error or '').replace(str(data), 'DIR')!r}; "
        f"connected while full: {connected_while_full}; verify exit {verify.code}"
    )
    truth, verdicts = judge_local(data)
    row.sent = sim.counters.events_sent
    row.journaled = len(truth)
    row.verdicts(verdicts)

    assert "No space left on device" in (full.journal_error or ""), full
    assert str(data / "journal") in (full.journal_error or ""), full.journal_error
    assert any("No space left on device" in r.getMessage() for r in caplog.records)
    assert connected_while_full, "the connection was dropped for a full disk"
    assert verify.code == 0, str(verify)
    assert seqs == list(range(len(seqs))), "journal records out of order or with holes"
    assert [b for b, n in frames.items() if n > 1] == [], "a frame was written twice"
    assert lost > 0 and gaps and sum(g["lost_records"] for g in gaps) == lost, (lost, gaps)
    assert all("No space left on device" in g["reason"] for g in gaps), gaps
    assert final.complete, final.outcomes
    bad = [str(v) for v in verdicts if not v.exact]
    assert not bad, "\n".join(bad)
