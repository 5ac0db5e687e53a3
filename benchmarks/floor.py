"""The interpreter's floor under the throughput targets: what each front-end's user code costs in
CPython by itself, with no socket, no decode and no tickwire.

The bare loop (``bench_clients.run_bare``) decodes a frame and counts it with ``len``: no Python
runs per event. Every other front-end hands each event to user code, and the shape of that
hand-off has a price of its own, measured here on prebuilt events (the same user code as the
benchmark's clients):

* ``batches``: one list per frame; the consumer adds ``len``.
* ``async_for``: each event; the consumer adds 1 (``async for ev in client``).
* ``handler``: each event passed to a plain function that adds 1 (``client.on("T", fn)``).
* ``json_loads``: the callback clients' shared handler, ``json.loads`` of each raw frame.

The first three are measured as tickwire hands events over: from an async generator of wake-ups
(``max(1, 128 // batch)`` frames each, as ``EventQueue.drain`` takes them) through the C steps of
``tickwire._hotpath`` (``Flatten``, ``dispatch_single``) when they are built, and as the pure Python
engine does (``*_pure``: nested ``for`` loops in async generators, a Python loop of handler calls).

A front-end that cost nothing beyond the bare loop and this floor would reach
``bare / (bare + floor)`` of the bare loop's events/s: the ceiling ``throughput.md`` prints beside
each ratio. ``json_loads`` bounds the drop-in callback client the same way: the shared handler's
cost is part of both clients' time, so ``polygon / json_loads`` is the most it can be ahead.

``python benchmarks/floor.py --batch 50 --cpu 0`` prints one ``FLOOR {json}`` line (ns per event,
the minimum of several rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stream_server

ROUNDS = 7


Wakeups = list[list[list[Any]]]


async def _wakeups(wakeups: Wakeups) -> AsyncIterator[list[list[Any]]]:
    for got in wakeups:  # the drain loop: one wake-up's frames at a time
        yield got


async def _batches(wakeups: Wakeups) -> AsyncIterator[list[Any]]:
    async for got in _wakeups(wakeups):
        for events in got:
            yield events


async def _events(wakeups: Wakeups) -> AsyncIterator[Any]:
    async for got in _wakeups(wakeups):
        for events in got:
            for ev in events:
                yield ev


async def _shape_batches_pure(wakeups: Wakeups) -> int:
    count = 0
    async for events in _batches(wakeups):
        count += len(events)
    return count


async def _shape_async_for_pure(wakeups: Wakeups) -> int:
    count = 0
    async for _ev in _events(wakeups):
        count += 1
    return count


async def _shape_handler_pure(wakeups: Wakeups) -> int:
    count = 0

    def on_trade(_ev: Any) -> None:
        nonlocal count
        count += 1

    single = {}
    async for got in _wakeups(wakeups):
        for events in got:
            for ev in events:
                one = single.get(type(ev), on_trade)  # the consumer's lookup per event
                one(ev)
    return count


async def _shape_batches(wakeups: Wakeups) -> int:
    from tickwire.speedups import Flatten

    assert Flatten is not None
    count = 0
    async for events in Flatten(_wakeups(wakeups), 1):
        count += len(events)
    return count


async def _shape_async_for(wakeups: Wakeups) -> int:
    from tickwire.speedups import Flatten

    assert Flatten is not None
    count = 0
    async for _ev in Flatten(_wakeups(wakeups), 2):
        count += 1
    return count


async def _shape_handler(wakeups: Wakeups) -> int:
    from tickwire.speedups import dispatch_single

    assert dispatch_single is not None
    count = 0

    def on_trade(_ev: Any) -> None:
        nonlocal count
        count += 1

    single: dict[type, Callable[[Any], Any]] = {}
    async for got in _wakeups(wakeups):
        single[type(got[0][0])] = on_trade
        assert dispatch_single(got, single, 0, 0) is None
    return count


def _best(fn: Callable[[], int], events: int) -> float:
    """Minimum ns per event over ``ROUNDS`` runs of ``fn`` (which handles ``events`` events)."""
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        got = fn()
        dt = time.perf_counter() - t0
        assert got == events, (got, events)
        best = min(best, dt)
    return best / events * 1e9


def measure(batch: int, events: int = 200_000) -> dict[str, float]:
    """ns per event of each shape at ``batch`` events per frame."""
    from tickwire.massive.decoder import MassiveDecoder

    frame = stream_server.events_payload(1, batch + 1)
    decoded = MassiveDecoder("stocks").decode(frame)
    from tickwire import speedups

    n_frames = max(1, events // batch)
    frames = [list(decoded) for _ in range(n_frames)]
    per = max(1, 128 // batch)
    wakeups = [frames[i : i + per] for i in range(0, n_frames, per)]
    total = n_frames * batch
    shapes = [
        ("batches_pure", _shape_batches_pure),
        ("async_for_pure", _shape_async_for_pure),
        ("handler_pure", _shape_handler_pure),
    ]
    if speedups.hot_path()["flatten"]:
        shapes += [("batches", _shape_batches), ("async_for", _shape_async_for), ("handler", _shape_handler)]
    loop = asyncio.new_event_loop()
    try:
        out = {
            name: _best(lambda shape=shape: loop.run_until_complete(shape(wakeups)), total)  # type: ignore[misc]
            for name, shape in shapes
        }
    finally:
        loop.close()
    for name in ("batches", "async_for", "handler"):  # without the C steps tickwire runs the pure shapes
        out.setdefault(name, out[name + "_pure"])
    raw = [frame.decode()] * n_frames

    def loads() -> int:
        count = 0
        for text in raw:
            count += len(json.loads(text))
        return count

    out["json_loads"] = _best(loads, total)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, required=True, help="events per frame")
    p.add_argument("--events", type=int, default=200_000, help="events per round")
    p.add_argument("--cpu", type=int, default=0, help="pin to this CPU (-1: do not pin)")
    args = p.parse_args(argv)
    if 0 <= args.cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {args.cpu})
    print("FLOOR " + json.dumps(measure(args.batch, args.events)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
