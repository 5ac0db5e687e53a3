"""A small Alpaca stream server on loopback for the client tests, written from the spec (§B).

It greets with ``success/connected``, takes ``auth`` (or the header keys), answers ``subscribe`` /
``unsubscribe`` with the full set (``corrections``/``cancelErrors`` following ``trades``), speaks
msgpack when the upgrade says ``Content-Type: application/msgpack`` (reading requests of either
frame type) and can be told to send any frame or error. Until the simulator's Alpaca dialect is in
the tree, this is what the loopback tests run against.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from picows import (
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

KEY_ID = "sim-key-id"
SECRET = "sim-secret"
CHANNELS = (
    "trades",
    "quotes",
    "bars",
    "updatedBars",
    "dailyBars",
    "statuses",
    "lulds",
    "imbalances",
    "orderbooks",
    "news",
)
WITHIN = 10.0


class Conn(WSListener):
    def __init__(self, server: FakeAlpaca, headers: dict[str, str]) -> None:
        self.server = server
        self.headers = headers
        self.msgpack = headers.get("content-type", "") == "application/msgpack"
        self.transport: WSTransport | None = None
        self.requests: list[dict[str, Any]] = []
        self.request_types: list[WSMsgType] = []
        self.authed = False
        self.subs: dict[str, list[str]] = {c: [] for c in CHANNELS}
        self.gone = asyncio.Event()
        self.got = asyncio.Event()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.server.conns.append(self)
        self.server.accepted.put_nowait(self)
        self.send([{"T": "success", "msg": "connected"}])
        header_key = self.headers.get("apca-api-key-id")
        if header_key is not None:
            if header_key == KEY_ID and self.headers.get("apca-api-secret-key") == SECRET:
                self.authed = True
                self.send([{"T": "success", "msg": "authenticated"}])
            else:
                self.send([{"T": "error", "code": 402, "msg": "auth failed"}])

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        mt = frame.msg_type
        if mt is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if mt not in (WSMsgType.TEXT, WSMsgType.BINARY):
            return
        data = frame.get_payload_as_bytes()
        try:
            msg = msgspec.msgpack.decode(data) if data[:1] not in (b"{", b"[") else msgspec.json.decode(data)
        except msgspec.DecodeError:
            self.send([{"T": "error", "code": 400, "msg": "invalid syntax"}])
            return
        self.requests.append(msg)
        self.request_types.append(mt)
        self.got.set()
        action = msg.get("action")
        scripted = self.server.replies.pop(action, None) if isinstance(action, str) else None
        if scripted is not None:
            self.send(scripted)
            return
        if action == "auth":
            if self.authed:
                self.send([{"T": "error", "code": 403, "msg": "already authenticated"}])
            elif msg.get("key") == KEY_ID and msg.get("secret") == SECRET:
                self.authed = True
                self.send([{"T": "success", "msg": "authenticated"}])
            else:
                self.send([{"T": "error", "code": 402, "msg": "auth failed"}])
        elif action in ("subscribe", "unsubscribe"):
            if not self.authed:
                self.send([{"T": "error", "code": 401, "msg": "not authenticated"}])
                return
            for ch in CHANNELS:
                for sym in msg.get(ch, ()):
                    have = self.subs[ch]
                    if action == "subscribe" and sym not in have and sym not in self.server.refused:
                        have.append(sym)
                    elif action == "unsubscribe" and sym in have:
                        have.remove(sym)
            ack: dict[str, Any] = {"T": "subscription", **{c: list(v) for c, v in self.subs.items()}}
            ack["corrections"] = list(self.subs["trades"])
            ack["cancelErrors"] = list(self.subs["trades"])
            self.send([ack])
        else:
            self.send([{"T": "error", "code": 400, "msg": "invalid syntax"}])

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.gone.set()

    def send(self, items: list[dict[str, Any]] | bytes) -> None:
        assert self.transport is not None
        if isinstance(items, bytes):
            self.transport.send(WSMsgType.BINARY if self.msgpack else WSMsgType.TEXT, items)
        elif self.msgpack:
            self.transport.send(WSMsgType.BINARY, msgspec.msgpack.encode(items))
        else:
            self.transport.send(WSMsgType.TEXT, msgspec.json.encode(items))

    def drop(self) -> None:
        assert self.transport is not None
        self.transport.disconnect(graceful=False)

    async def next_request(self, n: int) -> dict[str, Any]:
        """The ``n``-th request (0-based) of this connection, once it came."""
        async with asyncio.timeout(WITHIN):
            while len(self.requests) <= n:
                self.got.clear()
                await self.got.wait()
        return self.requests[n]


class FakeAlpaca:
    """Server on 127.0.0.1: ``url_for("/v2/test")``; ``accepted`` yields each connection."""

    def __init__(self) -> None:
        self.conns: list[Conn] = []
        self.accepted: asyncio.Queue[Conn] = asyncio.Queue()
        self.replies: dict[str, list[dict[str, Any]]] = {}  # next request of this action → this reply
        self.refused: set[str] = set()  # symbols left out of acks
        self.refuse_upgrade: list[int] = []
        self.paths: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    def url_for(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakeAlpaca:
        self._server = await ws_create_server(self._route, "127.0.0.1", 0, max_frame_size=1 << 22)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for c in self.conns:
            if c.transport is not None and not c.gone.is_set():
                c.drop()
        await asyncio.wait_for(self._server.wait_closed(), WITHIN)

    def _route(self, request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener:
        self.paths.append(request.path.decode() if isinstance(request.path, bytes) else str(request.path))
        if self.refuse_upgrade:
            status = self.refuse_upgrade.pop(0)
            return WSUpgradeResponseWithListener(
                WSUpgradeResponse.create_error_response(status, b"refused"), None
            )
        headers = {k.lower(): v for k, v in request.headers.items()}
        return Conn(self, headers)

    async def connection(self) -> Conn:
        return await asyncio.wait_for(self.accepted.get(), WITHIN)
