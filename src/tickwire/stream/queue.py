"""The bounded queue between the socket reader and user code, with a stated overflow policy.

Theory of operation
-------------------
The reader (a picows callback, synchronous, on the event loop) appends *items* and never
blocks or awaits user code, so reads and pings go on whatever the consumer does. An item
is either a raw data frame (``bytes``), or a list of already-decoded events: control
events, or a frame the session had to read itself because it carries statuses, which comes
as :class:`FrameEvents` (a list that also holds the frame as received, for raw consumers).

Raw frames are decoded only when the consumer takes them (:meth:`EventQueue.drain`).
That is deliberate: decoding in the reader lets tens of thousands of events pile up
between two runs of the consumer, and the garbage collector and cache misses then cost
more than the decoding itself; decoded just before use, events die young, as in a bare
loop (benchmarks/: ~40 % versus ~90 % of the bare loop's throughput). It also means a
consumer that wants raw frames (a journal, the seed's raw-string callbacks) never pays
for JSON decoding.

There are two bounds: ``maxsize`` items (frames and batches) and ``max_bytes`` bytes of frames
(a frame is counted at its length, a batch decoded from one frame at that frame's length, other
batches of control events at nothing). Counting bytes is what bounds memory: a frame may hold one
event or a thousand. When either bound is exceeded:

* ``block``: the queue asks its owner to pause reading the socket (TCP backpressure)
  and to resume once the consumer has drained it to a quarter of both bounds;
* ``drop_oldest``: the oldest data is discarded and counted (events in a raw frame are
  counted by the session's ``count_events``, without decoding), and a
  :class:`~tickwire.events.Dropped` marker is queued so the loss is visible in-band; control events
  are never dropped;
* ``disconnect``: the owner is asked to drop the connection (a ``slow_consumer_local``
  disconnect, reported like any other gap) while everything queued is kept.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Literal

from tickwire.errors import ConfigError
from tickwire.events import ControlEvent, Dropped, Event
from tickwire.stream.metrics import Metrics

__all__ = ["DEFAULT_MAX_BYTES", "EventQueue", "FrameEvents", "Item", "OverflowPolicy"]

OverflowPolicy = Literal["block", "drop_oldest", "disconnect"]
_POLICIES = ("block", "drop_oldest", "disconnect")

Item = bytes | list[Event]
"""A raw data frame, or decoded events (:class:`FrameEvents` when they came from one frame)."""


class FrameEvents(list[Event]):
    """The events a session read from one frame, in order, and that frame as received (``frame``).

    A plain list to every consumer of events; a raw consumer (the callback client's raw mode)
    passes ``frame`` on instead of re-encoding the events, so it gets exactly what the server sent.
    """

    __slots__ = ("frame",)

    def __init__(self, events: list[Event], frame: bytes) -> None:
        super().__init__(events)
        self.frame = frame


def _one(frame: bytes) -> int:
    return 1


def _size(item: Item) -> int:
    """Bytes an item counts against ``max_bytes``: its frame's length (0 for control batches)."""
    if type(item) is bytes:
        return len(item)
    frame = getattr(item, "frame", None)
    return len(frame) if frame is not None else 0


DEFAULT_MAX_BYTES = 64 << 20
"""The byte bound's default: 64 MiB of frames waiting for the consumer."""


def _no_decoder(frame: bytes) -> list[Event]:
    raise ConfigError("this queue holds raw frames but was given no decoder")


class EventQueue:
    """A bounded FIFO of frames and event batches. Single consumer, written from the loop's thread."""

    # slots: the C frame reader (tickwire.speedups) reads and updates the hot ones in place
    __slots__ = (
        "_closed",
        "_items",
        "_paused",
        "_waiter",
        "bytes",
        "count_events",
        "decode",
        "decode_fast",
        "dropped",
        "low_bytes",
        "low_water",
        "max_bytes",
        "maxsize",
        "metrics",
        "on_overflow_disconnect",
        "on_pause",
        "on_resume",
        "overflows",
        "peak",
        "peak_bytes",
        "policy",
        "resumed_at",
    )

    def __init__(
        self,
        maxsize: int = 10_000,
        policy: OverflowPolicy = "block",
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        decode: Callable[[bytes], list[Event]] = _no_decoder,
        decode_fast: Callable[[bytes], list[Event]] | None = None,
        count_events: Callable[[bytes], int] | None = None,
        metrics: Metrics | None = None,
        on_pause: Callable[[], None] | None = None,
        on_resume: Callable[[], None] | None = None,
        on_overflow_disconnect: Callable[[], None] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ConfigError("queue_size must be at least 1")
        if max_bytes < 1:
            raise ConfigError("queue_bytes must be at least 1")
        if policy not in _POLICIES:
            raise ConfigError(f"unknown overflow policy {policy!r}; choose one of {', '.join(_POLICIES)}")
        self.maxsize = maxsize
        self.policy = policy
        self.low_water = max(1, maxsize // 4)
        self.max_bytes = max_bytes
        self.low_bytes = max(1, max_bytes // 4)
        self.decode = decode
        self.decode_fast = decode_fast if decode_fast is not None else decode
        #: Events in a raw frame, counted without decoding it (the session's ``count_events``).
        self.count_events = count_events if count_events is not None else _one
        self.metrics = metrics if metrics is not None else Metrics()
        self.on_pause = on_pause
        self.on_resume = on_resume
        self.on_overflow_disconnect = on_overflow_disconnect
        self._items: deque[Item] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._closed = False
        self.bytes = 0  # bytes of frames queued now (see the module docstring)
        self.peak_bytes = 0
        self.resumed_at: float | None = None  # time.monotonic() of the last resume (block), or None
        self.dropped = 0
        self.peak = 0
        self.overflows = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the reader's side ------------------------------------------------------------

    def put(self, item: Item) -> None:
        """Append a raw frame or a batch (never blocks). Applies the overflow policy when over the bound."""
        items = self._items
        items.append(item)
        size = len(item) if type(item) is bytes else _size(item)
        self.bytes += size
        if self._waiter is not None:
            self._wake()
        if (len(items) > self.maxsize or self.bytes > self.max_bytes) and not self._paused:
            self._overflow()  # once paused, the reader is told already

    def put_frame(self, frame: bytes) -> None:
        """:meth:`put` for a raw data frame: the driver's hot path."""
        items = self._items
        items.append(frame)
        self.bytes += len(frame)
        if self._waiter is not None:
            self._wake()
        if (len(items) > self.maxsize or self.bytes > self.max_bytes) and not self._paused:
            self._overflow()

    def _wake(self) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """No more items will come; a waiting consumer wakes up and sees the end."""
        self._closed = True
        self._wake()

    # -- the consumer's side ----------------------------------------------------------

    def get_raw_nowait(self) -> Item | None:
        """The oldest item as queued (raw frames stay undecoded), or None if empty."""
        items = self._items
        if not items:
            return None
        item = items.popleft()
        self.bytes -= _size(item)
        if self._paused and self._drained():
            self._resume()
        return item

    def drain_raw(self, max_items: int = 1024, max_bytes: int | None = None) -> list[Item]:
        """Up to ``max_items`` of the oldest items as queued (raw frames stay undecoded), and no more
        than about ``max_bytes`` of frames (at least one item).

        For consumers that forward frames or decode elsewhere (the callback client decodes on its
        own thread); they count ``metrics.events`` themselves.
        """
        items = self._items
        n = min(max_items, len(items))
        popleft = items.popleft
        if max_bytes is None:
            out = [popleft() for _ in range(n)]
            size = sum(map(_size, out))
        else:
            out = []
            size = 0
            while n and (size < max_bytes or not out):
                item = popleft()
                out.append(item)
                size += _size(item)
                n -= 1
        self.bytes -= size
        if self._paused and self._drained():
            self._resume()
        return out

    def get_nowait(self) -> list[Event] | None:
        """The oldest non-empty item's events (a raw frame is decoded now), or None if none is left."""
        batches = self.drain(max_events=1)
        return batches[0] if batches else None

    def drain(self, max_events: int = 128) -> list[list[Event]]:
        """The oldest items' events, decoded now, until about ``max_events`` (at least one item).

        The consumers' hot path: one call per wake-up instead of one per frame, while keeping
        the decoded working set small (events are used soon after they are made).
        """
        items = self._items
        out: list[list[Event]] = []
        if not items:
            return out
        fast = self.decode_fast
        slow = self.decode
        popleft = items.popleft
        append = out.append
        n = 0
        size = 0
        if self._paused:
            self.peak = max(self.peak, len(items))
            self.peak_bytes = max(self.peak_bytes, self.bytes)
        while items and n < max_events:
            item = popleft()
            if isinstance(item, bytes):
                size += len(item)
                try:
                    events = fast(item)
                except Exception:
                    events = slow(item)
            else:
                events = item
                size += _size(item)
            if events:
                n += len(events)
                append(events)
        self.bytes -= size
        if out:
            m = self.metrics
            m.events += n
            m.last_event = out[-1][-1]
        if self._paused and self._drained():
            self._resume()
        return out

    def _drained(self) -> bool:
        """Down to the low-water marks of both bounds (resume reading)."""
        return len(self._items) <= self.low_water and self.bytes <= self.low_bytes

    def paused_lately(self, within: float = 5.0) -> bool:
        """Whether reading is paused now or was resumed less than ``within`` s ago: a server that
        dropped the connection then most likely dropped a slow consumer (its status unread)."""
        if self._paused:
            return True
        at = self.resumed_at
        return at is not None and time.monotonic() - at < within

    def _resume(self) -> None:
        self._paused = False
        self.resumed_at = time.monotonic()
        if self.on_resume is not None:
            self.on_resume()

    async def wait(self) -> bool:
        """Wait until an item is queued; False once closed and drained."""
        while not self._items:
            if self._closed:
                return False
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return True

    async def get(self) -> list[Event] | None:
        """The oldest item's events, waiting for one; None once closed and drained."""
        events = self.get_nowait()
        while events is None:
            if not await self.wait():
                return None
            events = self.get_nowait()
        return events

    # -- overflow ---------------------------------------------------------------------

    def _overflow(self) -> None:
        self.overflows += 1
        self.peak = max(self.peak, len(self._items))
        self.peak_bytes = max(self.peak_bytes, self.bytes)
        if self.policy == "block":
            if not self._paused:
                self._paused = True
                if self.on_pause is not None:
                    self.on_pause()
        elif self.policy == "drop_oldest":
            self._drop_oldest()
        elif self.on_overflow_disconnect is not None:
            self.on_overflow_disconnect()

    def _drop_oldest(self) -> None:
        dropped = 0  # data events shed now
        merged = 0  # events counted by earlier Dropped markers shed now (their count carries over)
        kept: list[Event] = []
        items = self._items
        count = self.count_events
        while items and (len(items) > self.maxsize - 1 or self.bytes > self.max_bytes):  # room for the marker
            item = items.popleft()
            self.bytes -= _size(item)
            if isinstance(item, bytes):
                dropped += max(1, count(item))
                continue
            for ev in item:
                if isinstance(ev, Dropped):
                    merged += ev.count
                elif isinstance(ev, ControlEvent):
                    kept.append(ev)
                else:
                    dropped += 1
        self.dropped += dropped
        if dropped or merged:
            kept.append(Dropped(count=dropped + merged, total=self.dropped, at=time.time()))
        if kept:
            items.appendleft(kept)
