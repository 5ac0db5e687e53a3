"""The journal as the sinks' feed: decode its records once, keep a bounded window for the live sinks.

Theory of operation
-------------------
Every sink reads the journal, the source of truth, not the socket (see :mod:`tickwire.sinks.base`).
:class:`JournalTail` follows the journal the recorder is writing (:class:`~tickwire.journal.TailReader`),
decodes each new frame once with the provider's decoder and keeps the results as :class:`Chunk` s in a
window bounded in events. A sink that is up to date takes its batches from the window; one that is
behind the window (it was down, slow, or starts from an old watermark) reads and decodes the journal
from disk itself (:class:`JournalChunks`, in a worker thread) until it reaches the window. Nothing is
dropped for a slow sink: it only falls behind, and memory stays at the window's bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from bisect import bisect_left
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tickwire.events import Event
from tickwire.journal import TailReader
from tickwire.journal.format import FRAME, GAP
from tickwire.journal.position import IDX_BITS, MAX_EVENTS_PER_RECORD, position
from tickwire.journal.reader import Record
from tickwire.provider import Provider

__all__ = ["Chunk", "JournalChunks", "JournalTail", "RecordDecoder"]

log = logging.getLogger("tickwire.record")


@dataclass(slots=True)
class Chunk:
    """Decoded records ``[start, end)`` (positions): the stored events and their positions."""

    start: int
    end: int
    events: list[Event] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)


class RecordDecoder:
    """Journal records → :class:`Chunk` s of the events a provider's tables store, with positions.

    An event's index counts every event the decoder returned for its frame (stored or not), so a
    position names the same event whoever decodes the journal. GAP records (what the journal could
    not keep, e.g. while the disk was full) are collected in :attr:`gaps`.
    """

    def __init__(self, provider: Provider, market: str) -> None:
        self._decode = provider.decoder(market).decode
        self._table_for = provider.tables(market).table_for
        self._stored: dict[type[Event], bool] = {}
        self.gaps: list[dict[str, Any]] = []
        self.oversized = 0

    def stored(self, cls: type[Event]) -> bool:
        ok = self._stored.get(cls)
        if ok is None:
            ok = self._stored[cls] = self._table_for(cls) is not None
        return ok

    def chunk(self, records: list[Record]) -> Chunk:
        """The records (consecutive, oldest first) as one chunk."""
        first, last = records[0].seq, records[-1].seq
        out = Chunk(position(first), position(last + 1))
        events, positions, stored = out.events, out.positions, self._stored
        for rec in records:
            if rec.kind != FRAME:
                if rec.kind == GAP:
                    self._gap(rec)
                continue
            decoded = self._decode(rec.data)
            if len(decoded) > MAX_EVENTS_PER_RECORD:
                self.oversized += 1
                log.error(
                    "journal record %d holds %d events; only the first %d are stored",
                    rec.seq,
                    len(decoded),
                    MAX_EVENTS_PER_RECORD,
                )
                decoded = decoded[:MAX_EVENTS_PER_RECORD]
            base = rec.seq << IDX_BITS
            for idx, ev in enumerate(decoded):
                keep = stored.get(type(ev))
                if keep is None:
                    keep = self.stored(type(ev))
                if keep:
                    events.append(ev)
                    positions.append(base | idx)
        return out

    def _gap(self, rec: Record) -> None:
        try:
            info = json.loads(rec.data)
        except ValueError:
            info = {}
        self.gaps.append(info if isinstance(info, dict) else {})


class JournalChunks:
    """Reads a journal from a record sequence on, in chunks of about ``max_bytes`` of records (a
    sink's catch-up; blocking: run :meth:`next` in a worker thread)."""

    def __init__(
        self, journal_dir: Path, from_seq: int, provider: Provider, market: str, *, max_bytes: int = 8 << 20
    ) -> None:
        self._reader = TailReader(journal_dir, from_seq)
        self._decoder = RecordDecoder(provider, market)
        self.max_bytes = max_bytes

    @property
    def next_seq(self) -> int:
        return int(self._reader.next_seq)

    def next(self) -> Chunk | None:
        """The next chunk on disk, or None when everything written so far has been read."""
        records = self._reader.poll(max_bytes=self.max_bytes)
        if not records:
            return None
        return self._decoder.chunk(records)

    def next_events(self, max_events: int) -> Chunk | None:
        """Chunks on disk merged until about ``max_events`` events (a sink's batch), or None."""
        out = self.next()
        while out is not None and len(out.events) < max_events:
            more = self.next()
            if more is None:
                break
            out.events.extend(more.events)
            out.positions.extend(more.positions)
            out.end = more.end
        return out

    def close(self) -> None:
        self._reader.close()


class JournalTail:
    """Follows the journal being written: decodes new records once and keeps a window of chunks
    (at most ``window_events`` events) for the sinks that are up to date.

    :meth:`poll` is called by the recorder after each journal write; cursors wait for new data with
    :meth:`wait_beyond` and read with :meth:`take`.
    """

    def __init__(
        self,
        journal_dir: Path,
        from_seq: int,
        provider: Provider,
        market: str,
        *,
        window_events: int = 1_000_000,
    ) -> None:
        self._reader = TailReader(journal_dir, from_seq)
        self.decoder = RecordDecoder(provider, market)
        self.window_events = window_events
        self._chunks: deque[Chunk] = deque()
        self._events = 0
        self.start = position(from_seq)
        """The first position the window holds (a cursor before it reads from disk)."""
        self.end = position(from_seq)
        """The position after the last decoded record: the journal head as the sinks see it."""
        self._changed = asyncio.Event()
        self.events = 0
        """Stored events decoded since the tail started."""

    def poll(self, max_bytes: int = 8 << 20) -> int:
        """Decode what the journal has written since the last call; the number of new events."""
        new = rounds = 0
        old_end = self.end
        while True:
            records = self._reader.poll(max_bytes=max_bytes)
            if not records:
                break
            chunk = self.decoder.chunk(records)
            self._chunks.append(chunk)
            self._events += len(chunk.events)
            new += len(chunk.events)
            self.end = chunk.end
            rounds += 1
            if rounds >= 8:  # bound the work of one call; the next poll takes the rest
                break
        while self._events > self.window_events and len(self._chunks) > 1:
            old = self._chunks.popleft()
            self._events -= len(old.events)
            self.start = self._chunks[0].start
        self.events += new
        if self.end != old_end:
            self._changed.set()
        return new

    async def wait_beyond(self, pos: int, timeout: float | None) -> None:  # noqa: ASYNC109
        """Return when the tail has data at or after ``pos``, at the next change (new data,
        :meth:`wake`), or after ``timeout`` s; callers check again."""
        if self.end > pos:
            return
        self._changed.clear()
        # asyncio.timeout, not wait_for: wait_for swallows a cancel that meets a set event (3.11)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._changed.wait()

    def wake(self) -> None:
        """Wake every waiting cursor (shutdown: they have a target now)."""
        self._changed.set()

    def take(self, pos: int, max_events: int) -> Chunk | None:
        """Chunks from ``pos`` on, merged up to about ``max_events`` events (whole chunks past the
        first), or None when ``pos`` is before the window (read the disk) or at the end (nothing new)."""
        if pos < self.start or pos >= self.end:
            return None
        out: Chunk | None = None
        for chunk in self._chunks:
            if chunk.end <= pos:
                continue
            if out is None:
                out = _from(chunk, pos)
                continue
            if len(out.events) + len(chunk.events) > max_events and out.events:
                break
            out.events.extend(chunk.events)
            out.positions.extend(chunk.positions)
            out.end = chunk.end
        return out

    def count_between(self, start: int, end: int) -> int:
        """Stored events with positions in ``[start, end)`` that the window holds."""
        n = 0
        for chunk in self._chunks:
            if chunk.end <= start or chunk.start >= end:
                continue
            ps = chunk.positions
            n += bisect_left(ps, end) - bisect_left(ps, start)
        return n

    def close(self) -> None:
        self._reader.close()


def _from(chunk: Chunk, pos: int) -> Chunk:
    """A copy of ``chunk`` from position ``pos`` on."""
    if pos <= chunk.start:
        return Chunk(chunk.start, chunk.end, list(chunk.events), list(chunk.positions))
    first = bisect_left(chunk.positions, pos)
    return Chunk(pos, chunk.end, chunk.events[first:], chunk.positions[first:])
