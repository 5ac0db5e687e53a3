"""A blocking facade over a simulator, for synchronous code and tests.

The simulator runs on its own event loop in a daemon thread; every method here hands the call to
that loop and returns once it is done, so it is safe from any other thread. The waits block the
calling thread (they raise ``TimeoutError`` like their async counterparts). :class:`ThreadFacade`
covers what every dialect has (the fault API, counters, connection waits); a dialect's facade adds
its own observations (:class:`SimulatorThread` for Massive).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, TypeVar

from tickwire.sim.market import Bar, Quote, Trade
from tickwire.sim.observe import ActionRecord, ConnectionInfo, Counters
from tickwire.sim.server import MassiveSimulator

if TYPE_CHECKING:
    from tickwire.sim.base import SimulatorBase

__all__ = ["SimulatorThread", "ThreadFacade"]

T = TypeVar("T")
SimT = TypeVar("SimT", bound="SimulatorBase[Any, Any, Any]")


class ThreadFacade(Generic[SimT]):
    """Run a simulator on a background thread; ``with ... as sim:`` starts and stops it."""

    def __init__(self, simulator: SimT, *, startup_timeout: float = 10.0) -> None:
        self.simulator = simulator
        self.startup_timeout = startup_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.simulator!r}>"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Start the loop thread and the simulator; returns once it listens."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(ready,), name="tickwire-sim", daemon=True)
        self._thread.start()
        if not ready.wait(self.startup_timeout):
            raise TimeoutError("the simulator thread did not start in time")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error
        return self

    def _main(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self.simulator.start())
        except BaseException as exc:
            self._error = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.simulator.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the simulator and its thread (what leaving the ``with`` block does)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        self._thread = None
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the simulator's loop and return its result."""
        loop = self._loop
        if loop is None or self._thread is None:
            raise RuntimeError(
                "the simulator thread is not running; use it as a context manager or call start()"
            )
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the simulator's loop and wait for its result."""
        loop = self._loop
        if loop is None or self._thread is None:
            coro.close()
            raise RuntimeError(
                "the simulator thread is not running; use it as a context manager or call start()"
            )
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("cannot block on the simulator's own thread; await the simulator's method")
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        return self.simulator.port

    @property
    def url(self) -> str:
        return self.simulator.url

    # ------------------------------------------------------------------ faults

    def drop(self, endpoint: str | None = None, *, graceful: bool = False) -> int:
        return self._call(self.simulator.drop, endpoint, graceful=graceful)

    def close(self, code: int = 1000, reason: str = "", endpoint: str | None = None) -> int:
        return self._call(self.simulator.close, code, reason, endpoint)

    def mute(self, endpoint: str | None = None, *, new_connections: bool = False) -> int:
        return self._call(self.simulator.mute, endpoint, new_connections=new_connections)

    def unmute(self, endpoint: str | None = None) -> int:
        return self._call(self.simulator.unmute, endpoint)

    def send_raw(self, payload: str | bytes, endpoint: str | None = None, *, binary: bool = False) -> int:
        return self._call(self.simulator.send_raw, payload, endpoint, binary=binary)

    def refuse_handshakes(
        self, status: int = 503, count: int | None = None, body: bytes | None = None
    ) -> None:
        self._call(self.simulator.refuse_handshakes, status, count, body)

    def accept_handshakes(self) -> None:
        self._call(self.simulator.accept_handshakes)

    def pause_data(self) -> None:
        self._call(self.simulator.pause_data)

    def resume_data(self) -> None:
        self._call(self.simulator.resume_data)

    def stop(self, code: int | None = None, reason: str = "") -> None:
        """Stop listening and end connections (the thread keeps running; see :meth:`restart`)."""
        self._run(self.simulator.stop(code, reason))

    def restart(self, port: int | None = None) -> None:
        self._run(self.simulator.restart(port))

    # ------------------------------------------------------------------ waits (blocking)

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "a condition"
    ) -> None:
        """Block until ``predicate()`` holds; it is evaluated on the simulator's thread."""
        self._run(self.simulator.wait_until(predicate, timeout, what))


class SimulatorThread(ThreadFacade[MassiveSimulator]):
    """Run a :class:`~tickwire.sim.server.MassiveSimulator` on a background thread."""

    @property
    def feed_host(self) -> str:
        return self.simulator.feed_host

    @property
    def rest_url(self) -> str:
        return self.simulator.rest_url

    def url_for(self, cluster: str = "stocks", delayed: bool = False) -> str:
        return self.simulator.url_for(cluster, delayed)

    def now_ms(self) -> int:
        """The market clock (Unix ms)."""
        return self.simulator.now_ms()

    def send_status(
        self, status: str, message: str, close_code: int | None = None, endpoint: str | None = None
    ) -> int:
        return self._call(self.simulator.send_status, status, message, close_code, endpoint)

    # ------------------------------------------------------------------ observation

    @property
    def counters(self) -> Counters:
        return self._call(lambda: self.simulator.counters)

    def connections(
        self, endpoint: str | None = None, *, authenticated: bool | None = None
    ) -> list[ConnectionInfo]:
        return self._call(self.simulator.connections, endpoint, authenticated=authenticated)

    def subscriptions(self, cluster: str = "stocks", delayed: bool = False) -> frozenset[str]:
        return self._call(self.simulator.subscriptions, cluster, delayed)

    def actions(self, cluster: str | None = None, action: str | None = None) -> list[ActionRecord]:
        return self._call(self.simulator.actions, cluster, action)

    def clear_actions(self) -> None:
        self._call(self.simulator.clear_actions)

    def trades(self, cluster: str, ticker: str, start_ms: int, end_ms: int) -> list[Trade]:
        return self._call(self.simulator.trades, cluster, ticker, start_ms, end_ms)

    def quotes(self, cluster: str, ticker: str, start_ms: int, end_ms: int) -> list[Quote]:
        return self._call(self.simulator.quotes, cluster, ticker, start_ms, end_ms)

    def bars(
        self,
        cluster: str,
        ticker: str,
        start_ms: int,
        end_ms: int,
        span: Literal["second", "minute"] = "minute",
    ) -> list[Bar]:
        return self._call(self.simulator.bars, cluster, ticker, start_ms, end_ms, span)

    # ------------------------------------------------------------------ waits (blocking)

    def wait_connections(
        self, n: int, endpoint: str | None = None, *, authenticated: bool = False, timeout: float = 5.0
    ) -> list[ConnectionInfo]:
        return self._run(
            self.simulator.wait_connections(n, endpoint, authenticated=authenticated, timeout=timeout)
        )

    def wait_subscribed(
        self, cluster: str, channels: Iterable[str], *, delayed: bool = False, timeout: float = 5.0
    ) -> ConnectionInfo:
        return self._run(
            self.simulator.wait_subscribed(cluster, list(channels), delayed=delayed, timeout=timeout)
        )

    def wait_actions(
        self, n: int, action: str | None = None, cluster: str | None = None, *, timeout: float = 5.0
    ) -> list[ActionRecord]:
        return self._run(self.simulator.wait_actions(n, action, cluster, timeout=timeout))

    def wait_counter(self, name: str, n: int, *, timeout: float = 5.0) -> Counters:
        return self._run(self.simulator.wait_counter(name, n, timeout=timeout))

    def wait_handshakes(self, n: int, *, timeout: float = 5.0) -> Counters:
        return self._run(self.simulator.wait_handshakes(n, timeout=timeout))
