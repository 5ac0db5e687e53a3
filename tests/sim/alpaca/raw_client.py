"""A bare Alpaca stream client for the simulator tests: frames exactly as the server sent them."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Encoding = Literal["json", "msgpack"]


class RawAlpaca:
    """One connection: ``await send({...})``, ``await recv()`` → the decoded array (``t`` as sent)."""

    def __init__(self, ws: ClientConnection, encoding: Encoding) -> None:
        self.ws = ws
        self.encoding = encoding
        self.raw: list[bytes | str] = []

    @classmethod
    async def open(
        cls,
        url: str,
        encoding: Encoding = "json",
        headers: dict[str, str] | None = None,
        *,
        max_queue: int = 16,
    ) -> RawAlpaca:
        """Connect (``max_queue`` frames buffered before the client stops reading the socket)."""
        extra = dict(headers or {})
        if encoding == "msgpack":
            extra["Content-Type"] = "application/msgpack"
        ws = await connect(
            url, additional_headers=extra, open_timeout=5, compression=None, max_queue=max_queue
        )
        return cls(ws, encoding)

    async def send(self, message: dict[str, Any]) -> None:
        if self.encoding == "msgpack":
            await self.ws.send(msgspec.msgpack.encode(message))
        else:
            await self.ws.send(msgspec.json.encode(message).decode())

    async def recv_raw(self, timeout: float = 5.0) -> bytes | str:  # noqa: ASYNC109
        data = await asyncio.wait_for(self.ws.recv(), timeout)
        self.raw.append(data)
        return data

    async def recv(self, timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        data = await self.recv_raw(timeout)
        if self.encoding == "msgpack":
            assert isinstance(data, bytes), "msgpack mode must use binary frames"
            decoded = msgspec.msgpack.decode(data)
        else:
            assert isinstance(data, str), "JSON mode must use text frames"
            decoded = msgspec.json.decode(data)
        assert isinstance(decoded, list), f"every frame is an array, got {decoded!r}"
        return decoded

    async def recv_until(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The first item with ``T == kind`` (skipping others)."""
        async with asyncio.timeout(timeout):
            while True:
                for item in await self.recv(timeout):
                    if item.get("T") == kind:
                        return item

    async def login(self, key: str, secret: str) -> list[dict[str, Any]]:
        """Read ``connected``, authenticate, return the answer."""
        assert await self.recv() == [{"T": "success", "msg": "connected"}]
        await self.send({"action": "auth", "key": key, "secret": secret})
        return await self.recv()

    async def closed(self, timeout: float = 5.0) -> int | None:  # noqa: ASYNC109
        """Wait for the server to close; its close code."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self.raw.append(await self.ws.recv())
        except ConnectionClosed:
            pass
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
