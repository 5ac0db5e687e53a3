"""Run the simulator as a service: what ``tickwire sim`` calls.

:func:`serve` runs until cancelled (use it inside an existing event loop, e.g. next to a
client for ``tickwire stream --sim``); :func:`run_sim` is the blocking entry point that also
handles Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from tickwire.sim.channels import MARKETS
from tickwire.sim.market import Rates
from tickwire.sim.server import MassiveSimulator

__all__ = ["describe", "run_sim", "serve"]


def describe(sim: MassiveSimulator) -> list[str]:
    """The lines announcing a running simulator and its URLs."""
    lines = [f"Massive simulator (seed {sim.seed}) listening on {sim.url}"]
    lines += [f"  {sim.url_for(m)}   (delayed: {sim.url_for(m, delayed=True)})" for m in MARKETS]
    secure = sim.ssl_context is not None
    lines.append(f"  official client: WebSocketClient(feed={sim.feed_host!r}, market=..., secure={secure})")
    if sim.rest is not None:
        lines.append(f"  REST API: {sim.rest_url}   (RestClient(base_url={sim.rest_url!r}))")
    return lines


async def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = 0,
    *,
    rate: float | Rates = 2.0,
    tick_interval: float = 0.05,
    announce: Callable[[str], Any] | None = print,
    started: Callable[[MassiveSimulator], Any] | None = None,
    **options: Any,
) -> None:
    """Run a :class:`MassiveSimulator` until cancelled, announcing its URLs through ``announce``.

    ``options`` are passed to :class:`MassiveSimulator` (``valid_keys``, ``max_connections``,
    ``delay``...). ``started`` is called with the running simulator (to point a client at it).
    """
    async with MassiveSimulator(seed, host, port, rate=rate, tick_interval=tick_interval, **options) as sim:
        if announce is not None:
            for line in describe(sim):
                announce(line)
        if started is not None:
            started(sim)
        await asyncio.Event().wait()


def run_sim(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = 0,
    *,
    rate: float | Rates = 2.0,
    tick_interval: float = 0.05,
    announce: Callable[[str], Any] | None = print,
    **options: Any,
) -> None:
    """Blocking: run the simulator until Ctrl-C (then stop cleanly)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(host, port, seed, rate=rate, tick_interval=tick_interval, announce=announce, **options)
        )
