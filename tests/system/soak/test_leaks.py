"""Reconnecting many times leaks nothing: no asyncio task, thread or file descriptor, and no container
inside a client that grows with the number of reconnects. The CI-sized cousin of ``benchmarks/soak.py``
(1,000 reconnects and 30 simulated minutes, outside CI): ~150 reconnects per client here, with very short
backoff, cycling through drops, close codes, ``force_disconnect`` and refused handshakes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import psutil

from tickwire import AsyncStreamClient, Backoff, StreamClient
from tickwire.events import Event
from tickwire.polymarket_us.client import PolymarketClient
from tickwire.sim import MassiveSimulator
from tickwire.sim.polymarket import PolymarketSimulator
from tickwire.stream.consumer import StreamConsumer

KEY = "leak-test-key"
WARMUP = 20
RECONNECTS = 150
GROWTH_LIMIT = 10
"""A container may differ by a few items between two quiet moments; one growing per reconnect differs by ~150."""
FAST: dict[str, Any] = {
    "backoff": Backoff(base=0.002, cap=0.005, minimum=0.001, seed=7),
    "stable_after": 1e9,
    "ping_interval": 0.5,
    "ping_timeout": 2.0,
    "dotenv_path": None,
}
SIZED = (list, dict, set, frozenset, deque, bytearray)


def _attributes(obj: object) -> Iterator[tuple[str, object]]:
    yield from getattr(obj, "__dict__", {}).items()
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(obj, name):
                yield name, getattr(obj, name)


def container_sizes(root: object, depth: int = 6) -> dict[str, int]:
    """``path → len`` of every list/dict/set/deque held by tickwire objects reachable from ``root``
    through attributes (the queue, the session, its subscriptions and books, the driver...)."""
    sizes: dict[str, int] = {}
    seen: set[int] = set()

    def visit(obj: object, path: str, level: int) -> None:
        if id(obj) in seen or level > depth:
            return
        seen.add(id(obj))
        for name, value in _attributes(obj):
            where = f"{path}.{name}"
            if isinstance(value, SIZED):
                sizes[where] = len(value)
            elif type(value).__module__.startswith("tickwire."):
                visit(value, where, level + 1)

    visit(root, type(root).__name__, 0)
    return sizes


def grown(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {p: (before.get(p, 0), n) for p, n in after.items() if n - before.get(p, 0) > GROWTH_LIMIT}


def open_fds() -> int:
    return psutil.Process().num_fds()


MASSIVE_FAULTS: list[Callable[[Any], object]] = [
    lambda s: s.drop(),
    lambda s: s.close(1000),
    lambda s: s.close(1001),
    lambda s: s.close(1011),
    lambda s: s.send_status("force_disconnect", "another session", close_code=1000),
    lambda s: (s.refuse_handshakes(503, 1), s.drop()),
]


async def until(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def steady() -> tuple[int, int]:
    """(tasks, fds), the highest over 0.1 s: ``wait_for()`` runs its awaitable in a task of its own (on
    Python 3.11) that comes and goes with each wait, so a single count can be one low."""
    tasks = fds = 0
    for _ in range(20):
        tasks, fds = max(tasks, len(asyncio.all_tasks())), max(fds, open_fds())
        await asyncio.sleep(0.005)
    return tasks, fds


async def back_to(tasks: int, fds: int) -> None:
    """Tasks and fds return to (at most) these counts (a closing socket's fd goes after its last
    callback: allow a moment); a leak stays."""
    try:
        await until(lambda: len(asyncio.all_tasks()) <= tasks and open_fds() <= fds, 2.0, "")
    except AssertionError:
        raise AssertionError(
            f"tasks {len(asyncio.all_tasks())} (was {tasks}), fds {open_fds()} (was {fds}): "
            f"{sorted(t.get_coro().__qualname__ for t in asyncio.all_tasks())}"
        ) from None


async def reconnect(client: StreamConsumer, fault: Callable[[], object], what: str) -> None:
    """Inject ``fault`` and wait until the client has noticed it and streams again."""
    before = client.metrics().reconnects
    fault()
    await until(lambda: client.metrics().reconnects > before and client.metrics().connected, 5.0, what)


async def drain(client: StreamConsumer, seen: list[int]) -> None:
    async for _ in client:
        seen[0] += 1


async def check_reconnect_cycles(
    client: StreamConsumer, faults: list[Callable[[], object]], settled: Callable[[], Awaitable[None]]
) -> None:
    """WARMUP reconnects, a snapshot, RECONNECTS more, a snapshot: the same tasks, fds and containers."""
    seen = [0]
    consumer = asyncio.create_task(drain(client, seen))
    await until(lambda: client.metrics().connected, 5.0, "the first connection")
    for i in range(WARMUP):
        await reconnect(client, faults[i % len(faults)], f"warm-up reconnect {i}")
    await settled()
    (tasks, fds), sizes = await steady(), container_sizes(client)
    for i in range(RECONNECTS):
        await reconnect(client, faults[i % len(faults)], f"reconnect {i}")
    await settled()
    events = seen[0]
    await until(lambda: seen[0] > events, 5.0, "events after the last reconnect")
    assert client.metrics().reconnects >= WARMUP + RECONNECTS
    await back_to(tasks, fds)
    assert grown(sizes, container_sizes(client)) == {}
    m = client.metrics()
    assert m.dropped == 0 and m.queue_depth <= 10_000 and m.queue_peak <= 10_000
    consumer.cancel()


async def test_async_client_reconnects_leak_nothing() -> None:
    async with MassiveSimulator(
        seed=21, tick_interval=0.01, rate=20.0, close_timeout=0.2, max_connections=None
    ) as sim:
        tasks, fds = await steady()
        client = AsyncStreamClient(
            KEY, url=sim.url, subscriptions=["T.*", "Q.AAPL"], stale_timeout=None, **FAST
        )
        async with client:
            faults = [lambda f=f: f(sim) for f in MASSIVE_FAULTS]
            await check_reconnect_cycles(client, faults, lambda: sim.wait_connections(1, timeout=5))
        await sim.wait_connections(0, timeout=5)
        await back_to(tasks, fds)
        for _ in range(10):  # whole client lifetimes: nothing left behind either
            async with AsyncStreamClient(KEY, url=sim.url, subscriptions=["T.*"], **FAST) as c:
                await until(lambda c=c: c.metrics().connected, 5.0, "a connection")
        await sim.wait_connections(0, timeout=5)
        await back_to(tasks, fds)


async def test_polymarket_private_client_reconnects_leak_nothing() -> None:
    async with PolymarketSimulator(
        seed=8, tick_interval=0.02, heartbeat_interval=0.2, account_interval=0.05, close_timeout=0.2
    ) as sim:
        tasks, fds = await steady()
        client = PolymarketClient(
            "private", sim.key_id, sim.secret_key, base_url=sim.url, heartbeat_timeout=2.0, **FAST
        )
        await client.subscribe_orders()
        await client.subscribe_positions()
        await client.request_order_snapshot()
        faults: list[Callable[[], object]] = [
            sim.drop,
            lambda: sim.close(1000),
            lambda: sim.close(1011),
            lambda: (sim.refuse_handshakes(503, 1), sim.drop()),
        ]

        async def settled() -> None:
            await sim.wait_until(lambda: len(sim.connections()) == 1, 5.0, "one connection")

        async with client:
            await check_reconnect_cycles(client, faults, settled)
        await sim.wait_until(lambda: not sim.connections(), 5.0, "no connection")
        await back_to(tasks, fds)


def _wait(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def test_threaded_client_reconnects_and_restarts_leak_no_threads() -> None:
    sim = MassiveSimulator(seed=22, tick_interval=0.01, rate=20.0, close_timeout=0.2, max_connections=None)
    with sim.run_in_thread() as running:
        threads, fds = threading.active_count(), open_fds()
        messages = [0]

        def on_message(msg: Event) -> None:
            messages[0] += 1

        client = StreamClient(
            KEY, "stocks", host=running.url, on_message=on_message, on_error=lambda e: None, messages="events",
            stale_timeout=None, **FAST,
        )  # fmt: skip
        client.subscribe("T.*", "Q.AAPL")
        client.start_stream_thread()
        _wait(lambda: client.metrics().connected, 5.0, "the first connection")
        assert threading.active_count() == threads + 2  # tickwire-io, tickwire-dispatch

        def cycle(n: int) -> None:
            for i in range(n):
                before = client.metrics().reconnects
                MASSIVE_FAULTS[i % len(MASSIVE_FAULTS)](running)
                _wait(
                    lambda before=before: client.metrics().reconnects > before and client.metrics().connected,
                    5.0,
                    "reconnect",
                )
            running.wait_connections(1, timeout=5)

        cycle(WARMUP)
        sizes, fds_streaming = container_sizes(client), open_fds()
        cycle(RECONNECTS)
        count = messages[0]
        _wait(lambda: messages[0] > count, 5.0, "messages after the last reconnect")
        assert threading.active_count() == threads + 2
        _wait(lambda: open_fds() <= fds_streaming, 2.0, f"{fds_streaming} fds (now {open_fds()})")
        assert grown(sizes, container_sizes(client)) == {}
        client.close_stream()
        for _ in range(5):  # whole lifetimes: start, stream, close
            with StreamClient(KEY, "stocks", host=running.url, on_message=on_message, **FAST) as c:
                c.subscribe("T.*")
                c.start_stream_thread()
                _wait(lambda c=c: c.metrics().connected, 5.0, "a connection")
        running.wait_connections(0, timeout=5)
        assert threading.active_count() == threads
        _wait(lambda: open_fds() <= fds, 2.0, f"{fds} fds (now {open_fds()})")
        assert not [
            t.name
            for t in threading.enumerate()
            if t.name.startswith("tickwire-") and t.name != "tickwire-sim"
        ]
