"""Run a :class:`~tickwire.stream.consumer.StreamConsumer` on background threads, for callback APIs.

Theory of operation
-------------------
:meth:`ThreadRunner.start` starts two threads and returns once the first one's loop runs:

* ``tickwire-io`` runs a private asyncio loop (never the caller's, so it works inside Jupyter's
  running loop) with the consumer's driver (connect, auth, pings, reconnects) and a *pump*:
  ``async for items in consumer.raw_items()`` hands what each wake-up took to the dispatch
  thread and waits until it is delivered before taking more. The consumer's bounded queue stays
  the only buffer, so its overflow policy holds (``block`` pauses the socket, ``drop_oldest``
  drops and says so). No user code runs on this thread: a slow callback never delays a ping.
* ``tickwire-dispatch`` calls ``deliver(item)`` for each item, in order (raw frames stay
  undecoded: the caller decodes them there with ``consumer.decode_item`` if it wants events), and
  ``finished()`` exactly once when the stream has ended for good (stopped, or a fatal error,
  which ``consumer.error`` then holds).

:meth:`ThreadRunner.stop` is graceful, idempotent and callable from any thread, ``deliver``
included (it then returns at once and the stream ends after the current item): nothing is
delivered after it. On the loop, a stop request only sets a flag that the I/O thread's main
coroutine awaits (so a request arriving while the loop winds down after a fatal error creates no
task the loop would never run), and the runner counts as ended (:meth:`wait`) only once the I/O
thread has closed its loop: nothing of it outlives the stream. :meth:`ThreadRunner.call` runs a
function on the loop's thread, where the session lives (sessions are not thread-safe), or right
away while the loop has not started. Any callback front-end (Massive's ``StreamClient``, a future
Alpaca one) is an adapter over this.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import TypeVar

from tickwire.errors import TickwireError
from tickwire.stream.consumer import StreamConsumer
from tickwire.stream.queue import Item

__all__ = ["THREADED_QUEUE_BYTES", "ThreadRunner"]

log = logging.getLogger("tickwire.stream")

_T = TypeVar("_T")

HAND_OFF_BYTES = 1 << 20
"""About this many bytes of frames go to the dispatch thread per hand-off: what it holds beyond the
queue's bound while it delivers them."""

THREADED_QUEUE_BYTES = 8 << 20
"""The callback clients' default ``queue_bytes``. Their reader thread outruns the dispatch thread
whenever the callbacks are the slower side, so their queue sits at its bound; 8 MiB (some 1,500 frames
of 50 trades) keeps their memory near the asynchronous clients' instead of 64 MiB above it."""


class ThreadRunner:
    """A consumer's loop on its own thread, its items handed to a dispatch thread (module docstring)."""

    def __init__(
        self,
        consumer: StreamConsumer,
        deliver: Callable[[Item], None],
        finished: Callable[[], None],
        *,
        hand_off: int = 1024,
        name: str = "tickwire",
        deliver_all: Callable[[list[Item]], None] | None = None,
        on_stopping: Callable[[], None] | None = None,
    ) -> None:
        """``deliver`` gets each queued item on the dispatch thread; ``finished`` runs there once, at
        the end. ``hand_off`` caps the items taken per wake-up; threads are named ``<name>-io`` and
        ``<name>-dispatch``. ``deliver_all``, if given, gets each hand-off's items in one call
        instead (a front-end that decodes and dispatches them together); it must deliver nothing
        once :attr:`stopping` is True. ``on_stopping`` runs (on the caller's thread) as soon as
        :meth:`stop` has set it, before waiting for the threads."""
        if hand_off < 1:
            raise ValueError("hand_off must be at least 1")
        self.consumer = consumer
        self._deliver = deliver
        self._deliver_all = deliver_all
        self._on_stopping = on_stopping
        self._finished = finished
        self._hand_off = hand_off
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None  # set while the loop runs
        self._io: threading.Thread | None = None
        self._dispatcher: threading.Thread | None = None
        self._ready = threading.Event()
        self._ended = threading.Event()
        self._handoff: queue.SimpleQueue[list[Item] | None] = queue.SimpleQueue()
        self._delivered: asyncio.Event | None = None
        self._stop_requested: asyncio.Event | None = None
        self._stopping = False

    def __repr__(self) -> str:
        return f"ThreadRunner({self._name!r}, {self.state})"

    # -- state ------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``not started``, ``running``, ``stopping`` or ``ended``."""
        if self._ended.is_set():
            return "ended"
        if self._stopping:
            return "stopping"
        return "running" if self._io is not None else "not started"

    @property
    def started(self) -> bool:
        return self._io is not None

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called: no item is delivered any more."""
        return self._stopping

    @property
    def is_alive(self) -> bool:
        """Started and not ended yet."""
        return self._io is not None and not self._ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the stream has ended and ``finished`` ran; False on timeout."""
        return self._ended.wait(timeout)

    # -- lifecycle --------------------------------------------------------------------

    def start(self, *, daemon: bool = False) -> bool:
        """Start both threads and return once the loop runs; False if already started. The I/O thread
        is a daemon; the dispatch thread is one only with ``daemon=True`` (so a script keeps streaming
        until it stops the runner)."""
        with self._lock:
            if self._stopping:
                raise TickwireError("this stream was stopped; create a new client")
            if self._io is not None:
                return False
            self._io = threading.Thread(target=self._run_io, name=f"{self._name}-io", daemon=True)
            self._io.start()
            self._ready.wait()
            self._dispatcher = threading.Thread(
                target=self._run_dispatch, name=f"{self._name}-dispatch", daemon=daemon
            )
            self._dispatcher.start()
            return True

    def stop(self, timeout: float = 10.0) -> None:
        """Close the consumer and end both threads, waiting up to ``timeout`` s for each (not when
        called from one of them). Idempotent; a runner never started just counts as ended."""
        with self._lock:
            first = not self._stopping
            self._stopping = True
            loop, io, dispatcher = self._loop, self._io, self._dispatcher
        if first and self._on_stopping is not None:
            self._on_stopping()
        if io is None:
            self._ended.set()
            return
        if first and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended (a fatal error)
                loop.call_soon_threadsafe(self._begin_close)
        me = threading.current_thread()
        if me is dispatcher or me is io:
            return
        if dispatcher is not None:
            dispatcher.join(timeout)
        io.join(timeout)
        if io.is_alive():
            log.warning("the stream thread did not end within %.1f s", timeout)

    def call(self, fn: Callable[[], _T], timeout: float = 30.0) -> _T:
        """``fn()`` on the loop's thread, its result or exception returned here; run right here while
        the loop has not started (or when called on the loop's thread). :class:`TickwireError` once
        the stream is stopped or ended."""
        with self._lock:
            if self._stopping:
                raise TickwireError("the stream is closed")
            loop = self._loop
            if loop is None:
                if self._io is not None:
                    raise TickwireError("the stream has ended")
                return fn()  # not started: nothing runs concurrently (the lock holds off start())
            if threading.current_thread() is self._io:
                return fn()
            future: concurrent.futures.Future[_T] = concurrent.futures.Future()

            def run() -> None:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(fn())
                    except BaseException as exc:
                        future.set_exception(exc)

            loop.call_soon_threadsafe(run)  # under the lock: the loop cannot stop before it is queued
        return future.result(timeout)

    # -- the I/O thread ---------------------------------------------------------------

    def _run_io(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._io_main(loop))
        except BaseException:  # never lose why the thread died
            log.exception("the stream's I/O thread failed")
        finally:
            self._ready.set()
            self._handoff.put(None)  # the dispatcher ends whatever happened here
            with self._lock:
                self._loop = None
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _io_main(self, loop: asyncio.AbstractEventLoop) -> None:
        self._delivered = asyncio.Event()
        self._stop_requested = asyncio.Event()
        self._loop = loop
        try:
            await self.consumer.start()
        finally:
            self._ready.set()
        closer = loop.create_task(self._close_when_stopped(self._stop_requested))
        try:
            await self._pump(self._delivered)
        finally:
            self._handoff.put(None)
            with self._lock:
                self._loop = None  # no call() or stop request is queued from here on
            if not self._stop_requested.is_set():
                closer.cancel()  # it only waited: the stream ended by itself
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await closer
        await self.consumer.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await self.consumer.wait_closed()  # a fatal error is the consumer's to report (.error)

    async def _pump(self, delivered: asyncio.Event) -> None:
        """Hand each wake-up's items to the dispatch thread, one hand-off in flight at a time."""
        put = self._handoff.put
        try:
            source = self.consumer.raw_items(self._hand_off, HAND_OFF_BYTES)
            async with contextlib.aclosing(source) as wakeups:
                async for items in wakeups:
                    delivered.clear()
                    put(items)
                    await delivered.wait()
                    if self._stopping:
                        return
        except Exception:
            if self.consumer.error is None:  # not the designed end of a stream (a fatal error)
                log.exception("the stream failed")

    def _begin_close(self) -> None:
        """On the loop (from :meth:`stop`): only a flag, so a request that arrives while the loop
        winds down creates no task it would never run."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def _close_when_stopped(self, requested: asyncio.Event) -> None:
        await requested.wait()
        await self.consumer.close()  # ends raw_items(), so the pump returns

    # -- the dispatch thread ----------------------------------------------------------

    def _run_dispatch(self) -> None:
        get = self._handoff.get
        deliver = self._deliver
        deliver_all = self._deliver_all
        try:
            while True:
                items = get()
                if items is None:
                    break
                try:
                    if deliver_all is not None:
                        if not self._stopping:
                            deliver_all(items)
                    else:
                        for item in items:
                            if self._stopping:
                                break
                            deliver(item)
                except Exception:
                    log.exception("delivering a stream item failed")
                self._wake_pump()
        finally:
            try:
                self._finished()
            except Exception:
                log.exception("the stream's finished callback failed")
            io = self._io
            if io is not None and io is not threading.current_thread():
                io.join()  # "ended" means the loop is closed too: nothing of it outlives wait()
            self._ended.set()

    def _wake_pump(self) -> None:
        loop, delivered = self._loop, self._delivered
        if loop is not None and delivered is not None:
            with contextlib.suppress(RuntimeError):  # the loop is gone
                loop.call_soon_threadsafe(delivered.set)
