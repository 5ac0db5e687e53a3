"""The journal writer: append raw frames fast, sync on a policy, rotate and compress segments.

Theory of operation
-------------------
:meth:`JournalWriter.append` is the hot path (called from the transport's frame tap for every
received frame): it packs a 24-byte header with a CRC-32 and appends header and payload to an
in-memory buffer, no JSON, no system call. :meth:`JournalWriter.write` hands the buffer to the
OS (one ``write``), done whenever it exceeds ``buffer_bytes`` and by the owner's timer;
:meth:`JournalWriter.sync` makes everything written durable (``fsync``). The recorder runs
``write`` every few ms and ``sync`` every ``fsync_interval`` s (``None``: only when a segment is
closed), so a crash (kill -9, power loss) loses at most what came after the last sync.

A segment is closed when it reaches ``segment_bytes`` (or at shutdown): synced, then compressed
to ``.twj.zst`` by a background thread if ``compress`` is on (the plain file is removed only once
the compressed one is complete and synced). Opening a journal never appends to an old segment:
it repairs a torn tail of the newest one (see :func:`~.reader.repair_tail`), compresses
leftovers, and starts a new segment.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from tickwire.journal.format import (
    CRC_PART,
    FILE_HEADER,
    FRAME,
    HEADER,
    MAGIC,
    MAX_RECORD,
    META,
    VERSION,
    segment_name,
    segments,
)
from tickwire.journal.reader import repair_tail

__all__ = ["JournalStats", "JournalWriter"]

log = logging.getLogger("tickwire.journal")

_CRC = zlib.crc32
_PACK_HEAD = HEADER.pack
_PACK_CRC = CRC_PART.pack


class JournalStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counters of a writer: records appended, written to the OS, made durable."""

    records: int
    bytes: int
    written_records: int
    synced_records: int
    synced_bytes: int
    segments: int
    disk_bytes: int
    last_sync: float | None
    repaired_bytes: int


class JournalWriter:
    """Appends records to a journal directory. Use from one thread (the event loop's)."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        buffer_bytes: int = 1024 * 1024,
        compress: bool = True,
        compress_level: int = 3,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if segment_bytes < 4096:
            raise ValueError("segment_bytes must be at least 4096")
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.buffer_bytes = buffer_bytes
        self.compress = compress
        self.compress_level = compress_level
        self.meta: dict[str, Any] = dict(meta or {})
        self._buf = bytearray()
        self._fd: int | None = None
        self._index = 0
        self._seg_size = 0
        self._pending: list[Future[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._sync_lock = threading.Lock()
        self.records = 0
        self.bytes = 0
        self.written_records = 0
        self.synced_records = 0
        self.synced_bytes = 0
        self.segments_closed = 0
        self.repaired_bytes = 0
        self.last_sync: float | None = None
        self._written_bytes = 0

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> JournalWriter:
        """Create the directory, repair the newest segment's torn tail, start a fresh segment."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for tmp in self.directory.glob("*.zst.tmp"):
            tmp.unlink()
        existing = segments(self.directory)
        for index, path in existing:
            zst = self.directory / segment_name(index, True)
            if not path.name.endswith(".zst"):
                if zst.exists():  # compressed fully, the plain file not yet removed: redo
                    zst.unlink()
                if index == existing[-1][0]:
                    _, cut = repair_tail(path)
                    self.repaired_bytes += cut
                if self.compress:
                    self._compress_later(path)
        self._index = existing[-1][0] if existing else 0
        self._new_segment()
        _fsync_dir(self.directory)
        return self

    def close(self) -> None:
        """Write, sync and close the current segment; wait for background compression."""
        if self._fd is not None:
            self._close_segment()
        for fut in self._pending:
            fut.result()
        self._pending.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def __enter__(self) -> JournalWriter:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ hot path

    def append(self, data: bytes, recv_ns: int, epoch: int, kind: int = FRAME) -> None:
        """Append one record (buffered). ``data`` is stored exactly as given."""
        n = len(data)
        if n > MAX_RECORD:
            raise ValueError(f"record of {n} bytes is over the journal's limit of {MAX_RECORD}")
        part = _PACK_CRC(recv_ns, epoch, kind, 0)
        buf = self._buf
        buf += _PACK_HEAD(n, _CRC(data, _CRC(part)), recv_ns, epoch, kind, 0)
        buf += data
        self.records += 1
        self.bytes += n
        if len(buf) >= self.buffer_bytes:
            self.write()

    def frame_tap(self, data: bytes, recv_ns: int, epoch: int) -> None:
        """The transport's frame tap (``AsyncStreamClient(frame_tap=writer.frame_tap)``)."""
        self.append(data, recv_ns, epoch)

    # ------------------------------------------------------------------ durability

    def write(self) -> None:
        """Hand the buffer to the OS; rotate the segment if it is full."""
        buf = self._buf
        if buf and self._fd is not None:
            view = memoryview(buf)
            while view:
                done = os.write(self._fd, view)
                view = view[done:]
            view.release()
            self._seg_size += len(buf)
            self._written_bytes += len(buf)
            buf.clear()
            self.written_records = self.records
            if self._seg_size >= self.segment_bytes:
                self._rotate()

    def sync(self) -> None:
        """Write and ``fsync``: everything appended so far survives a crash."""
        self.write()
        records, nbytes = self.written_records, self._written_bytes
        if self._fd is not None:
            os.fsync(self._fd)
        self.synced_records, self.synced_bytes = records, nbytes
        self.last_sync = time.time()

    def sync_target(self) -> tuple[int, int, int]:
        """For syncing off the loop thread: write now, then return ``(dup fd, records, bytes)``;
        pass it to :meth:`finish_sync` from any thread."""
        self.write()
        if self._fd is None:
            return -1, self.written_records, self._written_bytes
        return os.dup(self._fd), self.written_records, self._written_bytes

    def finish_sync(self, target: tuple[int, int, int]) -> None:
        """``fsync`` a :meth:`sync_target` (thread-safe) and record what is now durable."""
        fd, records, nbytes = target
        if fd >= 0:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        with self._sync_lock:
            if records > self.synced_records:
                self.synced_records, self.synced_bytes = records, nbytes
            self.last_sync = time.time()

    def stats(self) -> JournalStats:
        return JournalStats(
            records=self.records,
            bytes=self.bytes,
            written_records=self.written_records,
            synced_records=self.synced_records,
            synced_bytes=self.synced_bytes,
            segments=self._index,
            disk_bytes=disk_usage(self.directory),
            last_sync=self.last_sync,
            repaired_bytes=self.repaired_bytes,
        )

    @property
    def current_segment(self) -> Path:
        return self.directory / segment_name(self._index)

    # ------------------------------------------------------------------ segments

    def _new_segment(self) -> None:
        self._index += 1
        path = self.directory / segment_name(self._index)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        header = FILE_HEADER.pack(MAGIC, VERSION, 0, time.time_ns())
        os.write(fd, header)
        self._fd = fd
        self._seg_size = len(header)
        meta = {**self.meta, "segment": self._index}
        self.append(msgspec.json.encode(meta), time.time_ns(), 0, META)

    def _close_segment(self) -> None:
        self.write()
        fd, self._fd = self._fd, None
        assert fd is not None
        os.fsync(fd)
        os.close(fd)
        self.synced_records, self.synced_bytes = self.written_records, self._written_bytes
        self.last_sync = time.time()
        self.segments_closed += 1
        if self.compress:
            self._compress_later(self.directory / segment_name(self._index))

    def _rotate(self) -> None:
        self._close_segment()
        self._new_segment()
        _fsync_dir(self.directory)

    def _compress_later(self, path: Path) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="tickwire-journal-zstd")
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._executor.submit(_compress, path, self.compress_level))


def _compress(path: Path, level: int) -> None:
    """``x.twj`` → ``x.twj.zst`` (via a synced temporary file), then remove ``x.twj``."""
    import zstandard

    final = path.with_name(path.name + ".zst")
    tmp = path.with_name(path.name + ".zst.tmp")
    try:
        with path.open("rb") as src, tmp.open("wb") as dst:
            zstandard.ZstdCompressor(level=level).copy_stream(src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, final)
        _fsync_dir(path.parent)
        path.unlink()
    except Exception:
        log.exception("journal: compressing %s failed; the plain segment is kept", path.name)
        with contextlib.suppress(OSError):
            tmp.unlink()


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def disk_usage(directory: Path) -> int:
    """Bytes used by the files directly in ``directory``."""
    total = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            with contextlib.suppress(OSError):
                if entry.is_file():
                    total += entry.stat().st_size
    return total
