"""One client connection of any simulator dialect: picows callbacks plus the state the fault API needs.

A dialect subclasses :class:`SimConnection` with its protocol state (a Massive session, a
Polymarket key and subscriptions) and its :meth:`~SimConnection.info` snapshot; the callbacks
forward to the simulator (:class:`~tickwire.sim.base.SimulatorBase`), which owns the registry.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from picows import WSFrame, WSListener, WSMsgType, WSTransport

if TYPE_CHECKING:
    from tickwire.sim.base import SimulatorBase

__all__ = ["SimConnection"]

InfoT = TypeVar("InfoT")


class SimConnection(WSListener, Generic[InfoT]):
    """A live connection: its endpoint, fault flags (muted, closing), counts and timers.

    ``endpoint`` names what the connection is connected to in the dialect's terms (a Massive
    cluster path such as ``delayed/stocks``, a Polymarket socket such as ``markets``); the fault
    API selects connections by it through :meth:`matches`.
    """

    def __init__(self, sim: SimulatorBase[Any, Any, InfoT], endpoint: str, conn_id: int) -> None:
        super().__init__()
        self.sim = sim
        self.endpoint = endpoint
        self.id = conn_id
        self.transport: WSTransport | None = None
        self.open = False
        self.closing = False
        self.muted = False
        self.connected_at = time.time()
        self.frames_sent = 0
        self.bytes_sent = 0
        self.close_timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None
        """A per-connection sender (a journal replay), cancelled when the connection ends."""
        self.writable = asyncio.Event()
        """Cleared while the transport's write buffer is over its high-water mark."""
        self.writable.set()

    # ------------------------------------------------------------------ what a dialect defines

    @property
    def authenticated(self) -> bool:
        """Whether the client has authenticated (dialects that authenticate at the upgrade: always)."""
        return True

    def info(self) -> InfoT:
        """An immutable snapshot for tests (never a key or a secret)."""
        raise NotImplementedError

    def matches(self, endpoint: str | None) -> bool:
        """Whether the fault API's ``endpoint`` selector picks this connection (``None``: all)."""
        return endpoint is None or endpoint == self.endpoint

    def cancel_timers(self) -> None:
        """Stop everything scheduled for this connection (called once it is gone)."""
        if self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = None
        if self.task is not None:
            self.task.cancel()
            self.task = None

    @property
    def live(self) -> bool:
        """Open and not on its way out: what faults and data apply to."""
        return self.open and not self.closing

    # ------------------------------------------------------------------ picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.sim._opened(self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type == WSMsgType.TEXT or msg_type == WSMsgType.BINARY:
            if not self.closing:
                self.sim._received(self, frame.get_payload_as_bytes())
        elif msg_type == WSMsgType.CLOSE:
            self.sim._client_closed(self, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.writable.set()
        self.sim._disconnected(self)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def __repr__(self) -> str:
        return f"<{type(self.sim).__name__} connection #{self.id} {self.endpoint}>"
