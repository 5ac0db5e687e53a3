"""Serve a recorded journal through the Massive dialect: yesterday's session, as if live.

Theory of operation
-------------------
:class:`JournalReplayer` is a picows server speaking the same protocol as the simulator
(``connected``, ``auth``, ``subscribe``, statuses; the simulator's :class:`~.protocol.ServerSession`),
so any client, ours or an official SDK, consumes a recording unmodified. After a connection's
first subscription, a task sends it the journal's received data frames in order, at the
recorded pace divided by ``speed`` (``None``: as fast as the socket takes them, with TCP
backpressure). Recorded status frames are not replayed (the replayer answers for itself), and
events are filtered by the connection's subscriptions (``T.AAPL``, ``T.*``); a frame whose events
all match is sent byte for byte as recorded. When the journal ends the connection stays open
(``close_at_end`` closes it with 1000).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec
from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    ws_create_server,
)

from tickwire.journal import FRAME, read_records
from tickwire.sim.channels import parse_route
from tickwire.sim.protocol import CONNECTED, AuthPolicy, ServerSession
from tickwire.sim.wire import encode_statuses, status_frame

__all__ = ["JournalReplayer"]

log = logging.getLogger("tickwire.sim.replay")

_split = msgspec.json.Decoder(list[msgspec.Raw]).decode


class _Key(msgspec.Struct):
    ev: str = ""
    sym: str | None = None
    pair: str | None = None
    T: str | None = None
    p: Any = None


_key = msgspec.json.Decoder(_Key).decode


def _ticker(k: _Key) -> str | None:
    if k.sym is not None:
        return k.sym
    if k.pair is not None:
        return k.pair
    if k.T is not None:
        return k.T
    return k.p if isinstance(k.p, str) else None


class _Conn(WSListener):
    def __init__(self, server: JournalReplayer, session: ServerSession) -> None:
        super().__init__()
        self.server = server
        self.session = session
        self.transport: WSTransport | None = None
        self.task: asyncio.Task[None] | None = None
        self.writable = asyncio.Event()
        self.writable.set()
        self.subs: frozenset[str] = frozenset()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.server._conns.add(self)
        transport.send(WSMsgType.TEXT, status_frame(*CONNECTED))

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        mt = frame.msg_type
        if mt == WSMsgType.CLOSE:
            with contextlib.suppress(Exception):
                transport.send_close(WSCloseCode.OK)
            transport.disconnect()
            return
        if mt not in (WSMsgType.TEXT, WSMsgType.BINARY):
            return
        out = self.session.handle(frame.get_payload_as_bytes())
        if out.replies:
            transport.send(WSMsgType.TEXT, encode_statuses(*out.replies))
        if out.close_code is not None:
            transport.send_close(WSCloseCode(out.close_code))
            transport.disconnect()
            return
        self.subs = frozenset(self.session.subscriptions)
        if self.subs and self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.server._stream(self))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.server._conns.discard(self)
        self.writable.set()
        if self.task is not None:
            self.task.cancel()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()


class JournalReplayer:
    """Replays ``journal`` (a directory or one segment) to every client that connects and subscribes.

    :param speed: 1 = recorded pace, 10 = ten times faster, ``None`` = as fast as possible.
    :param market: cluster path served (default: the journal's recorded market).
    """

    def __init__(
        self,
        journal: str | os.PathLike[str],
        *,
        speed: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        market: str | None = None,
        valid_keys: list[str] | None = None,
        close_at_end: bool = False,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be > 0 (or None for as fast as possible)")
        from tickwire.journal import journal_meta

        self.journal = Path(journal)
        if not self.journal.exists():
            raise FileNotFoundError(f"no journal at {self.journal}")
        self.speed = speed
        self.host = host
        self.port = port
        self.market = market or str(journal_meta(self.journal).get("market") or "stocks")
        self.close_at_end = close_at_end
        self._policy = AuthPolicy.from_keys(valid_keys)
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[_Conn] = set()
        self.frames_sent = 0
        self.events_sent = 0
        self.finished = 0
        self._done = asyncio.Event()

    @property
    def url(self) -> str:
        """``ws://host:port/<market>``."""
        return f"ws://{self.host}:{self.port}/{self.market}"

    @property
    def feed_host(self) -> str:
        """``host:port``, the ``feed`` for the official clients."""
        return f"{self.host}:{self.port}"

    async def start(self) -> JournalReplayer:
        def route(request: WSUpgradeRequest) -> WSListener | None:
            r = parse_route(request.path.decode("latin-1"))
            if r is None or r.market != self.market:
                return None
            return _Conn(self, ServerSession(r, self._policy))

        self._server = await ws_create_server(route, self.host, self.port, enable_auto_pong=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def aclose(self) -> None:
        server, self._server = self._server, None
        for conn in list(self._conns):
            if conn.transport is not None:
                conn.transport.disconnect(graceful=False)
        if server is not None:
            server.close()
            await server.wait_closed()

    async def __aenter__(self) -> JournalReplayer:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def wait_finished(self, n: int = 1, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Wait until ``n`` connections have been sent the whole journal."""
        async with asyncio.timeout(timeout):
            while self.finished < n:
                self._done.clear()
                await self._done.wait()

    async def _stream(self, conn: _Conn) -> None:
        transport = conn.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        speed = self.speed
        t0: int | None = None
        w0 = loop.time()
        n = 0
        try:
            for rec in read_records(self.journal, frames_only=True):
                if rec.kind != FRAME:
                    continue
                payload, count = self._filter(rec.data, conn.subs)
                if payload is None:
                    continue
                if speed is not None:
                    if t0 is None:
                        t0, w0 = rec.recv_ns, loop.time()
                    delay = w0 + (rec.recv_ns - t0) / 1e9 / speed - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if not conn.writable.is_set():
                    await conn.writable.wait()
                if transport.is_disconnected:
                    return
                transport.send(WSMsgType.TEXT, payload)
                self.frames_sent += 1
                self.events_sent += count
                n += 1
                if n % 256 == 0:
                    await asyncio.sleep(0)
            self.finished += 1
            self._done.set()
            log.info("replay: journal sent (%d frames)", n)
            if self.close_at_end:
                transport.send_close(WSCloseCode.OK)
                transport.disconnect()
        except asyncio.CancelledError:
            return

    @staticmethod
    def _filter(frame: bytes, subs: frozenset[str]) -> tuple[bytes | None, int]:
        """The frame's events that ``subs`` wants (the frame itself if all do); statuses never."""
        try:
            raws = _split(frame)
        except (ValueError, RecursionError):  # not an array, invalid UTF-8, nested too deep
            return None, 0
        kept: list[msgspec.Raw] = []
        for raw in raws:
            try:
                k = _key(raw)
            except (ValueError, RecursionError):
                continue
            if k.ev == "status" or not k.ev:
                continue
            if f"{k.ev}.*" in subs or f"{k.ev}.{_ticker(k)}" in subs:
                kept.append(raw)
        if not kept:
            return None, 0
        if len(kept) == len(raws):
            return frame, len(kept)
        return b"[" + b",".join(bytes(r) for r in kept) + b"]", len(kept)
