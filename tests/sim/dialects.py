"""One raw client per simulator dialect, behind the same small interface, so the fault API tests run on both.

A :class:`Dialect` connects a plain ``websockets`` client the way that protocol wants (Massive: read
``connected``, send ``auth``; Polymarket US: sign the upgrade with the test key), subscribes so
that data flows, and tells data frames from the rest (statuses, heartbeats, errors).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tickwire.polymarket_us.signing import Credentials, Signer
from tickwire.sim import MassiveSimulator
from tickwire.sim.base import SimulatorBase
from tickwire.sim.polymarket import SIM_KEY_ID, SIM_SECRET_KEY, PolymarketSimulator

Frame = str | bytes

SIGNER = Signer(Credentials.resolve(SIM_KEY_ID, SIM_SECRET_KEY, dotenv_path=None))


def pm_headers(path: str, signer: Signer = SIGNER) -> dict[str, str]:
    """The signed ``X-PM-*`` headers for an upgrade to ``path`` now."""
    return signer.headers(time.time(), "GET", path)


@dataclass
class Dialect:
    """A running simulator of one dialect and how a raw client speaks to it."""

    name: str
    sim: SimulatorBase[Any, Any, Any]
    endpoint: str
    """What the fault API is pointed at (``stocks``, ``markets``)."""
    other: str
    """Another endpoint of the same simulator (``crypto``, ``private``)."""

    def url(self, endpoint: str | None = None) -> str:
        sim = self.sim
        if isinstance(sim, MassiveSimulator):
            return sim.url_for(endpoint or self.endpoint)
        assert isinstance(sim, PolymarketSimulator)
        return sim.url_for(endpoint or self.endpoint)

    async def open(self, endpoint: str | None = None, **kwargs: Any) -> ClientConnection:
        """The upgrade alone (Polymarket: signed), nothing read or sent yet."""
        url = self.url(endpoint)
        if isinstance(self.sim, PolymarketSimulator):
            kwargs["additional_headers"] = pm_headers("/" + url.split("/", 3)[3])
        return await connect(url, open_timeout=5, close_timeout=1, **kwargs)

    async def connect(self, endpoint: str | None = None, **kwargs: Any) -> ClientConnection:
        """A connection ready for subscriptions (Massive: ``connected`` read, authenticated)."""
        ws = await self.open(endpoint, **kwargs)
        if isinstance(self.sim, MassiveSimulator):
            assert "connected" in str(await asyncio.wait_for(ws.recv(), 3))
            await self.prove_alive(ws)
        return ws

    async def prove_alive(self, ws: ClientConnection) -> None:
        """One request and its answer (Massive: auth; Polymarket: a book snapshot)."""
        if isinstance(self.sim, MassiveSimulator):
            await ws.send('{"action":"auth","params":"k"}')
            assert "auth_success" in str(await asyncio.wait_for(ws.recv(), 3))
        else:
            await ws.send(self._pm_subscribe("alive", self.sim.markets[:1]))
            await next_matching(ws, self.is_data)

    async def subscribe(self, ws: ClientConnection) -> None:
        """Subscribe to enough that data flows every tick."""
        if isinstance(self.sim, MassiveSimulator):
            await ws.send('{"action":"subscribe","params":"T.*,Q.*"}')
        else:
            await ws.send(self._pm_subscribe("md", self.sim.markets[:3]))
        await next_matching(ws, self.is_data)

    def is_data(self, frame: Frame) -> bool:
        """A market data frame (not a status, heartbeat, error, or a raw frame a test sent)."""
        try:
            data = json.loads(frame)
        except ValueError:
            return False
        if isinstance(self.sim, MassiveSimulator):
            return isinstance(data, list) and any(e.get("ev") != "status" for e in data)
        return isinstance(data, dict) and "marketData" in data

    def is_heartbeat(self, frame: Frame) -> bool:
        return frame == '{"heartbeat":{}}'

    @staticmethod
    def _pm_subscribe(rid: str, slugs: list[str]) -> str:
        return json.dumps(
            {
                "subscribe": {
                    "requestId": rid,
                    "subscriptionType": "SUBSCRIPTION_TYPE_MARKET_DATA",
                    "marketSlugs": slugs,
                }
            }
        )


async def next_matching(ws: ClientConnection, pred: Callable[[Frame], bool], within: float = 5.0) -> Frame:
    """The next frame for which ``pred`` holds (others are skipped)."""
    async with asyncio.timeout(within):
        while True:
            frame = await ws.recv()
            if pred(frame):
                return frame


async def frames_between_markers(dialect: Dialect, ws: ClientConnection, ticks: int = 5) -> list[Frame]:
    """What ``ws`` receives between two raw marker frames sent ``ticks`` simulator ticks apart.

    ``send_raw`` gets through mute and pause, so everything the client reads between the markers was
    sent in that window: a test can prove that *nothing* of a kind was sent, without a timed wait.
    """
    sim = dialect.sim
    assert sim.send_raw("marker-1", dialect.endpoint) == 1
    await next_matching(ws, lambda f: f == "marker-1")
    await sim.wait_counter("ticks", sim.counters.ticks + ticks)
    assert sim.send_raw("marker-2", dialect.endpoint) == 1
    seen: list[Frame] = []
    async with asyncio.timeout(5):
        while (frame := await ws.recv()) != "marker-2":
            seen.append(frame)
    return seen
