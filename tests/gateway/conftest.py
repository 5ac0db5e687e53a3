"""Fixtures: a fast simulator, and a gateway holding one connection to it (short timeouts everywhere)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tickwire import AsyncStreamClient, Backoff
from tickwire.events import Event
from tickwire.gateway import Gateway, MassiveUpstream
from tickwire.massive.tables import symbol_of
from tickwire.sim import MassiveSimulator


@pytest.fixture
async def sim() -> AsyncIterator[MassiveSimulator]:
    async with MassiveSimulator(
        seed=5, tick_interval=0.02, rate=20.0, auth_timeout=3.0, close_timeout=0.5
    ) as s:
        yield s


def upstream_for(
    sim: MassiveSimulator, market: str = "stocks", *, delayed: bool = False, key: str = "k"
) -> MassiveUpstream:
    return MassiveUpstream(
        sim.url_for(market, delayed=delayed),
        key,
        market,
        backoff=Backoff(base=0.02, cap=0.1, seed=1),
        ping_interval=1.0,
        ping_timeout=2.0,
        max_connections_cooldown=0.5,
    )


async def start_gateway(sim: MassiveSimulator, **options: Any) -> Gateway:
    upstream = options.pop("upstream", None) or upstream_for(sim)
    settings: dict[str, Any] = {"auth_timeout": 3.0, "close_timeout": 2.0, "ping_interval": None}
    settings.update(options)
    return await Gateway(upstream, **settings).start()


@pytest.fixture
async def gateway(sim: MassiveSimulator) -> AsyncIterator[Gateway]:
    gw = await start_gateway(sim)
    try:
        yield gw
    finally:
        await gw.aclose()


def tw_client(gw: Gateway, *channels: str, token: str = "local-token") -> AsyncStreamClient:
    """A tickwire client of the gateway, with short timeouts."""
    return AsyncStreamClient(
        token,
        "stocks",
        url=gw.url,
        subscriptions=channels,
        backoff=Backoff(base=0.02, cap=0.1, seed=2),
        ping_interval=1.0,
        ping_timeout=2.0,
        stale_timeout=None,
        dotenv_path=None,
    )


class Collector:
    """Reads a tickwire client in a task: every data event as ``(ev, symbol)`` and the event itself."""

    def __init__(self, client: AsyncStreamClient) -> None:
        self.client = client
        self.events: list[Event] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for ev in self.client:
            if symbol_of(ev) is not None:
                self.events.append(ev)

    def channels_seen(self) -> set[str]:
        return {f"{e.event_type}.{symbol_of(e)}" for e in self.events}

    def has_all(self, wanted: set[str]) -> bool:
        """At least one event of every channel in ``wanted`` (a wildcard: of any ticker)."""
        seen = self.channels_seen()
        return all(
            c in seen or (c.endswith(".*") and any(s.startswith(c[:-1]) for s in seen)) for c in wanted
        )

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()


def outside(seen: set[str], wanted: set[str]) -> set[str]:
    """The channels in ``seen`` that ``wanted`` (exact channels and ``X.*`` wildcards) does not cover."""
    wild = {c.split(".", 1)[0] for c in wanted if c.endswith(".*")}
    return {c for c in seen if c not in wanted and c.split(".", 1)[0] not in wild}
