"""What the fault matrix drives: a simulator side per protocol and an adapter per client.

The matrix (``test_fault_matrix.py``) is one test over (client, fault). The differences between
the three clients (the async ``AsyncStreamClient``, the threaded callback ``StreamClient``, the
``PolymarketClient``) and between the two simulators (Massive, Polymarket US) live here, behind
two small interfaces:

* a *side* (:class:`MassiveSide`, :class:`PolymarketSide`) injects faults and reports what the
  server saw: connection attempts, the live connection, the requests sent on it;
* an *adapter* (:class:`AsyncAdapter`, :class:`ThreadedAdapter`, :class:`PolymarketAdapter`)
  starts the client, subscribes the desired set, and records everything the client hands to
  user code (events, errors, the close) in an :class:`EventLog` the test can wait on.

Both Massive clients talk to a simulator on its own thread (:class:`SimulatorThread`), so the
threaded client's blocking calls never stall the simulator; the Polymarket simulator runs on the
test's loop next to its async client. The Alpaca column's side and adapter, built the same way,
are in ``alpaca_harness.py``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Sized
from typing import Any, Protocol

from tickwire import AsyncStreamClient, Backoff, PolymarketClient, StreamClient
from tickwire.events import Event
from tickwire.sim import MassiveSimulator
from tickwire.sim.polymarket import PolymarketSimulator
from tickwire.sim.thread import SimulatorThread
from tickwire.stream.metrics import MetricsSnapshot

# -- credentials: distinctive, so a leak anywhere is found by a plain substring search -----------

MASSIVE_KEY = "FMX-key-7Q2Z-never-in-logs-91c3"
"""The key the simulator accepts."""
MASSIVE_BAD_KEY = "FMX-badkey-K8W4-never-in-logs-55e0"
"""A key it refuses (``auth_failed``)."""
PM_KEY_ID = "00000000-0000-4000-8000-00000fa17d1d"
"""A Polymarket key id: a public identifier (sent in clear in ``X-PM-Access-Key``), shown on purpose."""
_PM_SEED = b"fault-matrix-pm-seed-NEVER-LOG-1"
_PM_WRONG_SEED = b"fault-matrix-pm-WRONG-NEVER-LOG2"
PM_SECRET = base64.b64encode(_PM_SEED).decode()
PM_WRONG_SECRET = base64.b64encode(_PM_WRONG_SEED).decode()

SECRETS = {
    "massive": (MASSIVE_KEY, MASSIVE_BAD_KEY),
    "polymarket": (PM_SECRET, PM_WRONG_SECRET, _PM_SEED.decode(), _PM_WRONG_SEED.decode()),
}
"""What must never appear in a log line, a repr or an exception text, per protocol."""

# -- the desired sets ----------------------------------------------------------------------------

MASSIVE_DESIRED = ["T.AAPL", "Q.MSFT", "AM.*", "T.BRK.A"]
MASSIVE_REMOVED = "T.NVDA"
"""Subscribed, then unsubscribed before the fault: must not come back after a reconnect."""

QUEUE_SIZE = 64
WAIT = 8.0
"""Longest wait for anything in a cell (the cells take well under a second each)."""


class EventLog:
    """Everything a client handed to user code, in order; safe to append from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.events: list[Event] = []
        self.errors: list[BaseException] = []
        self.closes: list[tuple[int | None, str]] = []
        self.ended = False
        self._lock = threading.Lock()
        self._changed = asyncio.Event()

    def add(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)
        self._notify()

    def error(self, exc: BaseException) -> None:
        with self._lock:
            self.errors.append(exc)
        self._notify()

    def end(self, code: int | None = None, reason: str = "") -> None:
        with self._lock:
            if code is not None or reason:
                self.closes.append((code, reason))
            self.ended = True
        self._notify()

    def _notify(self) -> None:
        if self._on_loop():
            self._changed.set()
        else:
            with contextlib.suppress(RuntimeError):  # the test's loop already closed
                self.loop.call_soon_threadsafe(self._changed.set)

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def snapshot(self) -> list[Event]:
        with self._lock:
            return list(self.events)

    async def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:  # noqa: ASYNC109
        """Wait until ``predicate()`` holds, re-checking whenever something is logged."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                tail = [e.event_type for e in self.snapshot()[-15:]]
                raise AssertionError(
                    f"{what}: not within {timeout} s; last events {tail}, errors {self.errors}"
                )
            self._changed.clear()
            if predicate():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.25))


# -- simulator sides -------------------------------------------------------------------------------


class Side(Protocol):
    """The fault injector and server-side observer the matrix needs of a simulator."""

    protocol: str

    def url(self) -> str: ...
    async def drop(self, *, graceful: bool = False) -> None: ...
    async def close(self, code: int, reason: str = "") -> None: ...
    async def mute(self) -> None: ...
    async def send_raw(self, payload: bytes) -> None: ...
    async def refuse(self, status: int, count: int | None) -> None: ...
    async def stop(self) -> int: ...
    async def restart_new_port(self) -> int: ...
    def attempts(self) -> int: ...
    def live_connection(self) -> int | None: ...
    def sent_on(self, conn_id: int) -> tuple[list[str], list[str]]: ...
    async def wait_subscribed(self, ids: list[str]) -> None: ...


class _PortBlocker:
    """Holds a stopped server's port (bound, not listening) so a restart must pick another one and
    attempts to the old port are refused at once."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None

    def hold(self, port: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()  # still in use: a new listener cannot get it either
            return
        self.sock = sock

    def release(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class MassiveSide:
    """A :class:`MassiveSimulator` on its own thread, for both Massive clients."""

    protocol = "massive"

    def __init__(self, **options: Any) -> None:
        base: dict[str, Any] = {
            "seed": 8,
            "tick_interval": 0.03,
            "rate": 10.0,
            "auth_timeout": 3.0,
            "close_timeout": 0.3,
            "valid_keys": {MASSIVE_KEY},
        }
        base.update(options)
        self.thread: SimulatorThread = MassiveSimulator(**base).run_in_thread()
        self.intruders = 0  # connections the test itself opened (max_connections)
        self._blocker = _PortBlocker()

    def start(self) -> None:
        self.thread.start()

    def shutdown(self) -> None:
        self.thread.shutdown()
        self._blocker.release()

    def url(self) -> str:
        return self.thread.url

    async def drop(self, *, graceful: bool = False) -> None:
        assert self.thread.drop("stocks", graceful=graceful) == 1

    async def close(self, code: int, reason: str = "") -> None:
        assert self.thread.close(code, reason, "stocks") == 1

    async def mute(self) -> None:
        assert self.thread.mute("stocks") == 1

    async def send_raw(self, payload: bytes) -> None:
        assert self.thread.send_raw(payload, "stocks") == 1

    async def send_status(self, status: str, message: str, close_code: int) -> None:
        assert self.thread.send_status(status, message, close_code, "stocks") == 1

    async def refuse(self, status: int, count: int | None) -> None:
        self.thread.refuse_handshakes(status, count)

    async def stop(self) -> int:
        port = self.thread.port
        await asyncio.to_thread(self.thread.stop)
        self._blocker.hold(port)
        return port

    async def restart_new_port(self) -> int:
        await asyncio.to_thread(self.thread.restart, 0)
        self._blocker.release()
        return self.thread.port

    def attempts(self) -> int:
        c = self.thread.counters
        return c.handshakes + c.refused - self.intruders

    def live_connection(self) -> int | None:
        live = self.thread.connections("stocks", authenticated=True)
        assert len(live) <= 1, f"more than one live connection: {live}"
        return live[0].id if live else None

    def sent_on(self, conn_id: int) -> tuple[list[str], list[str]]:
        """The channels subscribed and unsubscribed on one connection, as the server received them."""
        acts = [a for a in self.thread.actions("stocks") if a.conn_id == conn_id]
        subs = [c for a in acts if a.action == "subscribe" for c in a.params]
        unsubs = [c for a in acts if a.action == "unsubscribe" for c in a.params]
        return subs, unsubs

    def confirmed(self) -> frozenset[str]:
        return self.thread.subscriptions("stocks")

    async def wait_subscribed(self, ids: list[str]) -> None:
        await asyncio.to_thread(self.thread.wait_subscribed, "stocks", ids, timeout=WAIT)

    async def wait_counter(self, name: str, n: int) -> None:
        await asyncio.to_thread(self.thread.wait_counter, name, n, timeout=WAIT)

    def auth_times(self) -> list[float]:
        return [a.at for a in self.thread.actions("stocks", "auth")]


class PolymarketSide:
    """A :class:`PolymarketSimulator` on the test's loop that knows the matrix's key."""

    protocol = "polymarket"

    def __init__(self, **options: Any) -> None:
        base: dict[str, Any] = {
            "seed": 8,
            "tick_interval": 0.03,
            "heartbeat_interval": 0.05,
            "account_interval": None,
            "close_timeout": 0.3,
            "keys": {PM_KEY_ID: PM_SECRET},
        }
        base.update(options)
        self.sim = PolymarketSimulator(**base)
        self._blocker = _PortBlocker()

    async def start(self) -> None:
        await self.sim.start()

    async def shutdown(self) -> None:
        await self.sim.aclose()
        self._blocker.release()

    def url(self) -> str:
        return self.sim.url

    async def drop(self, *, graceful: bool = False) -> None:
        assert self.sim.drop("markets", graceful=graceful) == 1

    async def close(self, code: int, reason: str = "") -> None:
        assert self.sim.close(code, reason, "markets") == 1

    async def mute(self) -> None:
        assert self.sim.mute("markets") == 1

    async def send_raw(self, payload: bytes) -> None:
        assert self.sim.send_raw(payload, "markets") == 1

    async def refuse(self, status: int, count: int | None) -> None:
        self.sim.refuse_handshakes(status, count)

    async def stop(self) -> int:
        port = self.sim.port
        await self.sim.stop()
        self._blocker.hold(port)
        return port

    async def restart_new_port(self) -> int:
        await self.sim.restart(port=0)
        self._blocker.release()
        return self.sim.port

    def attempts(self) -> int:
        return len(self.sim.handshakes)

    def live_connection(self) -> int | None:
        live = self.sim.connections("markets")
        assert len(live) <= 1, f"more than one live connection: {live}"
        return live[0].id if live else None

    def sent_on(self, conn_id: int) -> tuple[list[str], list[str]]:
        """The request ids subscribed and unsubscribed on one connection, as the server received them."""
        reqs = self.sim.requests("markets", conn_id=conn_id)
        subs = [r["subscribe"]["requestId"] for r in reqs if r.get("subscribe")]
        unsubs = [r["unsubscribe"]["requestId"] for r in reqs if r.get("unsubscribe")]
        return subs, unsubs

    def server_subscriptions(self, conn_id: int) -> dict[str, tuple[str, tuple[str, ...]]]:
        return next(c.subscriptions for c in self.sim.connections("markets") if c.id == conn_id)

    async def wait_subscribed(self, ids: list[str]) -> None:
        await self.sim.wait_subscribed("markets", ids, timeout=WAIT)


# -- client adapters -------------------------------------------------------------------------------


class DepthSampler:
    """The deepest the client's event queue got, sampled every few milliseconds on the test's loop
    (``metrics().queue_peak`` only records a peak when the queue overflows)."""

    def __init__(self, queue: Sized) -> None:
        self.queue = queue
        self.max = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="matrix-depth")

    async def _run(self) -> None:
        while True:
            self.max = max(self.max, len(self.queue))
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class Adapter(Protocol):
    """A client as the matrix sees it."""

    kind: str
    log: EventLog
    queue_size: int
    depth: DepthSampler

    async def start(self) -> None: ...
    async def subscribe_desired(self) -> list[str]: ...
    def desired(self) -> list[str]: ...
    def metrics(self) -> MetricsSnapshot: ...
    def stall(self) -> None: ...
    def resume(self) -> None: ...
    async def close(self) -> None: ...
    def fatal(self) -> BaseException | None: ...
    def texts(self) -> list[str]: ...
    def leftovers(self) -> list[str]: ...


def _massive_options(overrides: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "backoff": Backoff(base=0.02, cap=0.1, seed=3),
        "stable_after": 60.0,
        "auth_timeout": 2.0,
        "stale_timeout": 0.5,
        "max_connections_cooldown": 0.5,
        "rate_limit_cooldown": 0.4,
        "queue_size": QUEUE_SIZE,
        "dotenv_path": None,
    }
    options.update(overrides)
    return options


class _AsyncConsumer:
    """What both asyncio clients share: a consumer task that logs every event (``stall`` holds it)."""

    kind: str
    client: AsyncStreamClient | PolymarketClient
    queue_size: int

    def _init_consumer(self) -> None:
        self.depth = DepthSampler(self.client.queue)
        self.log = EventLog(asyncio.get_running_loop())
        self._gate = asyncio.Event()
        self._gate.set()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    async def start(self) -> None:
        await self.client.start()
        self._task = asyncio.get_running_loop().create_task(self._consume(), name="matrix-consumer")
        self.depth.start()

    async def _consume(self) -> None:
        gate = self._gate
        try:
            async for ev in self.client:
                if not gate.is_set():
                    await gate.wait()
                self.log.add(ev)
        except Exception as exc:  # the designed failure (AuthError...): the stream ends loudly
            self._error = exc
            self.log.error(exc)
        finally:
            self.log.end()

    def metrics(self) -> MetricsSnapshot:
        return self.client.metrics()

    def stall(self) -> None:
        self._gate.clear()

    def resume(self) -> None:
        self._gate.set()

    async def close(self) -> None:
        self.resume()
        await self.client.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, WAIT)
        await self.depth.stop()

    def fatal(self) -> BaseException | None:
        return self._error

    def texts(self) -> list[str]:
        return [repr(self.client), repr(self.client.session), repr(self.client.driver.error)]

    def leftovers(self) -> list[str]:
        return [
            t.get_name() for t in asyncio.all_tasks() if t.get_name() == "tickwire-driver" and not t.done()
        ]


class AsyncAdapter(_AsyncConsumer):
    """``AsyncStreamClient``, consumed by ``async for`` in a task on the test's loop."""

    kind = "async"

    def __init__(self, side: MassiveSide, *, api_key: str = MASSIVE_KEY, **overrides: Any) -> None:
        options = _massive_options({"ping_interval": 0.2, "ping_timeout": 2.0, **overrides})
        self.queue_size = options["queue_size"]
        self.client = AsyncStreamClient(api_key, "stocks", url=side.url, **options)
        self._init_consumer()

    async def subscribe_desired(self) -> list[str]:
        assert isinstance(self.client, AsyncStreamClient)
        await self.client.subscribe(*MASSIVE_DESIRED, MASSIVE_REMOVED)
        await self.client.unsubscribe(MASSIVE_REMOVED)
        return list(MASSIVE_DESIRED)

    def desired(self) -> list[str]:
        assert isinstance(self.client, AsyncStreamClient)
        return self.client.subscriptions


class ThreadedAdapter:
    """``StreamClient`` (callbacks on its own threads), in typed-event mode with ``on_status``."""

    kind = "threaded"

    def __init__(self, side: MassiveSide, *, api_key: str = MASSIVE_KEY, **overrides: Any) -> None:
        options = _massive_options(overrides)
        self.queue_size = options["queue_size"]
        self.log = EventLog(asyncio.get_running_loop())
        self._gate = threading.Event()
        self._gate.set()
        self.client = StreamClient(
            api_key,
            "stocks",
            host=side.url,
            on_message=self._on_message,
            on_error=lambda ws, exc: self.log.error(exc),
            on_close=lambda ws, code, msg: self.log.end(code, msg),
            on_status=self._on_message,
            messages="events",
            **options,
        )
        self.depth = DepthSampler(self.client.client.queue)

    def _on_message(self, ws: StreamClient, msg: Event) -> None:
        self._gate.wait(WAIT)  # a stalled handler (slow consumer)
        self.log.add(msg)

    async def start(self) -> None:
        self.client.start_stream_thread(ping_interval=0.2, ping_timeout=2.0)
        self.depth.start()

    async def subscribe_desired(self) -> list[str]:
        await asyncio.to_thread(self.client.subscribe, *MASSIVE_DESIRED, MASSIVE_REMOVED)
        await asyncio.to_thread(self.client.unsubscribe, MASSIVE_REMOVED)
        return list(MASSIVE_DESIRED)

    def desired(self) -> list[str]:
        return self.client.subscriptions

    def metrics(self) -> MetricsSnapshot:
        return self.client.metrics()

    def stall(self) -> None:
        self._gate.clear()

    def resume(self) -> None:
        self._gate.set()

    async def close(self) -> None:
        self.resume()
        await asyncio.to_thread(self.client.close_stream, timeout=WAIT)
        await self.depth.stop()

    def fatal(self) -> BaseException | None:
        return self.log.errors[0] if self.log.errors else None

    def texts(self) -> list[str]:
        inner = self.client.client
        return [repr(self.client), repr(inner), repr(inner.session), repr(inner.driver.error)] + [
            f"{code} {msg}" for code, msg in self.log.closes
        ]

    def leftovers(self) -> list[str]:
        return [
            t.name
            for t in threading.enumerate()
            if t.name.startswith("tickwire-") and t.name != "tickwire-sim"
        ]


class PolymarketAdapter(_AsyncConsumer):
    """``PolymarketClient`` on the markets socket, consumed by ``async for``."""

    kind = "polymarket"

    def __init__(self, side: PolymarketSide, *, secret: str = PM_SECRET, **overrides: Any) -> None:
        options: dict[str, Any] = {
            "base_url": side.url,
            "backoff": Backoff(base=0.02, cap=0.1, seed=3),
            "stable_after": 60.0,
            "heartbeat_timeout": 0.5,
            "ping_interval": 0.2,
            "ping_timeout": 2.0,
            "rate_limit_cooldown": 0.4,
            "queue_size": QUEUE_SIZE,
            "dotenv_path": None,
        }
        options.update(overrides)
        self.queue_size = options["queue_size"]
        self.markets = side.sim.markets
        self.pm = PolymarketClient("markets", PM_KEY_ID, secret, **options)
        self.client = self.pm
        self._init_consumer()

    async def subscribe_desired(self) -> list[str]:
        m = self.markets
        book = await self.pm.subscribe_market_data(m[0], m[1])
        trades = await self.pm.subscribe_trades(m[2])
        removed = await self.pm.subscribe_market_data_lite(m[3])
        await self.pm.unsubscribe(removed)
        return [book, trades]

    def desired(self) -> list[str]:
        return list(self.pm.subscriptions)
