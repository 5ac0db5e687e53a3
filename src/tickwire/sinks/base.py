"""What every sink shares: the ``Sink`` protocol and the runner that batches, bounds and retries.

Theory of operation
-------------------
The recorder hands each data batch to every sink's :class:`SinkRunner` with :meth:`~SinkRunner.offer`,
which only appends to the runner's own bounded queue: it never waits on the sink, so a slow or
broken sink cannot stall the socket reader or the journal. When a queue is over its bound the
runner applies its policy: ``drop_oldest`` (the default) sheds the oldest batches and counts them
(the journal still has them: replay it into the sink to fill the hole), ``block`` makes the
recorder wait (:meth:`~SinkRunner.room`), which pauses reading the socket.

A runner's task takes up to ``batch_size`` events (or whatever is there after ``flush_interval``
seconds) and awaits ``sink.write``. A failed write is retried with capped backoff, the same
batch, until it succeeds: every sink is idempotent for re-delivered events (primary keys, message
ids), so a retry after a half-done write creates no duplicates. :meth:`~SinkRunner.close` flushes
what is queued (within a deadline) and closes the sink; :meth:`~SinkRunner.health` reports
written/pending/dropped counts, errors and lag (age of the oldest queued batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from typing import Literal, Protocol, runtime_checkable

import msgspec

from tickwire.backoff import Backoff
from tickwire.errors import ConfigError
from tickwire.events import Event

__all__ = ["Sink", "SinkHealth", "SinkPolicy", "SinkRunner", "mask_url"]

log = logging.getLogger("tickwire.sinks")

SinkPolicy = Literal["drop_oldest", "block"]


@runtime_checkable
class Sink(Protocol):
    """A destination for market events. ``write`` must be idempotent for a re-delivered batch."""

    name: str

    async def open(self) -> None: ...

    async def write(self, events: list[Event]) -> None: ...

    async def close(self) -> None: ...


class SinkHealth(msgspec.Struct, frozen=True, kw_only=True):
    """A sink's counters at one moment."""

    name: str
    written: int
    pending: int
    dropped: int
    batches: int
    errors: int
    last_error: str | None
    lag_seconds: float
    healthy: bool


class SinkRunner:
    """Runs one sink: bounded queue, batching, retries, flush on close."""

    def __init__(
        self,
        sink: Sink,
        *,
        max_pending: int = 500_000,
        batch_size: int = 50_000,
        flush_interval: float = 0.5,
        policy: SinkPolicy = "drop_oldest",
        backoff: Backoff | None = None,
    ) -> None:
        if policy not in ("drop_oldest", "block"):
            raise ConfigError(f"sink policy must be drop_oldest or block, not {policy!r}")
        self.sink = sink
        self.name = sink.name
        self.max_pending = max_pending
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.policy = policy
        self.backoff = backoff or Backoff(base=0.2, cap=5.0)
        self._queue: deque[tuple[float, list[Event]]] = deque()
        self._pending = 0
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._busy_since: float | None = None  # enqueue time of the batch being written
        self.written = 0
        self.dropped = 0
        self.batches = 0
        self.errors = 0
        self.last_error: str | None = None
        self._failing = False

    # ------------------------------------------------------------------ producer side

    def offer(self, events: list[Event]) -> None:
        """Queue a batch (never waits). Over the bound, ``drop_oldest`` sheds the oldest batches."""
        if not events:
            return
        self._queue.append((time.monotonic(), events))
        self._pending += len(events)
        if self._pending >= self.batch_size:
            self._wake.set()
        if self._pending > self.max_pending:
            if self.policy == "drop_oldest":
                while self._pending > self.max_pending and len(self._queue) > 1:
                    _, old = self._queue.popleft()
                    self._pending -= len(old)
                    self.dropped += len(old)
            else:
                self._room.clear()

    async def room(self) -> None:
        """Wait until the queue is under its bound (only ever waits with the ``block`` policy)."""
        if not self._room.is_set():
            await self._room.wait()

    @property
    def pending(self) -> int:
        return self._pending

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.sink.open()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"tickwire-sink-{self.name}")

    async def close(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Flush everything queued (within ``timeout`` s), then close the sink."""
        self._closing = True
        self._wake.set()
        task = self._task
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                log.error("sink %s: %d events not written at shutdown (deadline)", self.name, self._pending)
        try:
            await self.sink.close()
        except Exception as exc:
            self.errors += 1
            self.last_error = _describe(exc)
            log.error("sink %s: close failed: %s", self.name, self.last_error)

    def health(self) -> SinkHealth:
        oldest = self._busy_since
        if oldest is None and self._queue:
            oldest = self._queue[0][0]
        lag = 0.0 if oldest is None else time.monotonic() - oldest
        return SinkHealth(
            name=self.name,
            written=self.written,
            pending=self._pending,
            dropped=self.dropped,
            batches=self.batches,
            errors=self.errors,
            last_error=self.last_error,
            lag_seconds=lag,
            healthy=not self._failing,
        )

    # ------------------------------------------------------------------ the writer task

    def _take(self) -> tuple[float, list[Event]]:
        """Up to about ``batch_size`` events from the front of the queue (whole frames)."""
        queue = self._queue
        first_at, batch = queue.popleft()
        if len(batch) < self.batch_size and queue:
            batch = list(batch)
            while queue and len(batch) + len(queue[0][1]) <= self.batch_size:
                batch.extend(queue.popleft()[1])
        self._pending -= len(batch)
        if not self._room.is_set() and self._pending <= self.max_pending // 2:
            self._room.set()
        return first_at, batch

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval)
                continue
            if self._pending < self.batch_size and not self._closing:
                # let a batch build up, but never hold data longer than flush_interval
                age = time.monotonic() - self._queue[0][0]
                if age < self.flush_interval:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.flush_interval - age)
                    continue
            first_at, batch = self._take()
            self._busy_since = first_at
            await self._write(batch)
            self._busy_since = None

    async def _write(self, batch: list[Event]) -> None:
        while True:
            try:
                await self.sink.write(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.errors += 1
                self.last_error = _describe(exc)
                self._failing = True
                delay = self.backoff.next()
                log.warning(
                    "sink %s: write failed (%s); retrying in %.1f s", self.name, self.last_error, delay
                )
                await asyncio.sleep(delay)
                continue
            if self._failing:
                log.info("sink %s: writing again", self.name)
            self._failing = False
            self.backoff.reset()
            self.written += len(batch)
            self.batches += 1
            return


def _describe(exc: BaseException) -> str:
    """An error's type and first line, without anything that may carry credentials (URLs)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {mask_url(text)[:200]}"


_USERINFO = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")


def mask_url(text: str) -> str:
    """``postgres://user:secret@host`` → ``postgres://user:****@host`` (anywhere in ``text``)."""
    return _USERINFO.sub(r"\1****@", text)
