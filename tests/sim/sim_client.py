"""A small raw Massive client for the simulator tests: JSON frames in, lists of dicts out, real sockets."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

Event = dict[str, Any]


class RawClient:
    """A thin Massive client for tests: JSON frames in, lists of dicts out."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def send(self, action: str, params: str) -> None:
        await self.ws.send(json.dumps({"action": action, "params": params}))

    async def recv(self, within: float = 3.0) -> list[Event]:
        frame = await asyncio.wait_for(self.ws.recv(), within)
        data = json.loads(frame)
        assert isinstance(data, list), f"server frames must be JSON arrays: {frame!r}"
        return data

    async def statuses(self, within: float = 3.0) -> list[Event]:
        """The next frame holding statuses (data frames before it are skipped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            found = [e for e in frame if e.get("ev") == "status"]
            if found:
                return found

    async def auth(self, key: str = "k") -> Event:
        await self.send("auth", key)
        (status,) = await self.statuses()
        return status

    async def subscribe(self, params: str) -> list[Event]:
        await self.send("subscribe", params)
        return await self.statuses()

    async def collect(
        self, until: Callable[[list[Event]], bool], within: float = 5.0, ev: set[str] | None = None
    ) -> list[Event]:
        """Data events (optionally of types ``ev``) until ``until(events)`` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        events: list[Event] = []
        while not until(events):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"collected {len(events)} events without meeting the condition")
            for e in await self.recv(remaining):
                if e.get("ev") != "status" and (ev is None or e["ev"] in ev):
                    events.append(e)
        return events


async def open_client(
    url: str, key: str | None = "k", *, subscribe: str | None = None, rcvbuf: int | None = None, **kwargs: Any
) -> RawClient:
    """Connect, check ``connected``, and optionally authenticate and subscribe."""
    sock = None
    if rcvbuf is not None:
        host_port = url.split("//", 1)[1].split("/", 1)[0]
        host, port = host_port.rsplit(":", 1)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        kwargs["sock"] = sock
    ws = await connect(url, open_timeout=5, close_timeout=1, **kwargs)
    client = RawClient(ws)
    first = await client.recv()
    assert first == [{"ev": "status", "status": "connected", "message": "Connected Successfully"}]
    if key is not None:
        status = await client.auth(key)
        assert status["status"] == "auth_success", status
    if subscribe is not None:
        for status in await client.subscribe(subscribe):
            assert status["status"] == "success", status
    return client
