"""The consuming half of a stream client, independent of the provider.

:class:`StreamConsumer` owns the lifecycle of one :class:`~tickwire.stream.driver.Driver`
task and the ways to read its :class:`~tickwire.stream.queue.EventQueue`: ``async for``,
``batches()`` (one list per frame), and handlers (``on(type, fn)`` run by ``run()``). A
provider's client subclasses it and adds what is specific: building the session,
subscribing, metrics. ``AsyncStreamClient`` and ``PolymarketClient`` are both built on it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol, Self

from tickwire.errors import ConfigError, TickwireError
from tickwire.events import Event
from tickwire.stream.driver import Driver, DriverConfig, FrameTap
from tickwire.stream.metrics import Metrics, MetricsSnapshot
from tickwire.stream.queue import EventQueue, Item, OverflowPolicy
from tickwire.stream.session import Session

__all__ = ["Handler", "StreamConsumer"]

log = logging.getLogger("tickwire.stream")

Handler = Callable[[Event], Awaitable[None] | None]


class _CountingDecoder(Protocol):
    @property
    def errors(self) -> int: ...
    @property
    def unknown(self) -> int: ...


class _ObservedSession(Protocol):
    @property
    def decoder(self) -> _CountingDecoder: ...
    @property
    def streaming(self) -> bool: ...
    @property
    def epoch(self) -> int: ...


class StreamConsumer:
    """Start/close a driver and consume its queue by iteration or by handlers (not both)."""

    queue: EventQueue
    driver: Driver
    session: _ObservedSession
    metrics_counters: Metrics

    def _init_consumer(
        self,
        session: Session,
        url: str | Callable[[], str],
        config: DriverConfig,
        *,
        queue_size: int,
        overflow: OverflowPolicy,
        decode: Callable[[bytes], list[Event]],
        decode_fast: Callable[[bytes], list[Event]] | None = None,
        frame_tap: FrameTap | None = None,
    ) -> None:
        """Wire the pipeline every client has: ``session`` driven by one :class:`Driver` into a
        bounded :class:`EventQueue` that this consumer reads, with shared metrics counters."""
        self.metrics_counters = Metrics()
        self.queue = EventQueue(
            queue_size,
            overflow,
            decode=decode,
            decode_fast=decode_fast,
            count_events=session.count_events,
            metrics=self.metrics_counters,
        )
        self.driver = Driver(
            session, url, self.queue, config=config, metrics=self.metrics_counters, frame_tap=frame_tap
        )
        self._handlers: dict[str, list[Handler]] = {}
        self._task: asyncio.Task[None] | None = None
        self._dispatch: dict[type[Event], tuple[tuple[Handler, bool], ...]] = {}
        #: Event types with exactly one plain (not ``async def``) handler: the fast dispatch path.
        self._single: dict[type[Event], Handler] = {}
        self._events: AsyncIterator[Event] | None = None
        self._consumer: str | None = None
        self._closed = False
        #: Rewrites what each wake-up drained before anyone sees it (the REST gap filler inserts
        #: backfilled bars after a ``Reconnected``); None costs nothing.
        self._batch_filter: Callable[[list[list[Event]]], Awaitable[list[list[Event]]]] | None = None

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background (idempotent). ``async with`` calls it."""
        if self._closed:
            raise TickwireError("this client is closed; create a new one")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.driver.run(), name="tickwire-driver")

    async def close(self) -> None:
        """Close the connection for good; idempotent. Queued events can still be read."""
        if self._closed:
            return
        self._closed = True
        await self.driver.close()
        task = self._task
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), 5.0)
            except (TimeoutError, TickwireError):
                task.cancel()
            except asyncio.CancelledError:
                if not task.done():
                    raise

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait_closed(self) -> None:
        """Wait until the connection loop ends (after :meth:`close`, or a fatal error, which is raised)."""
        task = self._task
        if task is not None:
            await asyncio.shield(task)

    def metrics(self) -> MetricsSnapshot:
        """Counters and gauges: events, bytes, decode errors, reconnects, queue depth and drops, lag."""
        m = self.metrics_counters
        dec = self.session.decoder
        return MetricsSnapshot(
            frames=m.frames,
            events=m.events,
            bytes=m.bytes,
            decode_errors=dec.errors,
            unknown_events=dec.unknown,
            rejected_frames=m.rejected_frames,
            reconnects=m.reconnects,
            disconnects=m.disconnects,
            queue_depth=len(self.queue),
            queue_peak=max(self.queue.peak, len(self.queue)),
            dropped=self.queue.dropped,
            paused=self.queue.paused,
            lag_seconds=m.lag(),
            connected=self.driver.connected and self.session.streaming,
            epoch=self.session.epoch,
            uptime=time.time() - m.started,
        )

    # -- iteration --------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Event]:
        self._claim("iterate")
        if self._events is None:
            self._events = self._event_iter()
        return self._events

    async def __anext__(self) -> Event:
        return await self.__aiter__().__anext__()

    async def _drained(self) -> AsyncIterator[list[list[Event]]]:
        """What each wake-up drains from the queue (a few frames' events), until the stream ends."""
        drain = self.queue.drain
        while True:
            batches = drain()
            if batches:
                if self._batch_filter is not None:
                    batches = await self._batch_filter(batches)
                yield batches
            elif not await self._wait():
                return

    async def _event_iter(self) -> AsyncIterator[Event]:
        async for batches in self._drained():
            for batch in batches:
                for ev in batch:
                    yield ev

    async def batches(self) -> AsyncIterator[list[Event]]:
        """One list of events per received frame (plus control events)."""
        self._claim("iterate")
        drain = self.queue.drain  # _drained() inlined: one generator layer less per frame
        while True:
            batches = drain()
            if batches:
                if self._batch_filter is not None:
                    batches = await self._batch_filter(batches)
                for batch in batches:
                    yield batch
            elif not await self._wait():
                return

    async def raw_items(self, max_items: int = 1024) -> AsyncIterator[list[Item]]:
        """What each wake-up takes from the queue as queued: raw data frames stay undecoded ``bytes``
        (count their events with :meth:`count_events`), control events and frames the session read
        come as event lists. For consumers that forward or count frames (a journal-only recorder, the
        callback client's raw mode); ``metrics().events`` is theirs to count. Ends with the stream
        (a fatal error is raised)."""
        self._claim("iterate")
        drain = self.queue.drain_raw
        while True:
            items = drain(max_items)
            if items:
                yield items
            elif not await self._wait():
                return

    def count_events(self, frame: bytes) -> int:
        """How many data events a raw frame from :meth:`raw_items` holds (the session's count)."""
        return self.queue.count_events(frame)

    @property
    def error(self) -> TickwireError | None:
        """The fatal error that ended the stream (bad key, ``max_reconnects`` exhausted), if any."""
        return self.driver.error

    async def _wait(self) -> bool:
        """Wait for the next item; False at the end of the stream (raises a fatal error)."""
        if self._task is None and not self._closed:
            await self.start()
        if await self.queue.wait():
            return True
        self._raise_if_failed()
        return False

    def _raise_if_failed(self) -> None:
        task = self._task
        if task is not None and task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None:
                raise exc
        if self.driver.error is not None:
            raise self.driver.error

    def _claim(self, how: str) -> None:
        if self._consumer is not None and self._consumer != how:
            raise ConfigError("consume a client either with handlers (run) or by iterating, not both")
        self._consumer = how

    # -- handlers ---------------------------------------------------------------------

    def on(self, event_type: str, handler: Handler) -> Handler:
        """Call ``handler(event)`` for each event of ``event_type`` (its ``ev`` tag, or ``"*"`` for all)."""
        if not callable(handler):
            raise ConfigError("handler must be callable")
        self._handlers.setdefault(event_type, []).append(handler)
        self._dispatch.clear()
        self._single.clear()
        return handler

    def off(self, event_type: str, handler: Handler | None = None) -> None:
        """Remove one handler, or all of ``event_type``."""
        if handler is None:
            self._handlers.pop(event_type, None)
        elif handler in self._handlers.get(event_type, []):
            self._handlers[event_type].remove(handler)
        self._dispatch.clear()
        self._single.clear()

    def _handlers_for(self, cls: type[Event]) -> tuple[tuple[Handler, bool], ...]:
        tag = cls.__struct_config__.tag
        fns = [*self._handlers.get(str(tag), ()), *self._handlers.get("*", ())]
        found = tuple((fn, inspect.iscoroutinefunction(fn)) for fn in fns)
        self._dispatch[cls] = found
        if len(found) == 1 and not found[0][1]:
            self._single[cls] = found[0][0]
        return found

    async def run(self, *, on_error: Callable[[Exception, Event], Any] | None = None) -> None:
        """Dispatch events to the handlers until the client is closed; a failing handler is logged
        (or passed to ``on_error``) and the stream goes on."""
        self._claim("handlers")
        async for batches in self._drained():
            await self._dispatch_batches(batches, on_error)

    async def handle_messages(self, *_compat: Any, **_compat_kw: Any) -> bool:
        """Dispatch the next received batch to the handlers (the ``polygon`` package's loop body:
        ``while True: await client.handle_messages()``). Reconnecting is always on, so its
        ``reconnect``/``max_reconnection_attempts``/``reconnection_delay`` arguments are accepted and
        ignored. Returns False once the stream has ended."""
        self._claim("handlers")
        while True:
            batches = self.queue.drain()
            if batches:
                if self._batch_filter is not None:
                    batches = await self._batch_filter(batches)
                await self._dispatch_batches(batches, None)
                return True
            if not await self._wait():
                return False

    async def _dispatch_batches(
        self, batches: list[list[Event]], on_error: Callable[[Exception, Event], Any] | None
    ) -> None:
        dispatch = self._dispatch
        single = self._single
        for batch in batches:
            for ev in batch:
                one = single.get(type(ev))
                if one is not None:  # the common case: one plain function for this type
                    try:
                        res = one(ev)
                        if res is not None and inspect.isawaitable(res):
                            await res
                    except Exception as exc:
                        self._handler_failed(exc, ev, one, on_error)
                    continue
                fns = dispatch.get(type(ev))
                if fns is None:
                    fns = self._handlers_for(type(ev))
                for fn, is_async in fns:
                    try:
                        res = fn(ev)
                        if is_async or (res is not None and inspect.isawaitable(res)):
                            await res  # type: ignore[misc]
                    except Exception as exc:
                        self._handler_failed(exc, ev, fn, on_error)

    @staticmethod
    def _handler_failed(
        exc: Exception, ev: Event, fn: Handler, on_error: Callable[[Exception, Event], Any] | None
    ) -> None:
        if on_error is not None:
            on_error(exc, ev)
        else:
            log.error("handler %r failed on a %s event", fn, ev.event_type, exc_info=exc)
