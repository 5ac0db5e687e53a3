"""A sink's cursor over the journal: from its own watermark to the head, exactly once, never blocking.

Theory of operation
-------------------
Each sink has a :class:`SinkCursor`, a task that

1. opens the sink in the background (each attempt bounded by ``open_timeout``, capped backoff
   between attempts: a sink that is down at start never holds up the journal or the stream);
2. asks the sink for its watermark for this journal, the position up to which it already holds
   the events (stored atomically with its rows, see :mod:`tickwire.sinks.base`);
3. feeds it :class:`~tickwire.sinks.SinkBatch` es from there on: from the shared window of the
   :class:`~tickwire.record.tail.JournalTail` when it is up to date, from the journal on disk
   (decoded in a worker thread) when it is behind the window;
4. on a write that fails for the connection (or hangs past ``write_timeout``) closes the sink and
   starts again at 1, so the resumed position is the sink's own watermark, never a guess; on a
   write the sink refuses for its *data*, splits the batch in halves until the poison events are
   alone, writes them to the dead-letter file (:mod:`~tickwire.record.dead_letter`) and goes on.

:meth:`SinkCursor.finish` brings the sink up to a target position (the journal head at shutdown),
flushes and closes it; every cursor finishes in parallel under one deadline. :meth:`SinkCursor.health`
reports the state, the durable watermark, counts and lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Literal

import msgspec

from tickwire.backoff import Backoff
from tickwire.journal.position import seq_of, show_position
from tickwire.provider import Provider
from tickwire.record.dead_letter import DeadLetters
from tickwire.record.tail import Chunk, JournalChunks, JournalTail, _from
from tickwire.redact import escape_terminal, mask_secrets
from tickwire.sinks.base import Sink, SinkBatch, batch_events

__all__ = ["SinkCursor", "SinkHealth", "SinkState", "describe_error"]

log = logging.getLogger("tickwire.sinks")

SinkState = Literal["connecting", "catching up", "live", "failing", "done", "closed"]


class SinkHealth(msgspec.Struct, frozen=True, kw_only=True):
    """A sink's state at one moment. ``watermark`` is what the sink durably holds (a position; see
    :mod:`tickwire.journal.position`), ``head`` the journal's end; ``behind`` the events between
    them when known without reading the disk (None while the sink is behind the in-memory window)."""

    name: str
    state: SinkState
    watermark: int
    head: int
    behind: int | None
    written: int
    batches: int
    errors: int
    dead_letters: int
    last_error: str | None
    lag_seconds: float
    healthy: bool


class SinkCursor:
    """Feeds one sink from the journal (see the module docstring)."""

    def __init__(
        self,
        sink: Sink,
        *,
        tail: JournalTail,
        journal_dir: Path,
        journal_id: str,
        provider: Provider,
        market: str,
        dead_letter_dir: Path,
        batch_size: int = 50_000,
        flush_interval: float = 0.5,
        open_timeout: float = 10.0,
        write_timeout: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.sink = sink
        self.name = sink.name
        self.tail = tail
        self.journal_dir = journal_dir
        self.journal = journal_id
        self.provider = provider
        self.market = market
        self.batch_size = batch_events(sink, batch_size)
        self.flush_interval = flush_interval
        self.open_timeout = open_timeout
        self.write_timeout = write_timeout
        self.backoff = backoff or Backoff(base=0.2, cap=5.0)
        self.dead = DeadLetters(dead_letter_dir, sink.name)
        self.state: SinkState = "connecting"
        self.pos = 0
        """Where the cursor is (the end of the last batch written)."""
        self.durable = 0
        """The sink's own watermark as last read from it."""
        self.known = False
        """Whether :attr:`durable` was ever read from the sink (False: it never opened)."""
        self.written = 0
        self.batches = 0
        self.errors = 0
        self.last_error: str | None = None
        self._target: int | None = None
        self._behind_since: float | None = None
        self._disk: JournalChunks | None = None
        self._disk_pos = -1
        self._task: asyncio.Task[None] | None = None
        self._opened = False
        self._said = ""
        self._kick = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the cursor's task (opening the sink happens in it, in the background)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"tickwire-sink-{self.name}")

    async def finish(self, target: int) -> None:
        """Write everything before ``target``, flush and close (the caller bounds the time)."""
        self._target = target
        self.backoff.reset()
        self._kick.set()  # a cursor waiting out a backoff tries again now: the deadline is short
        self.tail.wake()
        task = self._task
        if task is not None:
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                task.cancel()
                raise

    async def abort(self) -> None:
        """Stop now (the shutdown deadline passed): cancel the task, close the sink quietly."""
        task = self._task
        for _ in range(20):  # a cancel can be swallowed by code the task awaits: insist, boundedly
            if task is None or task.done():
                break
            task.cancel()
            await asyncio.wait({task}, timeout=0.5)
        if task is not None and task.done() and not task.cancelled():
            with contextlib.suppress(BaseException):
                task.result()
        await self._close_sink()
        self.state = "closed"

    @property
    def complete(self) -> bool:
        """Whether the sink durably holds everything before the target."""
        return self._target is not None and self.known and self.durable >= self._target

    def health(self) -> SinkHealth:
        head = self.tail.end if self._target is None else max(self._target, self.tail.end)
        behind: int | None = None
        if self.pos >= self.tail.start:
            behind = self.tail.count_between(self.pos, head)
        lag = 0.0 if self._behind_since is None else time.monotonic() - self._behind_since
        return SinkHealth(
            name=self.name,
            state=self.state,
            watermark=self.durable,
            head=head,
            behind=behind,
            written=self.written,
            batches=self.batches,
            errors=self.errors,
            dead_letters=self.dead.count,
            last_error=self.last_error,
            lag_seconds=lag,
            healthy=self.state in ("live", "catching up", "done"),
        )

    # ------------------------------------------------------------------ the task

    async def _run(self) -> None:
        try:
            while True:
                await self._connect()  # at shutdown too: the recorder's deadline bounds the attempts
                try:
                    await self._pump()
                except _Failed:
                    await self._close_sink()
                    await self._pause()
                    continue
                await self._finish_sink()
                return
        finally:
            if self._disk is not None:
                self._disk.close()
                self._disk = None

    async def _connect(self) -> None:
        """Open the sink and read its watermark, retrying with capped backoff until it works."""
        was_failing = self.state == "failing"
        self.state = "connecting"
        while True:
            try:
                await asyncio.wait_for(self.sink.open(), self.open_timeout)
                self._opened = True
                wm = await asyncio.wait_for(self.sink.watermark(self.journal), self.open_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                was_failing = True
                self._error("cannot open", exc)
                await self._close_sink()
                await self._pause()
                continue
            self.durable = self.pos = wm
            self.known = True
            self.backoff.reset()
            self.state = "live"
            if was_failing:
                log.info("sink %s: open, resuming at journal position %s", self.name, show_position(wm))
            return

    async def _pause(self) -> None:
        """Wait out the next backoff delay, or less when :meth:`finish` kicks (shutdown)."""
        delay = self.backoff.next()
        if self._target is not None:  # shutting down: keep trying briskly until the deadline
            await asyncio.sleep(min(max(delay, 0.05), 0.5))
            return
        self._kick.clear()
        # asyncio.timeout, not wait_for: wait_for swallows a cancel that meets a set event (3.11)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._kick.wait()

    async def _pump(self) -> None:
        """Write batches until the target (if any) is reached."""
        pending_since: float | None = None
        while True:
            target = self._target
            if target is not None and self.pos >= target:
                return
            chunk = self.tail.take(self.pos, self.batch_size)
            if chunk is None and self.pos < self.tail.start:
                self.state = "catching up"
                chunk = await self._read_disk()
            if chunk is None and self.pos < self.tail.start:
                await asyncio.sleep(self.flush_interval)  # the disk lags the tail for a moment
                continue
            if chunk is None:  # up to date with the tail
                self.state = "live"
                self._behind_since = None
                pending_since = None
                if target is not None:
                    return
                await self.tail.wait_beyond(self.pos, None)
                continue
            if self._behind_since is None:
                self._behind_since = time.monotonic()
            if target is None and len(chunk.events) < self.batch_size and self.pos >= self.tail.start:
                # at the head: let a batch build up, but never hold data longer than flush_interval
                now = time.monotonic()
                if pending_since is None:
                    pending_since = now
                wait = self.flush_interval - (now - pending_since)
                if wait > 0:
                    await self.tail.wait_beyond(self.tail.end, wait)
                    continue
            if target is not None and chunk.end > target:
                chunk = _until(chunk, target)
            pending_since = None
            await self._write(SinkBatch(self.journal, self.pos, chunk.end, chunk.events, chunk.positions))
            if self._said:
                log.info("sink %s: writing again", self.name)
                self._said = ""
            self.state = "live"
            self.backoff.reset()

    async def _read_disk(self) -> Chunk | None:
        """The next chunk from the journal on disk at :attr:`pos` (a worker thread reads and decodes)."""
        if self._disk is None or self._disk_pos != self.pos:
            if self._disk is not None:
                self._disk.close()
            self._disk = JournalChunks(self.journal_dir, seq_of(self.pos), self.provider, self.market)
        chunk = await asyncio.to_thread(self._disk.next_events, self.batch_size)
        if chunk is None:
            self._disk_pos = self.pos
            return None
        self._disk_pos = chunk.end
        return _from(chunk, self.pos) if chunk.start < self.pos else _widen(chunk, self.pos)

    async def _write(self, batch: SinkBatch) -> None:
        """Write one batch, isolating poison events; raises :class:`_Failed` when the sink failed."""
        try:
            await self._isolate(batch)
        except _Failed:
            raise
        self.pos = batch.end
        try:
            self.durable = await asyncio.wait_for(self.sink.watermark(self.journal), self.write_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._error("watermark read failed", exc)
            raise _Failed from exc

    async def _isolate(self, batch: SinkBatch) -> None:
        try:
            await asyncio.wait_for(self.sink.write(batch), self.write_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, TimeoutError) or not self._is_data_error(exc):
                if isinstance(exc, TimeoutError):
                    exc = TimeoutError(f"no answer in {self.write_timeout:g} s")
                    self._error("write hung", exc)
                else:
                    self._error("write failed", exc)
                raise _Failed from exc
            if len(batch) > 1:
                left, right = batch.split(len(batch) // 2)
                await self._isolate(left)
                await self._isolate(right)
                return
            if len(batch) == 1:
                reason = describe_error(exc)
                self.dead.add(self.name, batch.journal, batch.positions[0], batch.events[0], reason)
                log.warning(
                    "sink %s: event at journal position %s refused (%s): kept in %s",
                    self.name,
                    show_position(batch.positions[0]),
                    escape_terminal(reason),
                    self.dead.path,
                )
                await self._isolate(SinkBatch(batch.journal, batch.start, batch.end))
                return
            self._error("an empty batch was refused", exc)
            raise _Failed from exc
        self.written += len(batch)
        self.batches += 1

    def _is_data_error(self, exc: BaseException) -> bool:
        try:
            return bool(self.sink.is_data_error(exc))
        except Exception:  # pragma: no cover - a sink's classifier must not take the cursor down
            return False

    async def _finish_sink(self) -> None:
        try:
            await asyncio.wait_for(self.sink.flush(), self.write_timeout)
            self.durable = await asyncio.wait_for(self.sink.watermark(self.journal), self.write_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._error("flush failed", exc)
        await self._close_sink()
        self.state = "done"

    async def _close_sink(self) -> None:
        if not self._opened:
            return
        self._opened = False
        try:
            await asyncio.wait_for(self.sink.close(), self.open_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._error("close failed", exc)

    def _error(self, what: str, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = describe_error(exc)
        said = f"{what} ({self.last_error})"
        if said != self._said:  # once per distinct error, not once per retry
            self._said = said
            log.warning("sink %s: %s; retrying", self.name, escape_terminal(said))
        self.state = "failing"


def describe_error(exc: BaseException) -> str:
    """An error's type and first line, credentials masked, at most 200 characters."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {mask_secrets(text)[:200]}"


class _Failed(Exception):
    """The sink failed for its connection; the cursor reopens it and resumes from its watermark."""


def _until(chunk: Chunk, end: int) -> Chunk:
    """``chunk`` cut at position ``end``."""
    keep = [i for i, p in enumerate(chunk.positions) if p < end]
    n = len(keep)
    return Chunk(chunk.start, end, chunk.events[:n], chunk.positions[:n])


def _widen(chunk: Chunk, pos: int) -> Chunk:
    """``chunk`` starting at ``pos`` (records between were unreadable: the watermark passes them)."""
    return Chunk(pos, chunk.end, chunk.events, chunk.positions)
