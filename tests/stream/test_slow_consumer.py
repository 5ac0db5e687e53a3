"""A consumer slower than the feed, against the simulator: the byte bound holds memory, and under
``overflow="block"`` a server's slow-consumer kick is reported as one, also when its status frame
was lost with the connection."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys

from tests.massive.client.conftest import fast_client
from tests.waiting import until
from tickwire.events import Disconnected, Event, Reconnected
from tickwire.massive import EquityTrade
from tickwire.sim import MassiveSimulator

SECONDS = float(os.environ.get("TICKWIRE_SLOW_CONSUMER_SECONDS", "60"))


async def _kicked_while_paused(sim: MassiveSimulator, kick: str) -> list[Disconnected]:
    async with fast_client(sim, queue_size=5, overflow="block", ping_interval=None) as client:
        await client.subscribe("T.*", "Q.*")
        events = client.__aiter__()
        while not isinstance(await events.__anext__(), EquityTrade):
            pass
        # stop reading: the queue fills and the client stops reading the socket
        await until(lambda: client.metrics().paused, within=15, what="the pause")
        if kick == "status":  # the server's own kick, its status behind the data it could not send
            await until(lambda: sim.counters.slow_consumers >= 1, within=15, what="a slow-consumer kick")
        else:  # the connection reset while paused: whatever the server said is lost with it
            sim.drop()
        await until(lambda: not sim.connections(), within=15, what="the drop")
        seen: list[Event] = []
        async with asyncio.timeout(15):
            async for ev in client:
                seen.append(ev)
                if isinstance(ev, Reconnected):
                    break
    return [e for e in seen if isinstance(e, Disconnected)]


async def test_a_server_kick_while_paused_is_reported_as_slow_consumer() -> None:
    async with MassiveSimulator(
        seed=5, tick_interval=0.02, rate=400.0, slow_consumer_bytes=128 * 1024, close_timeout=0.2
    ) as sim:
        for kick in ("status", "reset"):
            drops = await _kicked_while_paused(sim, kick)
            assert len(drops) == 1 and drops[0].reason == "slow_consumer", (kick, drops)
            assert drops[0].will_reconnect


async def test_a_slow_consumers_memory_stays_at_the_byte_bound_for_a_minute() -> None:
    bound = 8 << 20
    # ~20,000 events/s against a reader of ~10,000: the queue fills in seconds, and the client
    # still reads the socket on a loaded machine (at 3x that, CI's load made the server drop it as a
    # slow consumer, and each reconnect's burst grew picows' read buffer: RSS took 6 MB steps)
    async with MassiveSimulator(seed=7, tick_interval=0.02, rate=300.0, max_connections=None) as sim:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.stream.slow_reader",
            sim.url,
            str(bound),
            str(SECONDS),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), SECONDS + 60)
    assert proc.returncode == 0
    got = json.loads(out)
    samples = got["samples"]  # (seconds, RSS, bytes queued)
    assert got["dropped"] > 0 and bound * 0.9 <= got["peak_bytes"] <= bound + (1 << 20)  # + the frame in hand
    assert samples[-1][0] >= SECONDS - 1
    full_at = next(i for i, (_, _, queued) in enumerate(samples) if queued >= bound * 0.9)
    full = [rss for _, rss, _ in samples[full_at:]]  # the queue at its bound from here on
    assert len(full) >= len(samples) // 3, f"the queue took {samples[full_at][0]} s to fill"
    # flat: whatever arrives from now on (shed at the bound) adds nothing but allocator noise. The
    # first two seconds at the bound are left out: as the queue tops out and starts shedding, the
    # heap takes one step (seen: +3.1 MB once, then flat for the rest of the minute)
    settled = full[4:]
    shown = ([r >> 20 for r in full], f"{got['disconnects']} disconnects")
    assert max(settled) - min(settled) <= 3 << 20, shown
    third = len(settled) // 3
    assert statistics.mean(settled[-third:]) - statistics.mean(settled[:third]) <= 1 << 20, shown  # no trend
