"""Latency clients: ``python benchmarks/latency_clients.py NAME --port P --n N --batch B``.

Each client reads the paced stream of ``stream_server.py --rate R`` (every trade's ``t`` is the
server's ``time.time_ns()`` when it sent the trade) and records ``time.time_ns() - t`` when the
trade reaches user code: the handler, the loop body, the callback. It prints one ``RESULT {json}``
line with the latency percentiles over the events after the warm-up (the first ``--warmup``
fraction), the delivery rate, and the RSS at the end of the warm-up and at the end (flat memory).

Per-frame clients (``bare``, ``tickwire_batches``, ``massive``) read the clock once per delivered
list, per-event clients once per event, as their users would. Server and client share the
machine's ``CLOCK_REALTIME``.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["CLIENTS", "LatencyLog", "main"]

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_mb() -> float:
    """The current resident set size in MB (``/proc/self/statm``)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE_MB


class LatencyLog:
    """Latencies in ns, written from the client's hot path into a preallocated array (so the log
    itself does not grow the RSS being watched); ``done`` is set at N events."""

    def __init__(self, n: int, warmup: float) -> None:
        self.n = n
        self.warm_at = max(1, int(n * warmup))
        self.lat = array.array("q", bytes(8 * n))
        self.count = 0
        self.done = threading.Event()
        self.t_warm = self.t_end = 0.0
        self.rss_warm = self.rss_end = 0.0
        self.last_q = 0

    def add(self, sent_ns: int, now_ns: int) -> None:
        k = self.count
        if k >= self.n:
            return
        self.lat[k] = now_ns - sent_ns
        self.count = k = k + 1
        if k == self.warm_at:
            self.t_warm = time.perf_counter()
            self.rss_warm = rss_mb()
        elif k == self.n:
            self.t_end = time.perf_counter()
            self.rss_end = rss_mb()
            self.done.set()

    def result(self, name: str, batch: int) -> dict[str, Any]:
        """Percentiles (µs) over the post-warm-up events, delivery rate, RSS; printed as ``RESULT``."""
        timed = sorted(self.lat[self.warm_at : self.count])
        k = len(timed)

        def pct(p: float) -> float:
            return timed[min(k - 1, int(p / 100 * k))] / 1000 if k else float("nan")

        window = self.t_end - self.t_warm
        res = {
            "client": name,
            "batch": batch,
            "n": self.n,
            "count": self.count,
            "last_q": self.last_q,
            "timed_events": k,
            "delivered_per_s": k / window if window > 0 else float("nan"),
            "p50_us": pct(50),
            "p99_us": pct(99),
            "p999_us": pct(99.9),
            "max_us": timed[-1] / 1000 if k else float("nan"),
            "rss_warm_mb": self.rss_warm,
            "rss_end_mb": self.rss_end,
            "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        print("RESULT " + json.dumps(res), flush=True)
        return res


# --- clients --------------------------------------------------------------------------------


async def run_bare(port: int, log: LatencyLog, batch: int) -> None:
    """picows + msgspec, the clock read once per frame in ``on_ws_frame``."""
    import msgspec
    import picows
    from picows import WSFrame, WSListener, WSMsgType, WSTransport

    from bench_clients import Status, Trade

    decode = msgspec.json.Decoder(list[Trade | Status]).decode
    encode = msgspec.json.Encoder().encode
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    now = time.time_ns
    add = log.add

    class Listener(WSListener):
        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type is not WSMsgType.TEXT:
                return
            events = decode(frame.get_payload_as_memoryview())
            ns = now()
            for ev in events:
                if type(ev) is Trade:
                    add(ev.t, ns)
                elif ev.status == "connected":
                    transport.send(WSMsgType.TEXT, encode({"action": "auth", "params": "k"}))
                elif ev.status == "auth_success":
                    transport.send(WSMsgType.TEXT, encode({"action": "subscribe", "params": "T.*"}))
            if log.done.is_set() and not finished.done():
                log.last_q = events[-1].q  # type: ignore[union-attr]
                finished.set_result(None)

    transport, _ = await picows.ws_connect(Listener, f"ws://127.0.0.1:{port}/stocks")
    await finished
    log.result("bare", batch)
    transport.send_close()
    transport.disconnect()
    await transport.wait_disconnected()


def _tickwire(port: int) -> Any:
    from tickwire import AsyncStreamClient

    return AsyncStreamClient(
        api_key="k", market="stocks", url=f"ws://127.0.0.1:{port}", ping_interval=None, stale_timeout=None
    )


async def run_tickwire_async_for(port: int, log: LatencyLog, batch: int) -> None:
    """``async for ev in client``; the clock read per event."""
    from tickwire import EquityTrade

    now = time.time_ns
    async with _tickwire(port) as c:
        await c.subscribe("T.*")
        async for ev in c:
            if type(ev) is EquityTrade:
                log.add(ev.timestamp, now())
                if log.done.is_set():
                    log.last_q = ev.sequence_number
                    break
    log.result("tickwire_async_for", batch)


async def run_tickwire_batches(port: int, log: LatencyLog, batch: int) -> None:
    """``async for batch in client.batches()``; the clock read per batch."""
    from tickwire import EquityTrade

    now = time.time_ns
    async with _tickwire(port) as c:
        await c.subscribe("T.*")
        async for events in c.batches():
            ns = now()
            for ev in events:
                if type(ev) is EquityTrade:
                    log.add(ev.timestamp, ns)
            if log.done.is_set():
                log.last_q = events[-1].sequence_number
                break
    log.result("tickwire_batches", batch)


async def run_tickwire_handler(port: int, log: LatencyLog, batch: int) -> None:
    """``client.on("T", fn)`` + ``run()``; the clock read per event in ``fn``."""
    now = time.time_ns
    stop = asyncio.Event()

    def on_trade(ev: Any) -> None:
        log.add(ev.timestamp, now())
        if log.done.is_set():
            log.last_q = ev.sequence_number
            stop.set()

    async with _tickwire(port) as c:
        c.on("T", on_trade)
        await c.subscribe("T.*")
        runner = asyncio.create_task(c.run())
        await stop.wait()
        await c.close()
        await runner
    log.result("tickwire_handler", batch)


async def run_tickwire_threaded(port: int, log: LatencyLog, batch: int) -> None:
    """``tickwire.StreamClient(messages="events")``: the handler runs on the dispatch thread."""
    from tickwire import EquityTrade, StreamClient

    now = time.time_ns

    def on_message(ws: Any, ev: Any) -> None:
        if type(ev) is EquityTrade and not log.done.is_set():
            log.add(ev.timestamp, now())
            log.last_q = ev.sequence_number

    client = StreamClient(
        "k",
        "stocks",
        host=f"ws://127.0.0.1:{port}",
        stale_timeout=None,
        on_message=on_message,
        messages="events",
    )
    client.start_stream_thread(ping_interval=0)
    client.subscribe_stock_trades()
    log.done.wait()
    client.close_stream()
    log.result("tickwire_threaded", batch)


async def run_massive(port: int, log: LatencyLog, batch: int) -> None:
    """The official ``massive.WebSocketClient``; the clock read per processor call (one per frame)."""
    from massive import WebSocketClient  # type: ignore[import-untyped]

    client = WebSocketClient(
        api_key="k", feed=f"127.0.0.1:{port}", market="stocks", secure=False, subscriptions=["T.*"]
    )
    now = time.time_ns
    stop = asyncio.Event()

    async def processor(msgs: list[Any]) -> None:
        ns = now()
        for m in msgs:
            log.add(m.timestamp, ns)
        if log.done.is_set():
            log.last_q = msgs[-1].sequence_number
            stop.set()

    task = asyncio.create_task(client.connect(processor))
    await stop.wait()
    log.result("massive", batch)
    await client.close()
    await task


async def run_polygon_stream(port: int, log: LatencyLog, batch: int) -> None:
    """``polygon.StreamClient`` with ``json.loads`` in ``on_message``; the clock read per frame."""
    from polygon import StreamClient  # type: ignore[import-untyped]

    now = time.time_ns

    def on_message(ws: Any, msg: str) -> None:
        events = json.loads(msg)
        ns = now()
        for ev in events:
            if ev.get("ev") == "T" and not log.done.is_set():
                log.add(ev["t"], ns)
                log.last_q = ev["q"]

    client = StreamClient("k", "stocks", on_message=on_message)
    client.WS.url = f"ws://127.0.0.1:{port}/stocks"
    client.start_stream_thread(ping_interval=0)
    client.subscribe_stock_trades()
    log.done.wait()
    log.result("polygon_stream", batch)
    client.close_stream()


CLIENTS: dict[str, Callable[[int, LatencyLog, int], Awaitable[None]]] = {
    "bare": run_bare,
    "massive": run_massive,
    "tickwire_async_for": run_tickwire_async_for,
    "tickwire_batches": run_tickwire_batches,
    "tickwire_handler": run_tickwire_handler,
    "polygon_stream": run_polygon_stream,
    "tickwire_threaded": run_tickwire_threaded,
}


def main(argv: list[str] | None = None) -> int:
    """Run one latency client once; see the module docstring for the output."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("client", choices=sorted(CLIENTS))
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, required=True, help="trades to receive")
    p.add_argument("--batch", type=int, required=True, help="events per frame (the stream's B)")
    p.add_argument("--warmup", type=float, default=0.1, help="fraction of events left out of the figures")
    p.add_argument("--cpu", type=int, default=0, help="pin to this CPU (-1: do not pin)")
    args = p.parse_args(argv)
    if args.cpu >= 0 and args.cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {args.cpu})
    log = LatencyLog(args.n, args.warmup)
    asyncio.run(CLIENTS[args.client](args.port, log, args.batch))
    print("CLOSED {}", flush=True)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
