"""The benchmarked clients. Each run is one fresh process: ``python benchmarks/bench_clients.py NAME ...``.

Every client connects to ``stream_server.py`` on 127.0.0.1, authenticates, subscribes to ``T.*``
and counts data events until it has seen N; then it closes and the process exits. It prints one
``RESULT {json}`` line as soon as the N-th event is delivered and one ``CLOSED {json}`` line once
the client has shut down cleanly (a missing ``CLOSED`` line means the close hung or failed).

The timed window runs from the first data event delivered to user code (``t0``) to the N-th
(``t1``): ``ev/s = (N - first) / (t1 - t0)`` where ``first`` is the first frame's event count
(already decoded at ``t0``), ``cpu = process_time()`` over the same window, and ``rss`` is the
process's peak RSS (``ru_maxrss``). Imports are per client, so the bare loop's RSS does not pay for
the libraries it does not use.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

__all__ = ["CLIENTS", "GcClock", "Meter", "main"]

CLOSE_TIMEOUT = 10.0


class GcClock:
    """Time spent in the cyclic garbage collector (via ``gc.callbacks``) and collections per generation."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.collections[info["generation"]] += 1

    def reset(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]


GC = GcClock()
REPORTED_AT = [0.0]  # perf_counter() when the RESULT line was printed, to time the close


class Meter:
    """The timed window. Call :meth:`hit` whenever ``count >= meter.target``; it returns True at N.

    ``target`` is 1 until the first data event, then N, so a client pays one integer comparison
    per frame (or per event) and nothing else.
    """

    __slots__ = ("c0", "c1", "first", "gc_collections", "gc_s", "n", "t0", "t1", "target")

    def __init__(self, n: int) -> None:
        self.n = n
        self.target = 1
        self.first = 0
        self.t0 = self.t1 = self.c0 = self.c1 = self.gc_s = 0.0
        self.gc_collections = [0, 0, 0]

    def hit(self, count: int, first: int | None = None) -> bool:
        """Record the window's start (first call) or end (count >= N); True once N is reached."""
        if self.target == 1 and self.t0 == 0.0:
            GC.reset()
            self.t0 = time.perf_counter()
            self.c0 = time.process_time()
            self.first = count if first is None else first
            self.target = self.n
            if count < self.n:
                return False
        self.t1 = time.perf_counter()
        self.c1 = time.process_time()
        self.gc_s = GC.seconds
        self.gc_collections = list(GC.collections)
        return True

    def report(self, name: str, batch: int, count: int, last_q: int | None) -> dict[str, Any]:
        """Print the ``RESULT`` line (flushed at once, before any shutdown work) and return it."""
        wall = self.t1 - self.t0
        timed = self.n - self.first
        cpu = self.c1 - self.c0
        res: dict[str, Any] = {
            "client": name,
            "batch": batch,
            "n": self.n,
            "count": count,
            "last_q": last_q,
            "first": self.first,
            "wall_s": wall,
            "cpu_s": cpu,
            "ev_per_s": timed / wall if wall > 0 else float("nan"),
            "us_cpu_per_event": cpu / timed * 1e6 if timed > 0 else float("nan"),
            "cpu_per_wall": cpu / wall if wall > 0 else float("nan"),
            "rss_mb": peak_rss_mb(),
            "gc_s": self.gc_s,
            "gc_collections": self.gc_collections,
        }
        print("RESULT " + json.dumps(res), flush=True)
        REPORTED_AT[0] = time.perf_counter()
        return res


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _wait(aw: Awaitable[Any], what: str) -> None:
    """Await ``aw`` for at most ``CLOSE_TIMEOUT`` s; a hang becomes a clear error (and exit code 1)."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await aw
    except TimeoutError:
        raise RuntimeError(f"{what} did not finish within {CLOSE_TIMEOUT:.0f} s") from None


# The bare loops' wire Structs (module level, so the latency clients share them).


class Trade(msgspec.Struct, tag_field="ev", tag="T"):
    """A Polygon ``T`` event with its wire names: what the bare loops decode into."""

    sym: str
    i: str
    x: int
    p: float
    s: int
    c: list[int]
    t: int
    q: int
    z: int


class Status(msgspec.Struct, tag_field="ev", tag="status"):
    status: str
    message: str = ""


# --- 1. bare picows + msgspec --------------------------------------------------------------


async def run_bare(port: int, n: int, batch: int) -> dict[str, Any]:
    """The practical ceiling: picows ``on_ws_frame`` → one ``msgspec`` decode → count."""
    import msgspec
    import picows
    from picows import WSFrame, WSListener, WSMsgType, WSTransport

    decode = msgspec.json.Decoder(list[Trade | Status]).decode
    encode = msgspec.json.Encoder().encode
    meter = Meter(n)
    done = asyncio.get_running_loop().create_future()

    class Listener(WSListener):
        def __init__(self) -> None:
            self.streaming = False
            self.count = 0
            self.last: Trade | Status | None = None

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if self.streaming:
                events = decode(frame.get_payload_as_memoryview())
                self.count += len(events)
                if self.count >= meter.target and meter.hit(self.count):
                    self.streaming = False
                    self.last = events[-1]
                    done.set_result(None)
                return
            if frame.msg_type is not WSMsgType.TEXT or done.done():
                return
            for st in decode(frame.get_payload_as_memoryview()):
                if not isinstance(st, Status):
                    raise RuntimeError("data before the subscription was acknowledged")
                if st.status == "connected":
                    transport.send(WSMsgType.TEXT, encode({"action": "auth", "params": "k"}))
                elif st.status == "auth_success":
                    transport.send(WSMsgType.TEXT, encode({"action": "subscribe", "params": "T.*"}))
                elif st.message.startswith("subscribed to:"):
                    self.streaming = True

    transport, listener = await picows.ws_connect(Listener, f"ws://127.0.0.1:{port}/stocks")
    assert isinstance(listener, Listener)
    await done
    last = listener.last
    res = meter.report("bare", batch, listener.count, last.q if isinstance(last, Trade) else None)
    transport.send_close()
    transport.disconnect()
    await _wait(transport.wait_disconnected(), "picows disconnect")
    return res


async def run_bare_queue(port: int, n: int, batch: int, *, raw: bool = False) -> dict[str, Any]:
    """Diagnostic (not run by default): the bare loop, but frames go through a deque to a consumer task.

    ``bare_queue`` decodes in ``on_ws_frame`` and queues the events, as tickwire does: its gap to
    ``bare`` is what that design costs by itself. ``bare_queue_raw`` queues the payload bytes and
    decodes in the consumer, so events are created just before use and die young.
    """
    import collections

    import msgspec
    import picows
    from picows import WSFrame, WSListener, WSMsgType, WSTransport

    class Trade(msgspec.Struct, tag_field="ev", tag="T", gc=False):
        sym: str
        i: str
        x: int
        p: float
        s: int
        c: list[int]
        t: int
        q: int
        z: int

    class Status(msgspec.Struct, tag_field="ev", tag="status", gc=False):
        status: str
        message: str = ""

    decode = msgspec.json.Decoder(list[Trade | Status]).decode
    encode = msgspec.json.Encoder().encode
    loop = asyncio.get_running_loop()
    queue: collections.deque[Any] = collections.deque()
    waiter: list[asyncio.Future[None] | None] = [None]

    class Listener(WSListener):
        def __init__(self) -> None:
            self.streaming = False

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if self.streaming:
                queue.append(
                    frame.get_payload_as_bytes() if raw else decode(frame.get_payload_as_memoryview())
                )
                w = waiter[0]
                if w is not None:
                    waiter[0] = None
                    w.set_result(None)
                return
            if frame.msg_type is not WSMsgType.TEXT:
                return
            for st in decode(frame.get_payload_as_memoryview()):
                if isinstance(st, Status) and st.status == "connected":
                    transport.send(WSMsgType.TEXT, encode({"action": "auth", "params": "k"}))
                elif isinstance(st, Status) and st.status == "auth_success":
                    transport.send(WSMsgType.TEXT, encode({"action": "subscribe", "params": "T.*"}))
                elif isinstance(st, Status) and st.message.startswith("subscribed to:"):
                    self.streaming = True

    transport, _ = await picows.ws_connect(Listener, f"ws://127.0.0.1:{port}/stocks")
    meter = Meter(n)
    count = 0
    events: list[Trade | Status] = []
    while count < meter.n:
        while queue:
            events = decode(queue.popleft()) if raw else queue.popleft()
            count += len(events)
            if count >= meter.target and meter.hit(count):
                break
        if count < meter.n:
            fut = waiter[0] = loop.create_future()
            await fut
    last = events[-1]
    name = "bare_queue_raw" if raw else "bare_queue"
    res = meter.report(name, batch, count, last.q if isinstance(last, Trade) else None)
    transport.send_close()
    transport.disconnect()
    await _wait(transport.wait_disconnected(), "picows disconnect")
    return res


async def run_bare_queue_raw(port: int, n: int, batch: int) -> dict[str, Any]:
    """Diagnostic: ``bare_queue`` with raw payloads queued and decoded by the consumer."""
    return await run_bare_queue(port, n, batch, raw=True)


# --- 2. the official massive client ---------------------------------------------------------


async def run_massive(port: int, n: int, batch: int) -> dict[str, Any]:
    """``massive.WebSocketClient`` unmodified; the processor counts ``len(msgs)``."""
    from massive import WebSocketClient  # type: ignore[import-untyped]

    client = WebSocketClient(
        api_key="k", feed=f"127.0.0.1:{port}", market="stocks", secure=False, subscriptions=["T.*"]
    )
    meter = Meter(n)
    done = asyncio.Event()
    count = 0
    last: list[Any] = []

    async def processor(msgs: list[Any]) -> None:
        nonlocal count, last
        count += len(msgs)
        if count >= meter.target and not done.is_set() and meter.hit(count):
            last = msgs
            done.set()

    task = asyncio.create_task(client.connect(processor))
    waiter = asyncio.create_task(done.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if not done.is_set():
        waiter.cancel()
        task.result()
        raise RuntimeError("massive connect() returned before N events")
    res = meter.report("massive", batch, count, last[-1].sequence_number)
    await client.close()
    await _wait(task, "massive connect()")
    return res


# --- 3-5. tickwire -------------------------------------------------------------------------


def _tickwire_client(port: int) -> Any:
    from tickwire import AsyncStreamClient

    return AsyncStreamClient(
        api_key="k", market="stocks", url=f"ws://127.0.0.1:{port}", ping_interval=None, stale_timeout=None
    )


async def run_tickwire_async_for(port: int, n: int, batch: int) -> dict[str, Any]:
    """``async for ev in client``: one event per iteration.

    Control events (statuses, ``Connected``) come before the first trade; a warm-up loop skips
    them with a type check. The timed loop then counts every event with no type check (the stream
    holds only trades from there on, which ``last_q == N`` confirms).
    """
    from tickwire import EquityTrade

    meter = Meter(n)
    async with _tickwire_client(port) as c:
        await c.subscribe("T.*")
        it = aiter(c)
        ev = await anext(it)
        while type(ev) is not EquityTrade:
            ev = await anext(it)
        count = 1
        if not meter.hit(count, first=batch):
            async for event in it:
                count += 1
                if count >= n:
                    meter.hit(count)
                    ev = event
                    break
        res = meter.report("tickwire_async_for", batch, count, ev.sequence_number)
    return res


async def run_tickwire_batches(port: int, n: int, batch: int) -> dict[str, Any]:
    """``async for batch in client.batches()``: one list per frame, counted with ``len``."""
    from tickwire import EquityTrade

    meter = Meter(n)
    async with _tickwire_client(port) as c:
        await c.subscribe("T.*")
        it = c.batches()
        events = await anext(it)
        while not any(type(e) is EquityTrade for e in events):
            events = await anext(it)
        count = sum(type(e) is EquityTrade for e in events)
        if not meter.hit(count):
            async for events in it:
                count += len(events)
                if count >= n:
                    meter.hit(count)
                    break
        await it.aclose()
        res = meter.report("tickwire_batches", batch, count, events[-1].sequence_number)
    return res


async def run_tickwire_handler(port: int, n: int, batch: int) -> dict[str, Any]:
    """``client.on("T", fn)`` + ``await client.run()``; ``fn`` counts and flags N."""
    meter = Meter(n)
    done = asyncio.Event()
    count = 0
    last: Any = None

    def on_trade(ev: Any) -> None:
        nonlocal count, last
        count += 1
        if count >= meter.target and not done.is_set() and meter.hit(count, first=batch):
            last = ev
            done.set()

    async with _tickwire_client(port) as c:
        c.on("T", on_trade)
        await c.subscribe("T.*")
        runner = asyncio.create_task(c.run())
        waiter = asyncio.create_task(done.wait())
        await asyncio.wait({runner, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not done.is_set():
            waiter.cancel()
            runner.result()
            raise RuntimeError("tickwire run() returned before N events")
        res = meter.report("tickwire_handler", batch, count, last.sequence_number)
        await c.close()
        await _wait(runner, "tickwire run() after close()")
    return res


# --- 6-8. callback clients (a stream thread calls the handler) --------------------------------


def _wait_callbacks(name: str, done: Any, count: Callable[[], int]) -> None:
    """Block until the handler has seen N events (the stream thread calls it)."""
    if not done.wait(600):
        raise RuntimeError(f"{name}: N events did not arrive within 600 s (got {count()})")


class _RawFrameCounter:
    """The handler a ``polygon.StreamClient`` user writes: ``json.loads`` each raw frame, count trades.

    Shared by the ``polygon`` client and tickwire's drop-in so both run the same user code."""

    def __init__(self, n: int) -> None:
        import threading

        self.meter = Meter(n)
        self.done = threading.Event()
        self.count = 0
        self.last: Any = None

    def __call__(self, ws: Any, msg: str | bytes) -> None:
        events = json.loads(msg)
        if self.done.is_set() or events[0].get("ev") != "T":
            return
        self.count += len(events)
        if self.count >= self.meter.target and self.meter.hit(self.count):
            self.last = events[-1]
            self.done.set()


async def run_polygon_stream(port: int, n: int, batch: int) -> dict[str, Any]:
    """``polygon.StreamClient`` (websocket-client on a thread), unmodified but for its URL (it only
    knows ``wss://*.polygon.io``): raw frames, ``json.loads`` in the handler as its users must."""
    from polygon import StreamClient  # type: ignore[import-untyped]

    handler = _RawFrameCounter(n)
    client = StreamClient("k", "stocks", on_message=handler)
    client.WS.url = f"ws://127.0.0.1:{port}/stocks"
    client.start_stream_thread(ping_interval=0)
    client.subscribe_stock_trades()  # every ticker: T.*
    _wait_callbacks("polygon", handler.done, lambda: handler.count)
    res = handler.meter.report("polygon_stream", batch, handler.count, handler.last["q"])
    client.close_stream()
    return res


def _tickwire_stream_client(port: int, **options: Any) -> Any:
    from tickwire import StreamClient

    return StreamClient("k", "stocks", host=f"ws://127.0.0.1:{port}", stale_timeout=None, **options)


async def run_tickwire_threaded_raw(port: int, n: int, batch: int) -> dict[str, Any]:
    """``tickwire.StreamClient`` as a drop-in for ``polygon``'s: raw frames, the same ``json.loads``
    handler, so the difference is the client alone."""
    handler = _RawFrameCounter(n)
    client = _tickwire_stream_client(port, on_message=handler)
    client.start_stream_thread(ping_interval=0)
    client.subscribe_stock_trades()
    _wait_callbacks("tickwire_threaded_raw", handler.done, lambda: handler.count)
    res = handler.meter.report("tickwire_threaded_raw", batch, handler.count, handler.last["q"])
    client.close_stream()
    return res


async def run_tickwire_threaded(port: int, n: int, batch: int) -> dict[str, Any]:
    """``tickwire.StreamClient(messages="events")``: typed events, one handler call each."""
    import threading

    from tickwire import EquityTrade

    meter = Meter(n)
    done = threading.Event()
    count = 0
    last: list[Any] = [None]

    def on_message(ws: Any, ev: Any) -> None:
        nonlocal count
        if type(ev) is not EquityTrade:  # statuses come first
            return
        count += 1
        if count >= meter.target and not done.is_set() and meter.hit(count, first=batch):
            last[0] = ev
            done.set()

    client = _tickwire_stream_client(port, on_message=on_message, messages="events")
    client.start_stream_thread(ping_interval=0)
    client.subscribe_stock_trades()
    _wait_callbacks("tickwire_threaded", done, lambda: count)
    res = meter.report("tickwire_threaded", batch, count, last[0].sequence_number)
    client.close_stream()
    return res


# --- 9-11. Polymarket US markets socket: one whole book per frame ------------------------------

PM_SECRET = "YmVuY2gtcG9seW1hcmtldC1rZXktMDAwMDAwMDAwMDA="  # any 32 bytes, base64: the server ignores it
PM_SLUGS = [f"bench-market-{k}" for k in range(8)]


# Wire Structs for pm_bare (module level: msgspec resolves the nested annotations here).


class PmPx(msgspec.Struct):
    value: str
    currency: str = ""


class PmLevel(msgspec.Struct):
    px: PmPx
    qty: str


class PmStats(msgspec.Struct, rename="camel"):
    last_trade_px: PmPx | None = None
    shares_traded: str = ""
    open_interest: str = ""


class PmMarketData(msgspec.Struct, rename="camel"):
    market_slug: str
    bids: list[PmLevel] = []
    offers: list[PmLevel] = []
    state: str = ""
    stats: PmStats | None = None
    transact_time: str | None = None


class PmFrame(msgspec.Struct, rename="camel"):
    request_id: str = ""
    subscription_type: str = ""
    market_data: PmMarketData | None = None


async def run_pm_bare(port: int, n: int, batch: int) -> dict[str, Any]:
    """The ceiling for book frames: picows ``on_ws_frame`` → one ``msgspec`` decode into typed Structs
    (prices and sizes kept as the wire's strings) → count."""
    import msgspec
    import picows
    from picows import WSFrame, WSListener, WSMsgType, WSTransport

    decode = msgspec.json.Decoder(PmFrame).decode
    meter = Meter(n)
    done = asyncio.get_running_loop().create_future()

    class Listener(WSListener):
        def __init__(self) -> None:
            self.count = 0
            self.last: PmFrame | None = None

        def on_ws_connected(self, transport: WSTransport) -> None:
            sub = {
                "requestId": "md-1",
                "subscriptionType": "SUBSCRIPTION_TYPE_MARKET_DATA",
                "marketSlugs": PM_SLUGS,
            }
            transport.send(WSMsgType.TEXT, msgspec.json.encode({"subscribe": sub}))

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type is not WSMsgType.TEXT or done.done():
                return
            f = decode(frame.get_payload_as_memoryview())
            self.count += 1
            if self.count >= meter.target and meter.hit(self.count, first=1):
                self.last = f
                done.set_result(None)

    transport, listener = await picows.ws_connect(Listener, f"ws://127.0.0.1:{port}/v1/ws/markets")
    assert isinstance(listener, Listener)
    await done
    md = listener.last.market_data if listener.last else None
    last_q = int(md.stats.shares_traded) if md and md.stats else None
    res = meter.report("pm_bare", batch, listener.count, last_q)
    transport.send_close()
    transport.disconnect()
    await _wait(transport.wait_disconnected(), "picows disconnect")
    return res


def _pm_client(port: int) -> Any:
    from tickwire import PolymarketClient

    return PolymarketClient(
        "markets",
        "bench-key",
        PM_SECRET,
        base_url=f"http://127.0.0.1:{port}",
        ping_interval=None,
        heartbeat_timeout=None,
        dotenv_path=None,
    )


async def run_pm_tickwire(port: int, n: int, batch: int) -> dict[str, Any]:
    """``PolymarketClient``, ``async for ev in client``: ``MarketData`` events with ``Decimal`` levels,
    the client's order books kept up to date (its default)."""
    from tickwire.polymarket_us import MarketData

    meter = Meter(n)
    count = 0
    ev: Any = None
    async with _pm_client(port) as c:
        await c.subscribe_market_data(*PM_SLUGS)
        async for ev in c:
            if type(ev) is MarketData:
                count += 1
                if count >= meter.target and meter.hit(count, first=1):
                    break
        last_q = int(ev.stats.shares_traded) if ev is not None and ev.stats else None
        res = meter.report("pm_tickwire", batch, count, last_q)
    return res


async def run_pm_sdk(port: int, n: int, batch: int) -> dict[str, Any]:
    """The official ``polymarket-us`` SDK (``AsyncPolymarketUS().ws.markets()``), unmodified but for its
    base URL; ``on("market_data", fn)`` gets one dict per frame."""
    from polymarket_us import AsyncPolymarketUS

    meter = Meter(n)
    done = asyncio.Event()
    count = 0
    last: dict[str, Any] = {}

    def on_market_data(msg: dict[str, Any]) -> None:
        nonlocal count, last
        count += 1
        if count >= meter.target and meter.hit(count, first=1):
            last = msg
            done.set()

    async with AsyncPolymarketUS(
        key_id="bench-key", secret_key=PM_SECRET, api_base_url=f"http://127.0.0.1:{port}"
    ) as client:
        markets = client.ws.markets()
        markets.on("market_data", on_market_data)
        await markets.connect()
        await markets.subscribe_market_data("md-1", PM_SLUGS)
        await done.wait()
        res = meter.report("pm_sdk", batch, count, int(last["marketData"]["stats"]["sharesTraded"]))
        await _wait(markets.close(), "polymarket-us close()")
    return res


CLIENTS: dict[str, Callable[[int, int, int], Awaitable[dict[str, Any]]]] = {
    "bare": run_bare,
    "bare_queue": run_bare_queue,
    "bare_queue_raw": run_bare_queue_raw,
    "massive": run_massive,
    "tickwire_async_for": run_tickwire_async_for,
    "tickwire_batches": run_tickwire_batches,
    "tickwire_handler": run_tickwire_handler,
    "polygon_stream": run_polygon_stream,
    "tickwire_threaded_raw": run_tickwire_threaded_raw,
    "tickwire_threaded": run_tickwire_threaded,
    "pm_bare": run_pm_bare,
    "pm_tickwire": run_pm_tickwire,
    "pm_sdk": run_pm_sdk,
}


UVLOOP_SUFFIX = "_uvloop"
# every client also runs on uvloop's event loop (tickwire[uvloop]) as <name>_uvloop; which of them
# the harness runs is throughput.UVLOOP_CLIENTS
CLIENTS.update({name + UVLOOP_SUFFIX: run for name, run in list(CLIENTS.items())})
PURE_SUFFIX = "_pure"
# and without tickwire's C code (TICKWIRE_PURE_PYTHON=1) as <name>_pure: what the C hot path buys,
# measured in the same run (throughput.PURE_CLIENTS)
CLIENTS.update({name + PURE_SUFFIX: run for name, run in list(CLIENTS.items()) if "tickwire" in name})


def _loop_run(name: str, coro: Awaitable[None]) -> None:
    """``asyncio.run``, or ``uvloop.run`` for a ``_uvloop`` client."""
    if name.endswith(UVLOOP_SUFFIX):
        import uvloop

        uvloop.run(coro)  # type: ignore[arg-type]
    else:
        asyncio.run(coro)  # type: ignore[arg-type]


async def _run(name: str, port: int, n: int, batch: int) -> None:
    await CLIENTS[name](port, n, batch)
    closed = {"close_s": time.perf_counter() - REPORTED_AT[0], "rss_mb": peak_rss_mb()}
    print("CLOSED " + json.dumps(closed), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run one client once; see the module docstring for the output."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("client", choices=sorted(CLIENTS))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, required=True, help="data events to receive")
    p.add_argument("--batch", type=int, required=True, help="events per frame (the stream's B)")
    p.add_argument("--cpu", type=int, default=0, help="pin to this CPU (-1: do not pin)")
    p.add_argument("--profile", metavar="PATH", help="write cProfile stats of the whole run to PATH")
    args = p.parse_args(argv)
    if args.client.endswith(PURE_SUFFIX):  # before tickwire is imported (the clients import it late)
        os.environ["TICKWIRE_PURE_PYTHON"] = "1"
    if args.cpu >= 0 and args.cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {args.cpu})
    coro = _run(args.client, args.port, args.n, args.batch)
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        try:
            _loop_run(args.client, coro)
        finally:
            prof.disable()
            prof.dump_stats(args.profile)
    else:
        _loop_run(args.client, coro)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
