"""The simulator server base: one picows server, connection registry and fault API for every dialect.

Theory of operation
-------------------
A dialect (Massive, Polymarket US, the next one) subclasses :class:`SimulatorBase` and keeps
only its protocol:

* :meth:`~SimulatorBase._resolve`: what is served at an upgrade's URL path (an *endpoint* name
  such as ``delayed/stocks`` or ``markets``), or a 404;
* :meth:`~SimulatorBase._admit`: the connection for an accepted upgrade, or a refusal (a bad
  ``X-PM-Signature`` is a 401);
* :meth:`~SimulatorBase._on_open`, :meth:`~SimulatorBase._received`,
  :meth:`~SimulatorBase._on_close`: what a new connection is sent, what a client frame does,
  what goes when a connection ends;
* :meth:`~SimulatorBase._loops`: the background tasks that push data (ticks, heartbeats).

The base does the rest once: listening (127.0.0.1 and a free port by default, ``wss://`` with
``ssl_context``) or serving on another simulator's port (``attach_to``: ``tickwire sim`` serves
every dialect on one port), ``start``/``aclose``/``async with``/``run_in_thread``,
``stop``/``restart``, the fault API (:meth:`~SimulatorBase.drop`, :meth:`~SimulatorBase.close`,
:meth:`~SimulatorBase.mute`, :meth:`~SimulatorBase.send_raw`,
:meth:`~SimulatorBase.refuse_handshakes`, :meth:`~SimulatorBase.pause_data`...), counters and
the waits tests use. Faults select connections by endpoint: ``"stocks"`` (Massive: also
``delayed/stocks``), ``"markets"`` (Polymarket), ``None`` for all.

Every method runs on the simulator's event loop: call them from async code in that loop (faults
are plain functions, waits are coroutines), or through :meth:`~SimulatorBase.run_in_thread`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from tickwire.sim.connection import SimConnection
from tickwire.sim.faults import HandshakeGate
from tickwire.sim.observe import SimCounters

if TYPE_CHECKING:
    from tickwire.sim.thread import ThreadFacade

__all__ = ["Refusal", "RouteHandler", "SimulatorBase"]

log = logging.getLogger("tickwire.sim")

ConnT = TypeVar("ConnT", bound=SimConnection[Any])
CountersT = TypeVar("CountersT", bound=SimCounters)
InfoT = TypeVar("InfoT")

RouteHandler = Callable[[WSUpgradeRequest], WSListener | WSUpgradeResponseWithListener | None]
"""Serves another dialect's path on this port: the listener (or refusal) for an upgrade request."""

STOP_GRACE = 2.0
"""Seconds, beyond ``close_timeout``, that ``stop`` waits for connections to end."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """An upgrade answered with an HTTP error instead of ``101 Switching Protocols``."""

    status: int
    body: bytes

    @property
    def reason(self) -> str:
        return self.body.decode("utf-8", "replace")


class SimulatorBase(Generic[ConnT, CountersT, InfoT]):
    """A WebSocket server on loopback with the fault API; a dialect subclass speaks its protocol.

    :param host: interface to bind (keep the default ``127.0.0.1``).
    :param port: TCP port; ``0`` picks a free one (see :attr:`port`); ignored with ``attach_to``.
    :param counters: the dialect's counters (a :class:`~.observe.SimCounters`).
    :param close_timeout: seconds to wait for the client's close frame before aborting.
    :param max_frame_size: largest client frame accepted.
    :param socket_send_buffer: ``SO_SNDBUF`` for accepted sockets (small values make a slow
        consumer show up in the server buffer sooner); ``None`` keeps the OS default.
    :param ssl_context: serve ``wss://`` with this server context (attached: the host's applies).
    :param attach_to: serve this dialect's fixed paths on another simulator's port.
    """

    dialect: ClassVar[str] = "simulator"
    """Named in logs and reprs."""
    attach_paths: ClassVar[tuple[str, ...]] = ()
    """The exact URL paths a dialect serves when attached to another simulator's port."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        counters: CountersT,
        close_timeout: float,
        max_frame_size: int = 16 * 1024 * 1024,
        socket_send_buffer: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        attach_to: SimulatorBase[Any, Any, Any] | None = None,
    ) -> None:
        if attach_to is not None and not self.attach_paths:
            raise ValueError(f"the {self.dialect} dialect cannot be attached to another simulator")
        self.host = host
        self._port = port
        self.close_timeout = close_timeout
        self.max_frame_size = max_frame_size
        self.socket_send_buffer = socket_send_buffer
        self.ssl_context: ssl.SSLContext | None = attach_to.ssl_context if attach_to else ssl_context
        self._attached = attach_to
        self._counters = counters
        self._gate = HandshakeGate()
        self._conns: dict[int, ConnT] = {}
        self._ids = itertools.count(1)
        self._paused = False
        self._mute_new = False
        self._stopped = False
        self._server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        #: Other dialects served on this port: exact URL path → upgrade handler (see ``attach_to``).
        self.routes: dict[str, RouteHandler] = {}

    def __repr__(self) -> str:
        state = f"listening on {self.url}" if self.running else "stopped"
        return f"<{type(self).__name__} {state} connections={len(self._conns)}>"

    # ------------------------------------------------------------------ what a dialect defines

    def _resolve(self, path: str) -> str | Refusal:
        """The endpoint served at ``path`` (the full request path, query included), or a 404."""
        raise NotImplementedError

    def _admit(self, request: WSUpgradeRequest, endpoint: str) -> ConnT | Refusal:
        """The connection for an upgrade the fault gate let through, or a refusal (e.g. 401)."""
        raise NotImplementedError

    def _received(self, conn: ConnT, payload: bytes) -> None:
        """One text or binary frame from the client (not called once the connection is closing)."""
        raise NotImplementedError

    def _on_open(self, conn: ConnT) -> None:
        """A connection completed its upgrade (it is registered; ``conn.muted`` is set)."""

    def _on_close(self, conn: ConnT) -> None:
        """A connection ended (it is unregistered, its timers are cancelled)."""

    def _handshake_seen(self, request: WSUpgradeRequest, endpoint: str, status: int, reason: str) -> None:
        """Every upgrade that reached an endpoint, with its outcome (101, or the refusal's status)."""

    def _loops(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        """``(task name, coroutine)`` of the background tasks, started with the simulator."""
        return []

    def _on_resume(self) -> None:
        """Data resumes after :meth:`pause_data` (e.g. skip the paused window)."""

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        """The TCP port (the one picked, once started with ``port=0``; the host's when attached)."""
        return self._attached.port if self._attached is not None else self._port

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT`` (``wss://`` with ``ssl_context``)."""
        return f"{'wss' if self.ssl_context is not None else 'ws'}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether upgrades are being accepted (listening, or attached and not stopped)."""
        if self._attached is not None:
            return bool(self._tasks) and not self._stopped and self._attached.running
        return self._server is not None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Self:
        """Listen (or register with ``attach_to``) and start the background tasks. Returns ``self``."""
        if self._attached is None:
            self._loop = asyncio.get_running_loop()
            await self._listen(self._port)
            self._start_loops()
            return self
        return self.start_attached()

    def start_attached(self) -> Self:
        """:meth:`start` with ``attach_to``, callable from synchronous code on the running loop."""
        if self._attached is None:
            raise RuntimeError("start_attached() needs attach_to=; use start() for an own port")
        self._loop = asyncio.get_running_loop()
        self._attached.routes.update(dict.fromkeys(self.attach_paths, self._route_request))
        self._start_loops()
        return self

    async def aclose(self) -> None:
        """Stop: end every connection, stop listening (or detach) and the background tasks."""
        await self.stop()
        if self._attached is not None:
            for path in self.attach_paths:
                if self._attached.routes.get(path) == self._route_request:
                    del self._attached.routes[path]
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def run_in_thread(self) -> ThreadFacade[Self]:
        """A blocking facade running this simulator on its own event loop in a daemon thread.

        ``with Simulator(...).run_in_thread() as sim:`` starts it; leaving the block stops it.
        """
        from tickwire.sim.thread import ThreadFacade

        return ThreadFacade(self)

    async def stop(self, code: int | None = None, reason: str = "") -> None:
        """Stop accepting upgrades and end every connection: aborted (``code=None``, the client
        sees 1006) or closed with ``code`` (e.g. 1001 going away, 1012 service restart).

        Attached, upgrades are answered 503 until :meth:`restart`.
        """
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self._stopped = True
        for conn in list(self._conns.values()):
            if code is None:
                self._abort(conn)
            else:
                self._close(conn, code, reason)
        if server is not None:
            await server.wait_closed()
        await self.wait_until(lambda: not self._conns, self.close_timeout + STOP_GRACE, "connections to end")

    async def restart(self, port: int | None = None) -> None:
        """Stop (aborting connections), then accept upgrades again: on the same port by default,
        on ``port`` if given (``0`` picks a new free one; not when attached)."""
        await self.stop()
        self._stopped = False
        if self._attached is None:
            if port is not None:
                self._port = port
            await self._listen(self._port)

    async def _listen(self, port: int) -> None:
        if self._server is not None:
            return
        self._stopped = False
        server = await ws_create_server(
            self._route_request,
            self.host,
            port,
            enable_auto_pong=True,
            max_frame_size=self.max_frame_size,
            websocket_handshake_timeout=5,
            logger_name=log.name,
            ssl=self.ssl_context,
            # asyncio's own transport for TLS: aiofastnet logs a broken traceback for a refused handshake
            use_aiofastnet=False if self.ssl_context is not None else None,
        )
        self._server = server
        self._port = server.sockets[0].getsockname()[1]
        log.info("%s simulator listening on %s", self.dialect, self.url)

    def _start_loops(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(coro, name=name) for name, coro in self._loops()]

    async def _every(self, interval: float, step: Callable[[], None], what: str) -> None:
        """Run ``step`` every ``interval`` seconds on a steady schedule (missed runs are skipped)."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += interval
            delay = next_at - loop.time()
            if delay < 0:  # running late: skip the missed runs, the next one covers them
                next_at = loop.time()
                delay = 0
            await asyncio.sleep(delay)
            try:
                step()
            except Exception:
                log.exception("%s simulator: %s failed", self.dialect, what)

    # ------------------------------------------------------------------ faults

    def drop(self, endpoint: str | None = None, *, graceful: bool = False) -> int:
        """End connections without a close frame (the client sees 1006): reset them, or with
        ``graceful=True`` close the TCP stream cleanly (FIN) instead. Returns how many."""
        conns = self._select(endpoint)
        for conn in conns:
            self._counters.drops += 1
            if graceful and conn.transport is not None:
                conn.closing = True
                conn.transport.disconnect(graceful=True)
            else:
                self._abort(conn)
        return len(conns)

    def close(self, code: int = 1000, reason: str = "", endpoint: str | None = None) -> int:
        """Close connections with a proper close frame carrying ``code`` (1000, 1001, 1011...)."""
        conns = self._select(endpoint)
        for conn in conns:
            self._close(conn, code, reason)
        return len(conns)

    def mute(self, endpoint: str | None = None, *, new_connections: bool = False) -> int:
        """Send nothing more (data, replies, heartbeats) on open connections, which still answer pings.

        With ``new_connections=True`` connections opened later start muted too (not even a
        greeting is sent) until :meth:`unmute`.
        """
        conns = self._select(endpoint)
        for conn in conns:
            conn.muted = True
        if new_connections:
            self._mute_new = True
        return len(conns)

    def unmute(self, endpoint: str | None = None) -> int:
        """Undo :meth:`mute` (for new connections too)."""
        self._mute_new = False
        conns = self._select(endpoint)
        for conn in conns:
            conn.muted = False
        return len(conns)

    def send_raw(self, payload: str | bytes, endpoint: str | None = None, *, binary: bool = False) -> int:
        """Send ``payload`` as is (garbage, partial JSON, an oversize frame) as one text (or binary)
        frame, muted or not."""
        data = payload.encode() if isinstance(payload, str) else payload
        conns = self._select(endpoint)
        for conn in conns:
            self._send(conn, data, force=True, binary=binary)
        return len(conns)

    def refuse_handshakes(
        self, status: int = 503, count: int | None = None, body: bytes | None = None
    ) -> None:
        """Answer the next ``count`` upgrades (all while ``None``) with HTTP ``status`` (401, 429, 503...)."""
        self._gate.refuse(status, count, body)

    def accept_handshakes(self) -> None:
        """Accept upgrades again."""
        self._gate.accept()

    def pause_data(self) -> None:
        """Pause the data generator: nothing is produced (the gap is lost, as with the real servers)."""
        self._paused = True

    def resume_data(self) -> None:
        """Resume the data generator (from now on; nothing is replayed)."""
        self._paused = False
        self._on_resume()

    @property
    def data_paused(self) -> bool:
        return self._paused

    # ------------------------------------------------------------------ observation

    @property
    def counters(self) -> CountersT:
        """A snapshot of the running totals."""
        return self._counters.copy()

    def connections(self, endpoint: str | None = None, *, authenticated: bool | None = None) -> list[InfoT]:
        """The open connections (optionally of one endpoint, or by auth state), oldest first."""
        return [
            c.info()
            for c in self._conns.values()
            if c.open and c.matches(endpoint) and (authenticated is None or c.authenticated == authenticated)
        ]

    # ------------------------------------------------------------------ waits (coroutines)

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "a condition",
    ) -> None:
        """Wait until ``predicate()`` holds, re-checking whenever the simulator's state changes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"simulator: timed out after {timeout:g}s waiting for {what}")
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.25))
            except TimeoutError:
                pass

    async def wait_connections(
        self,
        n: int,
        endpoint: str | None = None,
        *,
        authenticated: bool = False,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[InfoT]:
        """Wait until exactly ``n`` connections are open (authenticated ones only, if asked)."""
        wanted = True if authenticated else None

        def count() -> int:
            return len(self.connections(endpoint, authenticated=wanted))

        await self.wait_until(lambda: count() == n, timeout, f"{n} connection(s) (now {count()})")
        return self.connections(endpoint, authenticated=wanted)

    async def wait_counter(
        self,
        name: str,
        n: int,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> CountersT:
        """Wait until counter ``name`` (a field of :attr:`counters`) reaches ``n``."""
        if not hasattr(self._counters, name):
            raise AttributeError(f"no counter named {name!r}")
        await self.wait_until(lambda: getattr(self._counters, name) >= n, timeout, f"counter {name} >= {n}")
        return self.counters

    async def wait_handshakes(
        self,
        n: int,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> CountersT:
        """Wait until ``n`` WebSocket upgrades have been accepted in total."""
        return await self.wait_counter("handshakes", n, timeout=timeout)

    # ------------------------------------------------------------------ internals: upgrades

    def _route_request(self, request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener | None:
        path = request.path.decode("latin-1")
        other = self.routes.get(path.split("?", 1)[0])
        if other is not None:
            return other(request)
        endpoint = self._resolve(path)
        if isinstance(endpoint, Refusal):
            return self._refuse(endpoint)
        if self._stopped:
            return self._refuse(Refusal(503, b"simulator stopped"))
        status = self._gate.take()
        if status is not None:
            self._handshake_seen(request, endpoint, status, "refused by fault injection")
            return self._refuse(Refusal(status, self._gate.body))
        admitted = self._admit(request, endpoint)
        if isinstance(admitted, Refusal):
            self._handshake_seen(request, endpoint, admitted.status, admitted.reason)
            return self._refuse(admitted)
        self._handshake_seen(request, endpoint, 101, "")
        return admitted

    def _refuse(self, refusal: Refusal) -> WSUpgradeResponseWithListener:
        self._counters.refused += 1
        self._notify()
        response = WSUpgradeResponse.create_error_response(refusal.status, refusal.body)
        return WSUpgradeResponseWithListener(response, None)

    # ------------------------------------------------------------------ internals: connections

    def _notify(self) -> None:
        """Wake every waiter: the state changed."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _select(self, endpoint: str | None) -> list[ConnT]:
        return [c for c in self._conns.values() if c.live and c.matches(endpoint)]

    def _opened(self, conn: ConnT) -> None:
        conn.open = True
        conn.muted = self._mute_new
        if self.socket_send_buffer is not None and conn.transport is not None:
            sock = conn.transport.underlying_transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.socket_send_buffer)
        self._conns[conn.id] = conn
        self._counters.handshakes += 1
        self._on_open(conn)
        self._notify()

    def _client_closed(self, conn: ConnT, frame: WSFrame) -> None:
        """The client's close frame: echo its code (the close handshake), then end the stream."""
        transport = conn.transport
        assert transport is not None
        if not transport.is_close_frame_sent:
            code = frame.get_close_code()
            if code == WSCloseCode.NO_INFO:
                code = WSCloseCode.OK
            transport.send_close(code, frame.get_close_message())
        conn.closing = True
        transport.disconnect()

    def _disconnected(self, conn: ConnT) -> None:
        conn.open = False
        conn.cancel_timers()
        if self._conns.pop(conn.id, None) is not None:
            self._counters.disconnects += 1
            self._on_close(conn)
        self._notify()

    def _send(self, conn: ConnT, data: bytes, *, force: bool = False, binary: bool = False) -> bool:
        """Send one frame now, unless the connection is gone, closing or muted (``force``: even muted)."""
        transport = conn.transport
        if transport is None or not conn.live or transport.is_close_frame_sent or (conn.muted and not force):
            return False
        transport.send(WSMsgType.BINARY if binary else WSMsgType.TEXT, data)
        conn.frames_sent += 1
        conn.bytes_sent += len(data)
        return True

    def _close(self, conn: ConnT, code: int, reason: str) -> None:
        """Send a close frame; abort if the client has not completed the handshake after ``close_timeout``."""
        transport = conn.transport
        if transport is None or not conn.live:
            return
        conn.closing = True
        transport.send_close(WSCloseCode(code), reason.encode())
        conn.close_timer = asyncio.get_running_loop().call_later(self.close_timeout, self._abort, conn)
        self._notify()

    def _abort(self, conn: ConnT) -> None:
        if conn.transport is not None and conn.open:
            conn.closing = True
            conn.transport.disconnect(graceful=False)
