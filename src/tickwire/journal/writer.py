"""The journal writer: append raw frames fast, survive a full disk, sync on a policy, rotate and compress.

Theory of operation
-------------------
:meth:`JournalWriter.append` is the hot path (called from the transport's frame tap for every
received frame): it numbers the record (:attr:`~JournalWriter.next_seq`), packs a 32-byte header
with a CRC-32 and appends header and payload to an in-memory buffer: no JSON, no system call.
:meth:`JournalWriter.write` hands the buffer to the OS, done whenever it exceeds ``buffer_bytes``
and by the owner's timer; :meth:`JournalWriter.sync` makes everything written durable
(``fsync``). A crash (kill -9, power loss) loses at most what came after the last sync.

Writing never raises. A partial ``os.write`` trims exactly what the OS took, so no byte is ever
written twice. When the disk is full (``ENOSPC``, ``EDQUOT``), or any other ``OSError``, the
writer *pauses*: :attr:`~JournalWriter.disk_full` / :attr:`~JournalWriter.error` say why (one line
naming the directory), appends go on into memory up to ``max_buffer_bytes``, and beyond that whole
frames are dropped and counted (:attr:`~JournalWriter.lost_records`). Every later ``write()``
retries; the first that succeeds logs one line, and a ``GAP`` record (JSON: ``lost_records``,
``lost_bytes``, ``from_ns``, ``to_ns``, ``reason``) takes the dropped frames' place in the
sequence, so the loss is an event every reader sees. Dropped frames get no sequence number: the
sequence has no holes.

A segment is closed when it reaches ``segment_bytes`` (or at shutdown): the next one is created
first (with its file header; a failure removes it and leaves the writer on the old one, so a full
disk at rotation never leaves a header-less segment behind), then the old one is synced and
compressed to ``.twj.zst`` by a background thread if ``compress`` is on (the plain file is
removed only once the compressed one is complete and synced). Opening a journal never appends to
an old segment: it repairs a torn tail of the newest one (see :func:`~.reader.repair_tail`),
continues the sequence from it, compresses leftovers, and starts a new segment. Each journal has
an id (:attr:`~JournalWriter.journal_id`, in ``JOURNAL_ID`` and in every META record): the sinks
keep their watermarks per journal id.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import threading
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from tickwire.errors import JournalError
from tickwire.journal.format import (
    CRC_PART,
    FILE_HEADER,
    FRAME,
    GAP,
    HEADER,
    JOURNAL_ID_FILE,
    LEN_CRC,
    MAGIC,
    MAX_RECORD,
    META,
    VERSION,
    segment_name,
    segments,
)
from tickwire.journal.reader import journal_id_of, journal_info, repair_tail

__all__ = ["JournalStats", "JournalWriter"]

log = logging.getLogger("tickwire.journal")

_CRC = zlib.crc32
_PACK_LC = LEN_CRC.pack
_PACK_CRC = CRC_PART.pack
_HLEN = HEADER.size
_FULL = (errno.ENOSPC, errno.EDQUOT)


class JournalStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counters of a writer: records appended, written to the OS, made durable, lost."""

    records: int
    bytes: int
    written_records: int
    synced_records: int
    synced_bytes: int
    segments: int
    disk_bytes: int
    last_sync: float | None
    repaired_bytes: int
    next_seq: int = 0
    lost_records: int = 0
    lost_bytes: int = 0
    disk_full: bool = False
    error: str | None = None


class JournalWriter:
    """Appends records to a journal directory. Use from one thread (the event loop's); only
    :meth:`finish_sync` may run in another."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        buffer_bytes: int = 1024 * 1024,
        max_buffer_bytes: int = 256 * 1024 * 1024,
        compress: bool = True,
        compress_level: int = 3,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if segment_bytes < 4096:
            raise ValueError("segment_bytes must be at least 4096")
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.buffer_bytes = buffer_bytes
        self.max_buffer_bytes = max_buffer_bytes
        self.compress = compress
        self.compress_level = compress_level
        self.meta: dict[str, Any] = dict(meta or {})
        self.journal_id = ""
        """16 hex digits naming this journal (set by :meth:`open`)."""
        self.next_seq = 0
        """The sequence number the next appended record gets."""
        self.written_seq = 0
        """Records with a lower sequence number are handed to the OS (visible to readers)."""
        self.disk_full = False
        """Writing is paused because the disk (or quota) is full."""
        self.error: str | None = None
        """Why writing is paused (one line naming the directory), None while writing works."""
        self.lost_records = 0
        """Frames dropped (the buffer was full while paused, or a frame over the record limit)."""
        self.lost_bytes = 0
        self.bytes = 0
        self.synced_records = 0
        self.synced_bytes = 0
        self.segments_closed = 0
        self.repaired_bytes = 0
        self.last_sync: float | None = None
        self._buf = bytearray()
        self._carry = 0  # bytes at the front of _buf that end a record the OS already took part of
        self._fd: int | None = None
        self._opened = False
        self._index = 0
        self._seg_size = 0
        self._start_seq = 0
        self._written_bytes = 0
        self._slow = False  # paused or a loss to record: append takes the careful path
        self._paused = False
        self._paused_since = 0.0
        self._gap: dict[str, Any] | None = None
        self._pending: list[Future[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._sync_lock = threading.Lock()

    @property
    def records(self) -> int:
        """Records this writer appended (frames and its own META and GAP records)."""
        return self.next_seq - self._start_seq

    @property
    def written_records(self) -> int:
        """Records this writer appended that are handed to the OS."""
        return self.written_seq - self._start_seq

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> JournalWriter:
        """Create the directory, repair the newest segment's torn tail, continue the sequence, start
        a fresh segment (or pause, if the disk is full)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the journal {self.directory}: {exc.strerror or exc}") from None
        for tmp in self.directory.glob("*.zst.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()
        existing = segments(self.directory)
        last_index = existing[-1][0] if existing else 0
        leftovers: list[Path] = []
        for index, path in existing:
            if path.name.endswith(".zst"):
                continue
            zst = self.directory / segment_name(index, True)
            if zst.exists():  # compressed fully, the plain file not yet removed: redo
                zst.unlink()
            if index == last_index:
                try:
                    _, cut = repair_tail(path)
                except JournalError as exc:
                    log.error("journal: %s; left as it is", exc)
                    continue
                self.repaired_bytes += cut
                if not path.exists():
                    continue
            leftovers.append(path)
        self.journal_id = self._load_id()
        self.next_seq = self.written_seq = self._start_seq = journal_info(self.directory).head_seq
        if self.compress:
            for path in leftovers:
                self._compress_later(path)
        self._index = last_index + 1
        self._opened = True
        self._append_meta()
        try:
            self._start_segment()
            self._flush()
        except OSError as exc:
            self._pause(exc)
        _fsync_dir(self.directory)
        return self

    def close(self) -> None:
        """Write, sync and close the current segment; wait for background compression. What cannot
        be written (the disk is still full) is logged and counted as lost."""
        if self._opened:
            try:  # no rotation now: it would leave a segment holding only its META record
                if self._buf and self._fd is None:
                    self._start_segment()
                self._flush()
            except OSError as exc:
                self._pause(exc)
            if self._buf:
                left = self.next_seq - self.written_seq
                self.lost_records += left
                self.lost_bytes += len(self._buf)
                log.error(
                    "journal: %d records (%d bytes) could not be written to %s: %s",
                    left,
                    len(self._buf),
                    self.directory,
                    self.error,
                )
                self._buf.clear()
            if self._fd is not None:
                self._close_fd()
                if self.compress:
                    self._compress_later(self.current_segment)
            self._opened = False
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
        """Append one record (buffered). ``data`` is stored exactly as given. Never raises: a
        frame that cannot be kept is counted and reported (see the module docstring)."""
        n = len(data)
        if (self._slow or n > MAX_RECORD) and not self._admit(n, recv_ns):
            return
        seq = self.next_seq
        self.next_seq = seq + 1
        part = _PACK_CRC(seq, recv_ns, epoch, kind, 0)
        buf = self._buf
        buf += _PACK_LC(n, _CRC(data, _CRC(part)))
        buf += part
        buf += data
        self.bytes += n
        if len(buf) >= self.buffer_bytes and not self._paused:
            self.write()

    def frame_tap(self, data: bytes, recv_ns: int, epoch: int) -> None:
        """The transport's frame tap (``AsyncStreamClient(frame_tap=writer.frame_tap)``)."""
        self.append(data, recv_ns, epoch)

    def _admit(self, n: int, recv_ns: int) -> bool:
        """The careful path of :meth:`append`: drop what cannot be kept, record a loss before the
        next record that is kept."""
        if n > MAX_RECORD:
            log.error("journal: a record of %d bytes is over the limit of %d; dropped", n, MAX_RECORD)
            self._lose(n, recv_ns, f"record of {n} bytes over the journal's limit of {MAX_RECORD}")
            return False
        if self._paused and len(self._buf) + _HLEN + n > self.max_buffer_bytes:
            if self._gap is None:
                log.error(
                    "journal: %d bytes held in memory while paused (%s); dropping frames until it can write",
                    len(self._buf),
                    self.error,
                )
            self._lose(n, recv_ns, self.error or "journal paused")
            return False
        if self._gap is not None:
            self._emit_gap()
        return True

    def _lose(self, n: int, recv_ns: int, reason: str) -> None:
        gap = self._gap
        if gap is None:
            gap = self._gap = {"lost_records": 0, "lost_bytes": 0, "from_ns": recv_ns, "reason": reason}
        gap["lost_records"] += 1
        gap["lost_bytes"] += n
        gap["to_ns"] = recv_ns
        self.lost_records += 1
        self.lost_bytes += n
        self._slow = True

    def _emit_gap(self) -> None:
        gap, self._gap = self._gap, None
        self._slow = self._paused
        if gap is not None:
            self._put(msgspec.json.encode(gap), time.time_ns(), 0, GAP)

    def _put(self, data: bytes, recv_ns: int, epoch: int, kind: int) -> None:
        """Append a record of the writer's own (META, GAP): never dropped, no write."""
        seq = self.next_seq
        self.next_seq = seq + 1
        part = _PACK_CRC(seq, recv_ns, epoch, kind, 0)
        self._buf += _PACK_LC(len(data), _CRC(data, _CRC(part))) + part + data
        self.bytes += len(data)

    # ------------------------------------------------------------------ writing

    def write(self) -> None:
        """Hand the buffer to the OS; rotate the segment if it is full. Never raises: a failure
        pauses the writer (see the module docstring) and the next call retries."""
        if not self._opened or (not self._buf and not self._paused):
            return
        try:
            if self._fd is None:
                self._start_segment()
            self._flush()
            if self._seg_size >= self.segment_bytes:
                self._rotate()
                self._flush()
        except OSError as exc:
            self._pause(exc)
            return
        if self._paused:
            self._resume()

    def _flush(self) -> None:
        """``os.write`` the buffer; after each call exactly what the OS took leaves the buffer, so
        an error part way (raised) never makes a byte go out twice."""
        buf = self._buf
        fd = self._fd
        while buf:
            assert fd is not None
            try:
                done = os.write(fd, buf)
            except InterruptedError:
                continue
            self._seg_size += done
            self._written_bytes += done
            if done == len(buf):
                buf.clear()
                self._carry = 0
                self.written_seq = self.next_seq
            else:
                self._took(done)

    def _took(self, done: int) -> None:
        """The OS took the first ``done`` bytes of the buffer (not all of it): count the records
        that completed, remember how much of the last one is still to go, trim."""
        buf = self._buf
        carry = self._carry
        if done < carry:
            self._carry = carry - done
            del buf[:done]
            return
        seq = self.written_seq + (1 if carry else 0)
        off = carry
        while off < done:
            end = off + _HLEN + int.from_bytes(buf[off : off + 4], "little")
            if end > done:
                self._carry = end - done
                break
            seq += 1
            off = end
        else:
            self._carry = 0
        del buf[:done]
        self.written_seq = seq

    def sync(self) -> None:
        """Write and ``fsync``: everything appended so far survives a crash. Never raises."""
        self.write()
        records, nbytes = self.written_records, self._written_bytes
        if self._fd is None:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self._sync_failed(exc)
            return
        self.synced_records, self.synced_bytes = records, nbytes
        self.last_sync = time.time()

    def sync_target(self) -> tuple[int, int, int]:
        """For syncing off the loop thread: write now, then return ``(dup fd, records, bytes)``;
        pass it to :meth:`finish_sync` from any thread."""
        self.write()
        fd = -1
        if self._fd is not None:
            try:
                fd = os.dup(self._fd)
            except OSError as exc:
                self._sync_failed(exc)
        return fd, self.written_records, self._written_bytes

    def finish_sync(self, target: tuple[int, int, int]) -> None:
        """``fsync`` a :meth:`sync_target` (thread-safe) and record what is now durable. Never raises."""
        fd, records, nbytes = target
        if fd >= 0:
            try:
                os.fsync(fd)
            except OSError as exc:
                self._sync_failed(exc)
                return
            finally:
                os.close(fd)
        with self._sync_lock:
            if records > self.synced_records:
                self.synced_records, self.synced_bytes = records, nbytes
            self.last_sync = time.time()

    def _sync_failed(self, exc: OSError) -> None:
        log.error("journal: fsync failed: %s: %s", exc.strerror or exc, self.directory)

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
            next_seq=self.next_seq,
            lost_records=self.lost_records,
            lost_bytes=self.lost_bytes,
            disk_full=self.disk_full,
            error=self.error,
        )

    @property
    def current_segment(self) -> Path:
        return self.directory / segment_name(self._index)

    # ------------------------------------------------------------------ pausing

    def _pause(self, exc: OSError) -> None:
        message = f"{exc.strerror or exc}: {self.directory}"
        if not self._paused or message != self.error:
            log.error(
                "journal: %s; recording is paused, up to %d KiB kept in memory until it can write",
                message,
                self.max_buffer_bytes >> 10,
            )
        if not self._paused:
            self._paused_since = time.monotonic()
        self._paused = self._slow = True
        self.disk_full = exc.errno in _FULL
        self.error = message

    def _resume(self) -> None:
        gap = self._gap
        lost = f"; {gap['lost_records']} frames ({gap['lost_bytes']} bytes) were dropped" if gap else ""
        log.warning(
            "journal: writing to %s again after %.1f s paused%s",
            self.directory,
            time.monotonic() - self._paused_since,
            lost,
        )
        self._paused = self.disk_full = False
        self.error = None
        self._slow = gap is not None
        self._emit_gap()
        try:
            self._flush()
        except OSError as exc:
            self._pause(exc)

    # ------------------------------------------------------------------ segments

    def _load_id(self) -> str:
        """The journal's id, created (random) for a new journal and kept in ``JOURNAL_ID``."""
        path = self.directory / JOURNAL_ID_FILE
        jid = journal_id_of(self.directory) or secrets.token_hex(8)
        try:
            if path.read_text().strip() == jid:
                return jid
        except OSError:
            pass
        tmp = path.with_name(JOURNAL_ID_FILE + ".tmp")
        try:
            with tmp.open("w") as f:
                f.write(jid + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(self.directory)
        except OSError as exc:  # it is in every META record too; the next open writes it again
            log.error("journal: cannot write %s: %s", path, exc.strerror or exc)
            with contextlib.suppress(OSError):
                tmp.unlink()
        return jid

    def _append_meta(self) -> None:
        meta = {**self.meta, "segment": self._index, "journal_id": self.journal_id}
        self._put(msgspec.json.encode(meta), time.time_ns(), 0, META)

    def _create_segment(self, index: int) -> int:
        """A new segment file with its header written, or OSError (and no file left behind)."""
        path = self.directory / segment_name(index)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            header = FILE_HEADER.pack(MAGIC, VERSION, 0, time.time_ns())
            if os.write(fd, header) != len(header):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        return fd

    def _start_segment(self) -> None:
        """Create the segment the buffer (starting with its META record) goes to."""
        self._fd = self._create_segment(self._index)
        self._seg_size = FILE_HEADER.size

    def _rotate(self) -> None:
        """Close the current segment for a new one (created first: a failure leaves us on this one)."""
        fd = self._create_segment(self._index + 1)
        self._close_fd()
        if self.compress:
            self._compress_later(self.current_segment)
        self._fd = fd
        self._index += 1
        self._seg_size = FILE_HEADER.size
        _fsync_dir(self.directory)
        self._append_meta()

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.fsync(fd)
            self.synced_records, self.synced_bytes = self.written_records, self._written_bytes
            self.last_sync = time.time()
        except OSError as exc:
            self._sync_failed(exc)
        os.close(fd)
        self.segments_closed += 1

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
    except OSError as exc:
        reason = exc.strerror or exc
        log.error("journal: compressing %s failed (%s); the plain segment is kept", path.name, reason)
        with contextlib.suppress(OSError):
            tmp.unlink()
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
