"""One gateway client connection: picows callbacks forwarded to the :class:`~tickwire.gateway.server.Gateway`,
its :class:`~tickwire.gateway.session.ClientSession` and what was sent to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
from picows import WSFrame, WSListener, WSMsgType, WSTransport

from tickwire.events import Status
from tickwire.gateway.observe import ClientInfo
from tickwire.gateway.session import ClientSession

if TYPE_CHECKING:
    from tickwire.gateway.server import Gateway

__all__ = ["Client", "status_frame"]

_STATUS_ENCODER = msgspec.json.Encoder()


def status_frame(*statuses: tuple[str, str]) -> bytes:
    """``[{"ev":"status","status":s,"message":m}, ...]``."""
    return _STATUS_ENCODER.encode([Status(status=s, message=m) for s, m in statuses])


class Client(WSListener):
    """One client connection: picows callbacks forwarded to the gateway, plus its counts."""

    def __init__(self, gateway: Gateway, client_id: int) -> None:
        super().__init__()
        self.gateway = gateway
        self.id = client_id
        self.session = ClientSession(gateway.market, gateway.tokens)
        self.transport: WSTransport | None = None
        self.buffered: Callable[[], int] = _zero
        self.peer = "?"
        self.open = False
        self.closing = False
        self.connected_at = time.time()
        self.events_sent = 0
        self.frames_sent = 0
        self.bytes_sent = 0
        self.auth_timer: asyncio.TimerHandle | None = None
        self.close_timer: asyncio.TimerHandle | None = None
        self.reason = "client_closed"

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        under = transport.underlying_transport
        self.buffered = under.get_write_buffer_size
        peer = under.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        self.gateway._opened(self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.TEXT or kind == WSMsgType.BINARY:
            if not self.closing:
                self.gateway._received(self, frame.get_payload_as_bytes())
        elif kind == WSMsgType.CLOSE:
            self.gateway._client_closed(self, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.gateway._disconnected(self)

    def info(self) -> ClientInfo:
        return ClientInfo(
            id=self.id,
            peer=self.peer,
            authenticated=self.session.authenticated,
            channels=frozenset(self.session.channels),
            events_sent=self.events_sent,
            frames_sent=self.frames_sent,
            bytes_sent=self.bytes_sent,
            buffered=self.buffered() if self.open else 0,
            connected_at=self.connected_at,
            closing=self.closing,
        )

    def __repr__(self) -> str:
        return f"<gateway client #{self.id} {self.peer} auth={self.session.authenticated}>"


def _zero() -> int:
    return 0
