"""The consuming half of a stream client, independent of the provider.

:class:`StreamConsumer` owns the lifecycle of one :class:`~tickwire.stream.driver.Driver`
task and the ways to read its :class:`~tickwire.stream.queue.EventQueue`. There is one drain
loop (:meth:`StreamConsumer._drain_loop`: take what the queue holds, else wait, until the stream
ends), and every way of consuming is a thin view on it: ``async for`` (events), ``batches()``
(one list per frame), handlers (``on(type, fn)`` run by ``run()`` or ``handle_messages()``) and
``raw_items()`` (frames as queued, for journals and the threaded front-end,
:class:`~tickwire.stream.thread_runner.ThreadRunner`). A provider's client subclasses it and adds
what is specific: building the session, subscribing.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from tickwire import speedups
from tickwire.errors import ConfigError, TickwireError
from tickwire.events import Event
from tickwire.stream.driver import Driver, DriverConfig, FrameTap
from tickwire.stream.handler_log import HandlerFailures
from tickwire.stream.heap import keep_heap
from tickwire.stream.metrics import Metrics, MetricsSnapshot
from tickwire.stream.queue import DEFAULT_MAX_BYTES, EventQueue, Item, OverflowPolicy
from tickwire.stream.session import Session
from tickwire.stream.subscriptions import SubscriptionSet

__all__ = ["Handler", "StreamConsumer"]

log = logging.getLogger("tickwire.stream")
_HANDLER_FAILURES = HandlerFailures(log)

Handler = Callable[[Event], Awaitable[None] | None]
_T = TypeVar("_T")


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
    #: How many data events a raw frame from :meth:`raw_items` holds, without decoding it (the
    #: provider's count; a plain function, so counting costs one call per frame).
    count_events: Callable[[bytes], int]

    def _init_consumer(
        self,
        session: Session,
        url: str | Callable[[], str],
        config: DriverConfig,
        *,
        queue_size: int,
        overflow: OverflowPolicy,
        decode: Callable[[bytes], list[Event]],
        queue_bytes: int = DEFAULT_MAX_BYTES,
        count_events: Callable[[bytes], int],
        decode_fast: Callable[[bytes], list[Event]] | None = None,
        frame_tap: FrameTap | None = None,
    ) -> None:
        """Wire the pipeline every client has: ``session`` driven by one :class:`Driver` into a
        bounded :class:`EventQueue` that this consumer reads, with shared metrics counters.
        ``decode`` (never raising; ``decode_fast`` may, then ``decode`` retries) and
        ``count_events`` are the provider's, for the raw data frames the queue holds."""
        self.metrics_counters = Metrics()
        self.queue = EventQueue(
            queue_size,
            overflow,
            max_bytes=queue_bytes,
            decode=decode,
            decode_fast=decode_fast,
            count_events=count_events,
            metrics=self.metrics_counters,
        )
        self.count_events = count_events
        self.driver = Driver(
            session, url, self.queue, config=config, metrics=self.metrics_counters, frame_tap=frame_tap
        )
        self._handlers: dict[str, list[Handler]] = {}
        self._task: asyncio.Task[None] | None = None
        self._dispatch: dict[type[Event], tuple[tuple[Handler, bool], ...]] = {}
        #: Event types with exactly one plain (not ``async def``) handler: the fast dispatch path.
        self._single: dict[type[Event], Handler] = {}
        self._events: AsyncIterator[Event] | None = None
        self._handled: AsyncIterator[list[list[Event]]] | None = None  # handle_messages()' view
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
            keep_heap()  # frames come in bursts: keep the heap they free for the next one
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
        subs = getattr(self.session, "subscriptions", None)
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
            queue_bytes=self.queue.bytes,
            queue_peak_bytes=max(self.queue.peak_bytes, self.queue.bytes),
            rejected_subscriptions=subs.rejected_count if isinstance(subs, SubscriptionSet) else 0,
            dropped=self.queue.dropped,
            paused=self.queue.paused,
            lag_seconds=m.lag(),
            connected=self.driver.connected and self.session.streaming,
            epoch=self.session.epoch,
            uptime=time.time() - m.started,
        )

    @property
    def config(self) -> DriverConfig:
        """The connection loop's settings (keepalive, backoff...); changes apply from the next connection."""
        return self.driver.config

    @property
    def safe_url(self) -> str:
        """The URL of the current (or last) connection attempt, without its query string."""
        return self.driver.session_url_safe

    def flush(self) -> None:
        """Send what the session has queued now (after subscribing on it directly); on the loop's thread."""
        self.driver.flush()

    # -- the one drain loop and its views -------------------------------------------------

    async def _drain_loop(
        self,
        take: Callable[[], list[_T]],
        rewrite: Callable[[list[_T]], Awaitable[list[_T]]] | None = None,
    ) -> AsyncGenerator[list[_T], None]:
        """What each wake-up takes from the queue (``take()``: decoded batches or raw items), after
        ``rewrite`` if any, until the stream ends; a fatal error is raised. Every view below is this."""
        wait = self._wait
        while True:
            got = take()
            if got:
                if rewrite is not None:
                    got = await rewrite(got)
                yield got
            elif not await wait():
                return

    def _decoded(self) -> AsyncIterator[list[list[Event]]]:
        """The drain loop over decoded batches (one list per frame), through the batch filter."""
        return self._drain_loop(self.queue.drain, self._batch_filter)

    def __aiter__(self) -> AsyncIterator[Event]:
        self._claim("iterate")
        if self._events is None:
            flatten = speedups.Flatten
            self._events = flatten(self._decoded(), 2) if flatten is not None else self._event_iter()
        return self._events

    async def __anext__(self) -> Event:
        return await self.__aiter__().__anext__()

    async def _event_iter(self) -> AsyncIterator[Event]:
        """Every event of every wake-up (in C: :data:`tickwire.speedups.Flatten`, the same)."""
        async for batches in self._decoded():
            for batch in batches:
                for ev in batch:
                    yield ev

    def batches(self) -> AsyncIterator[list[Event]]:
        """One list of events per received frame (plus control events)."""
        self._claim("iterate")
        flatten = speedups.Flatten
        return flatten(self._decoded(), 1) if flatten is not None else self._batch_iter()

    async def _batch_iter(self) -> AsyncIterator[list[Event]]:
        async for batches in self._decoded():
            for batch in batches:
                yield batch

    def raw_items(
        self, max_items: int = 1024, max_bytes: int | None = None
    ) -> AsyncGenerator[list[Item], None]:
        """What each wake-up takes from the queue as queued: raw data frames stay undecoded ``bytes``
        (count their events with :meth:`count_events`, decode them with :meth:`decode_item`), control
        events and frames the session read come as event lists (the latter as
        :class:`~tickwire.stream.queue.FrameEvents`, holding the frame as received). For consumers that
        forward or count frames (a journal-only recorder, the threaded front-end); they report what
        they hand on with :meth:`mark_delivered`. At most ``max_items`` items, and about
        ``max_bytes`` of frames, per wake-up. No batch filter runs here. Ends with the stream (a
        fatal error is raised)."""
        self._claim("iterate")
        drain = self.queue.drain_raw
        return self._drain_loop(lambda: drain(max_items, max_bytes))

    def decode_item(self, item: Item) -> list[Event]:
        """The events of one item from :meth:`raw_items` (a raw frame is decoded now, as
        :meth:`batches` would; never raises), counted as delivered in ``metrics().events``.
        It may run on another thread than the loop's (the threaded front-end decodes on its
        dispatch thread), as long as only one thread decodes raw frames."""
        if type(item) is bytes:
            try:
                events = self.queue.decode_fast(item)
            except Exception:
                events = self.queue.decode(item)
        else:
            assert isinstance(item, list)
            events = item
        self.metrics_counters.events += len(events)
        return events

    def decode_items(self, items: list[Item], start: int, max_events: int) -> tuple[list[list[Event]], int]:
        """:meth:`decode_item` of ``items[start:]`` until about ``max_events`` events (at least one
        item): their event lists and the index of the first item left. Decoding a hand-off a bit at
        a time keeps the events in use few, as :meth:`EventQueue.drain` does."""
        fast, slow = self.queue.decode_fast, self.queue.decode
        out: list[list[Event]] = []
        n = 0
        at = start
        end = len(items)
        while at < end and (n < max_events or not out):
            item = items[at]
            at += 1
            if type(item) is bytes:
                try:
                    events = fast(item)
                except Exception:
                    events = slow(item)
            else:
                assert isinstance(item, list)
                events = item
            n += len(events)
            out.append(events)
        self.metrics_counters.events += n
        return out, at

    def mark_delivered(self, events: int) -> None:
        """Count ``events`` that a :meth:`raw_items` consumer handed on undecoded (``metrics().events``)."""
        self.metrics_counters.events += events

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
        async for batches in self._decoded():
            await self._dispatch_batches(batches, on_error)

    async def handle_messages(self, *_compat: Any, **_compat_kw: Any) -> bool:
        """Dispatch the next received batch to the handlers (the ``polygon`` package's loop body:
        ``while True: await client.handle_messages()``). Reconnecting is always on, so its
        ``reconnect``/``max_reconnection_attempts``/``reconnection_delay`` arguments are accepted and
        ignored. Returns False once the stream has ended."""
        self._claim("handlers")
        if self._handled is None:
            self._handled = self._decoded()
        batches = await anext(self._handled, None)
        if batches is None:
            return False
        await self._dispatch_batches(batches, None)
        return True

    async def _dispatch_batches(
        self, batches: list[list[Event]], on_error: Callable[[Exception, Event], Any] | None
    ) -> None:
        fast = speedups.dispatch_single
        if fast is None:
            await self._dispatch_each(batches, on_error)
            return
        single = self._single
        b = e = 0
        while (stop := fast(batches, single, b, e)) is not None:
            b, e, what = stop
            ev = batches[b][e]
            e += 1
            if what is None:  # no single plain handler for its type: the general path
                await self._dispatch_each([[ev]], on_error)
            elif isinstance(what, Exception):
                self._handler_failed(what, ev, single[type(ev)], on_error)
            elif inspect.isawaitable(what):
                try:
                    await what
                except Exception as exc:
                    self._handler_failed(exc, ev, single[type(ev)], on_error)

    async def _dispatch_each(
        self, batches: list[list[Event]], on_error: Callable[[Exception, Event], Any] | None
    ) -> None:
        """Each event to its handlers (in C for the common case: :meth:`_dispatch_batches`)."""
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
        else:  # the traceback once, then counts: not one traceback per event
            _HANDLER_FAILURES.failed(fn, ev.event_type, exc)
