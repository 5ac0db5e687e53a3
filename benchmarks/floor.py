"""The interpreter's floor under the throughput targets: what each front-end's user code costs in
CPython by itself, with no socket, no decode and no tickwire.

The bare loop (``bench_clients.run_bare``) decodes a frame and counts it with ``len``: no Python
runs per event. Every other front-end hands each event to user code, and the shape of that
hand-off has a price of its own, measured here on prebuilt events (the same user code as the
benchmark's clients):

* ``batches``: an async generator yields one list per frame; the consumer adds ``len``.
* ``async_for``: an async generator yields each event; the consumer adds 1 (``async for ev in client``).
* ``handler``: each event passed to a plain function that adds 1 (``client.on("T", fn)``).
* ``json_loads``: the callback clients' shared handler, ``json.loads`` of each raw frame.

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


async def _batches(frames: list[list[Any]]) -> AsyncIterator[list[Any]]:
    for events in frames:
        yield events


async def _events(frames: list[list[Any]]) -> AsyncIterator[Any]:
    for events in frames:
        for ev in events:
            yield ev


async def _shape_batches(frames: list[list[Any]]) -> int:
    count = 0
    async for events in _batches(frames):
        count += len(events)
    return count


async def _shape_async_for(frames: list[list[Any]]) -> int:
    count = 0
    async for _ev in _events(frames):
        count += 1
    return count


async def _shape_handler(frames: list[list[Any]]) -> int:
    count = 0

    def on_trade(_ev: Any) -> None:
        nonlocal count
        count += 1

    async for events in _batches(frames):
        for ev in events:
            on_trade(ev)
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
    n_frames = max(1, events // batch)
    frames = [list(decoded) for _ in range(n_frames)]
    total = n_frames * batch
    loop = asyncio.new_event_loop()
    try:
        out = {
            name: _best(lambda shape=shape: loop.run_until_complete(shape(frames)), total)  # type: ignore[misc]
            for name, shape in (
                ("batches", _shape_batches),
                ("async_for", _shape_async_for),
                ("handler", _shape_handler),
            )
        }
    finally:
        loop.close()
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
