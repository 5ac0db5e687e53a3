"""The bounded queue between the socket reader and user code, with a stated overflow policy.

The reader (a picows callback, synchronous, on the event loop) appends whole decoded
frames (lists of events) with :meth:`EventQueue.put_batch`, which never blocks and never
awaits user code, so reading and pings go on whatever the consumer does. The size
bound counts events, not frames. When it is exceeded:

* ``block``: the queue asks its owner to pause reading the socket (TCP backpressure)
  and to resume once the consumer has drained it to a quarter of the bound;
* ``drop_oldest``: the oldest *data* events are discarded, counted, and a
  :class:`~tickwire.events.Dropped` marker is queued so the loss is visible in-band;
  control events (connects, gaps) are never dropped;
* ``disconnect``: the owner is asked to drop the connection (a ``slow_consumer``
  disconnect, reported like any other gap) while the queued events are kept.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from ..errors import ConfigError
from ..events import ControlEvent, Dropped, Event

__all__ = ["EventQueue", "OverflowPolicy"]

OverflowPolicy = Literal["block", "drop_oldest", "disconnect"]
_POLICIES = ("block", "drop_oldest", "disconnect")


class EventQueue:
    """A bounded FIFO of event batches. Single consumer, written from the event loop's thread."""

    def __init__(
        self,
        maxsize: int = 100_000,
        policy: OverflowPolicy = "block",
        *,
        on_pause: Callable[[], None] | None = None,
        on_resume: Callable[[], None] | None = None,
        on_overflow_disconnect: Callable[[], None] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ConfigError("queue_size must be at least 1")
        if policy not in _POLICIES:
            raise ConfigError(f"unknown overflow policy {policy!r}; choose one of {', '.join(_POLICIES)}")
        self.maxsize = maxsize
        self.policy = policy
        self.low_water = max(1, maxsize // 4)
        self.on_pause = on_pause
        self.on_resume = on_resume
        self.on_overflow_disconnect = on_overflow_disconnect
        self._batches: deque[list[Event]] = deque()
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._closed = False
        self.dropped = 0
        self.peak = 0
        self.overflows = 0

    def __len__(self) -> int:
        return self._size

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def closed(self) -> bool:
        return self._closed

    def put_batch(self, events: list[Event]) -> None:
        """Append one batch (never blocks). Applies the overflow policy when over the bound."""
        self._batches.append(events)
        size = self._size + len(events)
        self._size = size
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        if size > self.maxsize:
            self._overflow()

    def close(self) -> None:
        """No more batches will come; a waiting consumer wakes up and sees the end."""
        self._closed = True
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> list[Event] | None:
        """The oldest batch, or None if empty."""
        if not self._batches:
            return None
        batch = self._batches.popleft()
        self._size -= len(batch)
        if self._paused and self._size <= self.low_water:
            self._paused = False
            if self.on_resume is not None:
                self.on_resume()
        return batch

    async def get(self) -> list[Event] | None:
        """The oldest batch, waiting for one; None once closed and drained."""
        while True:
            batch = self.get_nowait()
            if batch is not None:
                return batch
            if self._closed:
                return None
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            await self._waiter

    def _overflow(self) -> None:
        self.overflows += 1
        self.peak = max(self.peak, self._size)
        if self.policy == "block":
            if not self._paused:
                self._paused = True
                if self.on_pause is not None:
                    self.on_pause()
        elif self.policy == "drop_oldest":
            self._drop_oldest()
        else:
            if self.on_overflow_disconnect is not None:
                self.on_overflow_disconnect()

    def _drop_oldest(self) -> None:
        dropped = 0  # data events shed now
        merged = 0  # events counted by earlier Dropped markers shed now (their count carries over)
        kept: list[Event] = []

        def shed(events: list[Event]) -> None:
            nonlocal dropped, merged
            for ev in events:
                if isinstance(ev, Dropped):
                    merged += ev.count
                elif isinstance(ev, ControlEvent):
                    kept.append(ev)
                else:
                    dropped += 1

        while self._size > self.maxsize and len(self._batches) > 1:
            batch = self._batches.popleft()
            self._size -= len(batch)
            shed(batch)
        if self._size > self.maxsize and self._batches:
            # a single batch larger than the bound: trim its head
            batch = self._batches[0]
            excess = self._size - self.maxsize
            self._batches[0] = batch[excess:]
            self._size -= excess
            shed(batch[:excess])
        if dropped or merged or kept:
            self.dropped += dropped
            marker = kept
            if dropped or merged:
                marker.append(Dropped(count=dropped + merged, total=self.dropped, at=time.time()))
            self._batches.appendleft(marker)
            self._size += len(marker)
