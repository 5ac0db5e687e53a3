"""The Massive exchange simulator: a picows WebSocket server speaking the Massive dialect on loopback.

Theory of operation
-------------------
:class:`MassiveSimulator` listens on ``host:port`` (127.0.0.1 and a random port by default) and
serves every cluster path of polygon.md §1.1, real-time at ``/<cluster>`` and 15 minutes
delayed at ``/delayed/<cluster>``. Each connection gets a :class:`~.protocol.ServerSession`
(auth, subscriptions, statuses); a single tick task (every ``tick_interval`` seconds) asks each
route's :class:`~.feed.RouteFeed` for the events of the last window, encodes them once and
sends each subscriber its frames, shared between connections with equal subscriptions.

Server-side policies match the real service: ``max_connections`` per (key, cluster path) evicts
the *older* connection with a ``max_connections`` status and close code 1008; a connection whose
write buffer exceeds ``slow_consumer_bytes`` is sent ``slow_consumer`` and closed (aborted if
it does not complete the close handshake within ``close_timeout``).

Every fault and observation method runs on the simulator's event loop: call them from async
code in that loop (the fault methods are plain functions, the waits are coroutines), or use
:meth:`MassiveSimulator.run_in_thread` for a blocking facade usable from synchronous code.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from tickwire.sim.channels import MARKETS, Route, parse_route, split_channel
from tickwire.sim.faults import HandshakeGate
from tickwire.sim.feed import RouteFeed, Selection, assemble_frames
from tickwire.sim.instruments import Universe
from tickwire.sim.market import Bar, MarketModel, Quote, Rates, Trade
from tickwire.sim.observe import ActionRecord, ConnectionInfo, Counters
from tickwire.sim.protocol import AUTH_TIMEOUT, CONNECTED, MAX_CONNECTIONS, AuthPolicy, ServerSession
from tickwire.sim.wire import encode_statuses, status_frame

if TYPE_CHECKING:
    from tickwire.sim.rest import RestOptions, SimRestServer
    from tickwire.sim.thread import SimulatorThread

__all__ = ["MassiveSimulator"]

log = logging.getLogger("tickwire.sim")

RouteHandler = Callable[[WSUpgradeRequest], WSListener | WSUpgradeResponseWithListener | None]
"""Serves another dialect's path: the listener (or refusal) for an upgrade request."""

SLOW_CONSUMER_CLOSE_CODE = 1000
"""The official client treats the close after ``slow_consumer`` as a normal one (polygon.md §1.6)."""


class _Connection(WSListener):
    """One client connection: picows callbacks forwarded to the simulator, plus per-connection state."""

    def __init__(self, sim: MassiveSimulator, route: Route, conn_id: int) -> None:
        super().__init__()
        self.sim = sim
        self.route = route
        self.id = conn_id
        self.transport: WSTransport | None = None
        self.session = ServerSession(route, sim._policy, option_quote_limit=sim.option_quote_limit)
        self.open = False
        self.closing = False
        self.muted = False
        self.connected_at = time.time()
        self.auth_order = 0
        self.auth_timer: asyncio.TimerHandle | None = None
        self.close_timer: asyncio.TimerHandle | None = None
        self.subs_key: frozenset[str] = frozenset()
        self.selection: Selection = {}
        self.frames_sent = 0
        self.events_sent = 0
        self.bytes_sent = 0

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.sim._opened(self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if msg_type == WSMsgType.TEXT or msg_type == WSMsgType.BINARY:
            self.sim._received(self, frame.get_payload_as_bytes())
        elif msg_type == WSMsgType.CLOSE:
            self.sim._client_closed(self, frame)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.sim._disconnected(self)

    def pause_writing(self) -> None:  # the slow-consumer check reads the buffer size itself
        pass

    def resume_writing(self) -> None:
        pass

    def info(self) -> ConnectionInfo:
        return ConnectionInfo(
            id=self.id,
            path=self.route.path,
            market=self.route.market,
            delayed=self.route.delayed,
            authenticated=self.session.authenticated,
            key_id=self.session.key_id,
            subscriptions=frozenset(self.session.subscriptions),
            muted=self.muted,
            closing=self.closing,
            connected_at=self.connected_at,
            frames_sent=self.frames_sent,
            events_sent=self.events_sent,
            bytes_sent=self.bytes_sent,
        )

    def __repr__(self) -> str:
        return f"<sim connection #{self.id} /{self.route.path} auth={self.session.authenticated}>"


class MassiveSimulator:
    """A Massive (Polygon.io) WebSocket server on loopback, fed by a deterministic :class:`MarketModel`.

    Use ``async with MassiveSimulator(...) as sim:`` in asyncio code, or
    ``with MassiveSimulator(...).run_in_thread() as sim:`` from synchronous code.

    :param seed: the market model's seed; the same seed gives the same data.
    :param host: interface to bind (keep the default ``127.0.0.1``).
    :param port: TCP port; ``0`` picks a free one (see :attr:`port`).
    :param rate: mean trades per second per ticker, or a full :class:`Rates`.
    :param tick_interval: seconds between data pushes.
    :param valid_keys: keys that authenticate; ``None`` accepts any non-empty key.
    :param plan_denied_keys: keys that get the "Your plan doesn't include websocket access" ``auth_failed``.
    :param legacy_auth: answer auth in the 2019-20 / Alpaca dialect (``success``/``authenticated``).
    :param max_connections: connections per (key, cluster path); ``None`` for no limit.
    :param auth_timeout: seconds a connection may stay unauthenticated before ``auth_timeout`` and a close.
    :param slow_consumer_bytes: server-side write-buffer limit per connection.
    :param max_events_per_frame: events bundled into one frame at most.
    :param delay: seconds the ``/delayed/...`` feed lags behind (900 = 15 minutes).
    :param quirks: reproduce the type drift of the official examples (forex ``x`` as a string).
    :param universe: the instruments (default: :func:`~.instruments.default_universe`).
    :param close_timeout: seconds to wait for the client's close frame before aborting.
    :param option_quote_limit: options ``Q`` contracts allowed per connection.
    :param max_frame_size: largest client frame accepted.
    :param speed: how fast market time runs against the wall clock (60: a minute bar every
        second); market time starts at the wall clock when the simulator is created.
    :param socket_send_buffer: ``SO_SNDBUF`` for accepted sockets (small values make a slow consumer
        show up in the server buffer sooner, e.g. in tests); ``None`` keeps the OS default.
    :param rest: also serve the REST API (aggregates, trades, previous close, snapshot) from the same
        market, on its own port (:attr:`rest_url`); a :class:`~.rest.RestOptions` sets its rate limit.
    :param ssl_context: serve ``wss://`` (and ``https://`` REST) with this server context, e.g. to
        try a client's ``ca_file=`` against a private CA; ``None`` serves plain ``ws://``.
    """

    def __init__(
        self,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate: float | Rates = 2.0,
        tick_interval: float = 0.05,
        valid_keys: Iterable[str] | None = None,
        plan_denied_keys: Iterable[str] = (),
        legacy_auth: bool = False,
        max_connections: int | None = 1,
        auth_timeout: float = 10.0,
        slow_consumer_bytes: int = 8 * 1024 * 1024,
        max_events_per_frame: int = 1_000,
        delay: float = 900.0,
        quirks: bool = False,
        universe: Universe | None = None,
        close_timeout: float = 2.0,
        option_quote_limit: int = 1_000,
        max_frame_size: int = 16 * 1024 * 1024,
        socket_send_buffer: int | None = None,
        speed: float = 1.0,
        rest: bool | RestOptions = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if tick_interval <= 0:
            raise ValueError("tick_interval must be > 0")
        if speed <= 0:
            raise ValueError("speed must be > 0")
        if max_connections is not None and max_connections < 1:
            raise ValueError("max_connections must be >= 1 or None")
        rates = rate if isinstance(rate, Rates) else Rates(trades_per_second=float(rate))
        self.seed = seed
        self.host = host
        self._port = port
        self.tick_interval = tick_interval
        self.max_connections = max_connections
        self.auth_timeout = auth_timeout
        self.slow_consumer_bytes = slow_consumer_bytes
        self.max_events_per_frame = max(1, max_events_per_frame)
        self.delay_ms = int(delay * 1000)
        self.quirks = quirks
        self.close_timeout = close_timeout
        self.option_quote_limit = option_quote_limit
        self.max_frame_size = max_frame_size
        self.socket_send_buffer = socket_send_buffer
        self.speed = speed
        self.ssl_context = ssl_context
        self._epoch_ns = time.time_ns()
        self.model = MarketModel(seed, rates, universe)
        self._policy = AuthPolicy.from_keys(valid_keys, plan_denied_keys, legacy_auth)
        self._gate = HandshakeGate()
        self._counters = Counters()
        self._conns: dict[int, _Connection] = {}
        self._feeds: dict[str, RouteFeed] = {}
        self._actions: list[ActionRecord] = []
        self._ids = itertools.count(1)
        self._auth_order = itertools.count(1)
        self._paused = False
        self._mute_new = False
        self._server: asyncio.base_events.Server | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        #: Other dialects served on this port: exact URL path → upgrade handler (e.g. Polymarket US).
        self.routes: dict[str, RouteHandler] = {}
        self.rest: SimRestServer | None = None  # the REST API (rest=True), see sim/rest.py
        if rest:
            from tickwire.sim.rest import RestOptions, SimRestServer

            self.rest = SimRestServer(self, rest if isinstance(rest, RestOptions) else None)

    def __repr__(self) -> str:
        state = f"listening on {self.url}" if self.running else "stopped"
        return f"<MassiveSimulator seed={self.seed} {state} connections={len(self._conns)}>"

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        """The TCP port (the one picked, once started with ``port=0``)."""
        return self._port

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT`` (``wss://`` with ``ssl_context``); add ``/stocks`` or use ``url_for``."""
        return f"{'wss' if self.ssl_context is not None else 'ws'}://{self.host}:{self._port}"

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the REST API (needs ``rest=True``): a ``RestClient`` ``base_url``."""
        if self.rest is None:
            raise RuntimeError("this simulator serves no REST API: create it with rest=True")
        return self.rest.url

    @property
    def feed_host(self) -> str:
        """``127.0.0.1:PORT``: the ``feed`` for clients that build ``ws://{feed}/{market}`` themselves."""
        return f"{self.host}:{self._port}"

    def url_for(self, cluster: str = "stocks", delayed: bool = False) -> str:
        """The URL of a cluster path, e.g. ``ws://127.0.0.1:PORT/delayed/stocks``."""
        market = cluster.strip("/")
        if market not in MARKETS:
            raise ValueError(f"unknown cluster {cluster!r}; one of: {', '.join(MARKETS)}")
        return f"{self.url}/{'delayed/' if delayed else ''}{market}"

    def now_ms(self) -> int:
        """The market clock in Unix ms: the wall clock, or faster with ``speed``."""
        now = time.time_ns()
        if self.speed == 1.0:
            return now // 1_000_000
        return (self._epoch_ns + int((now - self._epoch_ns) * self.speed)) // 1_000_000

    async def start(self) -> MassiveSimulator:
        """Start listening and pushing data. Returns ``self``."""
        self._loop = asyncio.get_running_loop()
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._listen(self._port)
        if self._tick_task is None:
            self._tick_task = self._loop.create_task(self._tick_loop(), name="tickwire-sim-tick")
        if self.rest is not None:
            await self.rest.start()
        return self

    async def aclose(self) -> None:
        """Stop the server, abort every connection and the data generator."""
        if self._server is not None:
            await self.stop()
        if self.rest is not None:
            await self.rest.stop()
        task, self._tick_task = self._tick_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def __aenter__(self) -> MassiveSimulator:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def run_in_thread(self) -> SimulatorThread:
        """A blocking facade running this simulator on its own event loop in a daemon thread.

        ``with MassiveSimulator(...).run_in_thread() as sim:`` starts it; leaving the block stops it.
        """
        from tickwire.sim.thread import SimulatorThread

        return SimulatorThread(self)

    async def stop(self, code: int | None = None, reason: str = "") -> None:
        """Stop listening and end every connection: aborted (``code=None``, the client sees 1006) or
        closed with ``code`` (e.g. 1001 going away, 1012 service restart)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in list(self._conns.values()):
            if code is None:
                self._abort(conn)
            else:
                self._close(conn, code, reason)
        if server is not None:
            await server.wait_closed()
        await self.wait_until(lambda: not self._conns, self.close_timeout + 2.0, "connections to end")

    async def restart(self, port: int | None = None) -> None:
        """Stop (aborting connections) if running, then listen again: on the same port by default,
        on ``port`` if given (``0`` picks a new free one)."""
        if self._server is not None:
            await self.stop()
        if port is not None:
            self._port = port
        await self._listen(self._port)

    async def _listen(self, port: int) -> None:
        if self._server is not None:
            return
        server = await ws_create_server(
            self._route_request,
            self.host,
            port,
            enable_auto_pong=True,
            max_frame_size=self.max_frame_size,
            websocket_handshake_timeout=5,
            logger_name="tickwire.sim",
            ssl=self.ssl_context,
            # asyncio's own transport for TLS: aiofastnet logs a broken traceback for a refused handshake
            use_aiofastnet=False if self.ssl_context is not None else None,
        )
        self._server = server
        self._port = server.sockets[0].getsockname()[1]
        log.info("Massive simulator listening on %s", self.url)

    # ------------------------------------------------------------------ faults

    def drop(self, cluster: str | None = None, *, graceful: bool = False) -> int:
        """End connections without a close frame (the client sees 1006): reset them, or with
        ``graceful=True`` close the TCP stream cleanly (FIN) instead. Returns how many."""
        conns = self._select(cluster)
        for conn in conns:
            self._counters.drops += 1
            if graceful and conn.transport is not None:
                conn.closing = True
                conn.transport.disconnect(graceful=True)
            else:
                self._abort(conn)
        return len(conns)

    def close(self, code: int = 1000, reason: str = "", cluster: str | None = None) -> int:
        """Close connections with a proper close frame carrying ``code`` (1000, 1001, 1011...)."""
        conns = self._select(cluster)
        for conn in conns:
            self._close(conn, code, reason)
        return len(conns)

    def mute(self, cluster: str | None = None, *, new_connections: bool = False) -> int:
        """Stop sending anything (data and replies) on open connections, which still answer pings.

        With ``new_connections=True`` connections opened later start muted too (not even
        ``connected`` is sent) until :meth:`unmute`.
        """
        conns = self._select(cluster)
        for conn in conns:
            conn.muted = True
        if new_connections:
            self._mute_new = True
        return len(conns)

    def unmute(self, cluster: str | None = None) -> int:
        """Undo :meth:`mute` (for new connections too)."""
        self._mute_new = False
        conns = self._select(cluster)
        for conn in conns:
            conn.muted = False
        return len(conns)

    def send_raw(self, payload: str | bytes, cluster: str | None = None, *, binary: bool = False) -> int:
        """Send ``payload`` as is (garbage, partial JSON, an oversize frame) as one text (or binary) frame."""
        data = payload.encode() if isinstance(payload, str) else payload
        msg_type = WSMsgType.BINARY if binary else WSMsgType.TEXT
        conns = self._select(cluster)
        for conn in conns:
            assert conn.transport is not None
            conn.transport.send(msg_type, data)
            conn.frames_sent += 1
            conn.bytes_sent += len(data)
        return len(conns)

    def send_status(
        self, status: str, message: str, close_code: int | None = None, cluster: str | None = None
    ) -> int:
        """Send a status message (e.g. ``force_disconnect``), then close with ``close_code`` if given."""
        frame = status_frame(status, message)
        conns = self._select(cluster)
        for conn in conns:
            self._send_control(conn, frame, force=True)
            if close_code is not None:
                self._close(conn, close_code, "")
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
        """Pause the data generator: no events are produced (the gap is lost, as with the real server)."""
        self._paused = True

    def resume_data(self) -> None:
        """Resume the data generator (from now on; nothing is replayed)."""
        self._paused = False

    @property
    def data_paused(self) -> bool:
        return self._paused

    # ------------------------------------------------------------------ observation

    @property
    def counters(self) -> Counters:
        """A snapshot of the running totals."""
        return self._counters.copy()

    def connections(
        self, cluster: str | None = None, *, authenticated: bool | None = None
    ) -> list[ConnectionInfo]:
        """The open connections (optionally of one cluster / path, or by auth state), oldest first."""
        return [
            c.info()
            for c in self._conns.values()
            if c.open
            and _matches(c.route, cluster)
            and (authenticated is None or c.session.authenticated == authenticated)
        ]

    def subscriptions(self, cluster: str = "stocks", delayed: bool = False) -> frozenset[str]:
        """The union of the confirmed subscriptions of the open connections on one cluster path."""
        path = ("delayed/" if delayed else "") + cluster.strip("/")
        subs: set[str] = set()
        for conn in self._conns.values():
            if conn.open and not conn.closing and conn.route.path == path:
                subs.update(conn.session.subscriptions)
        return frozenset(subs)

    def actions(self, cluster: str | None = None, action: str | None = None) -> list[ActionRecord]:
        """Every client action received so far, in order (optionally filtered)."""
        return [
            a
            for a in self._actions
            if (action is None or a.action == action) and (cluster is None or _path_matches(a.path, cluster))
        ]

    def clear_actions(self) -> None:
        """Forget the recorded actions."""
        self._actions.clear()

    def trades(self, cluster: str, ticker: str, start_ms: int, end_ms: int) -> list[Trade]:
        """The model's prints in ``[start_ms, end_ms)``, as streamed."""
        return self.model.trades(cluster, ticker, start_ms, end_ms)

    def quotes(self, cluster: str, ticker: str, start_ms: int, end_ms: int) -> list[Quote]:
        """The model's quotes in ``[start_ms, end_ms)``, as streamed."""
        return self.model.quotes(cluster, ticker, start_ms, end_ms)

    def bars(
        self,
        cluster: str,
        ticker: str,
        start_ms: int,
        end_ms: int,
        span: Literal["second", "minute"] = "minute",
    ) -> list[Bar]:
        """The model's bars starting in ``[start_ms, end_ms)``, equal to the streamed ``A``/``AM``."""
        return self.model.bars(cluster, ticker, start_ms, end_ms, span)

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
            changed = self._changed_event()
            try:
                await asyncio.wait_for(changed.wait(), min(remaining, 0.25))
            except TimeoutError:
                pass

    async def wait_connections(
        self,
        n: int,
        cluster: str | None = None,
        *,
        authenticated: bool = False,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[ConnectionInfo]:
        """Wait until exactly ``n`` connections are open (authenticated ones only, if asked)."""

        def count() -> int:
            return len(self.connections(cluster, authenticated=True if authenticated else None))

        await self.wait_until(lambda: count() == n, timeout, f"{n} connection(s) (now {count()})")
        return self.connections(cluster, authenticated=True if authenticated else None)

    async def wait_subscribed(
        self,
        cluster: str,
        channels: Iterable[str],
        *,
        delayed: bool = False,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> ConnectionInfo:
        """Wait until one open connection on the cluster path has confirmed all ``channels``."""
        wanted = frozenset(channels)
        path = ("delayed/" if delayed else "") + cluster.strip("/")

        def find() -> ConnectionInfo | None:
            for conn in self._conns.values():
                live = conn.open and not conn.closing and conn.route.path == path
                if live and wanted <= conn.session.subscriptions.keys():
                    return conn.info()
            return None

        await self.wait_until(
            lambda: find() is not None, timeout, f"subscriptions {sorted(wanted)} on /{path}"
        )
        found = find()
        assert found is not None
        return found

    async def wait_actions(
        self,
        n: int,
        action: str | None = None,
        cluster: str | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[ActionRecord]:
        """Wait until at least ``n`` matching actions were received; returns all matching ones."""
        await self.wait_until(
            lambda: len(self.actions(cluster, action)) >= n, timeout, f"{n} {action or ''} action(s)"
        )
        return self.actions(cluster, action)

    async def wait_counter(
        self,
        name: str,
        n: int,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Counters:
        """Wait until counter ``name`` (see :class:`Counters`) reaches ``n``."""
        if not hasattr(self._counters, name):
            raise AttributeError(f"no counter named {name!r}")
        await self.wait_until(lambda: getattr(self._counters, name) >= n, timeout, f"counter {name} >= {n}")
        return self.counters

    async def wait_handshakes(
        self,
        n: int,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Counters:
        """Wait until ``n`` WebSocket upgrades have been accepted in total."""
        return await self.wait_counter("handshakes", n, timeout=timeout)

    # ------------------------------------------------------------------ internals: connections

    def _changed_event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _notify(self) -> None:
        changed = self._changed
        if changed is not None:
            self._changed = asyncio.Event()
            changed.set()

    def _select(self, cluster: str | None) -> list[_Connection]:
        return [c for c in self._conns.values() if c.open and not c.closing and _matches(c.route, cluster)]

    def _route_request(self, request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener | None:
        path = request.path.decode("latin-1")
        other = self.routes.get(path.split("?", 1)[0])
        if other is not None:
            return other(request)
        route = parse_route(path)
        if route is None:
            self._counters.refused += 1
            self._notify()
            body = f"unknown cluster path {path[:100]!r}; serve: {', '.join(MARKETS)}".encode()
            return WSUpgradeResponseWithListener(WSUpgradeResponse.create_error_response(404, body), None)
        status = self._gate.take()
        if status is not None:
            self._counters.refused += 1
            self._notify()
            return WSUpgradeResponseWithListener(
                WSUpgradeResponse.create_error_response(status, self._gate.body), None
            )
        return _Connection(self, route, next(self._ids))

    def _opened(self, conn: _Connection) -> None:
        assert self._loop is not None
        conn.open = True
        conn.muted = self._mute_new
        if self.socket_send_buffer is not None and conn.transport is not None:
            sock = conn.transport.underlying_transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.socket_send_buffer)
        self._conns[conn.id] = conn
        self._counters.handshakes += 1
        if conn.route.path not in self._feeds:
            feed = RouteFeed(
                self.model,
                conn.route,
                delay_ms=self.delay_ms,
                max_events=self.max_events_per_frame,
                quirks=self.quirks,
                max_catchup_ms=int(2_000 * self.speed),  # a late tick covers 2 s of wall time
            )
            feed.skip(self.now_ms())
            self._feeds[conn.route.path] = feed
        self._send_control(conn, status_frame(*CONNECTED))
        if self.auth_timeout > 0:
            conn.auth_timer = self._loop.call_later(self.auth_timeout, self._auth_timed_out, conn)
        self._notify()

    def _received(self, conn: _Connection, payload: bytes) -> None:
        if conn.closing:
            return
        outcome = conn.session.handle(payload)
        self._actions.append(
            ActionRecord(
                len(self._actions), conn.id, conn.route.path, outcome.action, outcome.params, time.time()
            )
        )
        counters = self._counters
        if outcome.action == "subscribe":
            counters.subscribes += 1
        elif outcome.action == "unsubscribe":
            counters.unsubscribes += 1
        elif outcome.action == "invalid":
            counters.invalid += 1
        if outcome.replies:
            self._send_control(conn, encode_statuses(*outcome.replies))
        if outcome.auth is not None and conn.auth_timer is not None:
            conn.auth_timer.cancel()
            conn.auth_timer = None
        if outcome.auth == "ok":
            counters.auth_success += 1
            conn.auth_order = next(self._auth_order)
            self._enforce_max_connections(conn)
        elif outcome.auth == "failed":
            counters.auth_failed += 1
        if outcome.close_code is not None:
            self._close(conn, outcome.close_code, "")
        if outcome.changed:
            self._update_selection(conn)
        self._notify()

    def _client_closed(self, conn: _Connection, frame: WSFrame) -> None:
        transport = conn.transport
        assert transport is not None
        if not transport.is_close_frame_sent:
            code = frame.get_close_code()
            if code == WSCloseCode.NO_INFO:
                code = WSCloseCode.OK
            transport.send_close(code, frame.get_close_message())
        conn.closing = True
        transport.disconnect()

    def _disconnected(self, conn: _Connection) -> None:
        conn.open = False
        for timer in (conn.auth_timer, conn.close_timer):
            if timer is not None:
                timer.cancel()
        conn.auth_timer = conn.close_timer = None
        if self._conns.pop(conn.id, None) is not None:
            self._counters.disconnects += 1
        self._notify()

    def _auth_timed_out(self, conn: _Connection) -> None:
        conn.auth_timer = None
        if conn.open and not conn.closing and not conn.session.authenticated:
            self._counters.auth_timeout += 1
            # a policy status, like max_connections: sent even on a muted connection
            self._send_control(conn, status_frame(*AUTH_TIMEOUT), force=True)
            self._close(conn, 1008, "")
            self._notify()

    def _enforce_max_connections(self, newcomer: _Connection) -> None:
        limit = self.max_connections
        if limit is None:
            return
        kid, path = newcomer.session.key_id, newcomer.route.path
        group = sorted(
            (
                c
                for c in self._conns.values()
                if c.open
                and not c.closing
                and c.session.authenticated
                and c.session.key_id == kid
                and c.route.path == path
            ),
            key=lambda c: c.auth_order,
        )
        for conn in group[: max(0, len(group) - limit)]:
            if conn is newcomer:
                continue
            self._counters.evictions += 1
            self._send_control(conn, status_frame(*MAX_CONNECTIONS), force=True)
            self._close(conn, 1008, "")

    def _update_selection(self, conn: _Connection) -> None:
        feed = self._feeds[conn.route.path]
        selection: dict[str, set[str] | None] = {}
        for channel in conn.session.subscriptions:
            parts = split_channel(channel)
            if parts is None:
                continue
            prefix, ticker = parts
            if ticker == "*":
                selection[prefix] = None
            else:
                current = selection.setdefault(prefix, set())
                if current is not None:
                    current.add(feed.canonical(ticker))
        conn.selection = {p: None if t is None else frozenset(t) for p, t in selection.items()}
        conn.subs_key = frozenset(conn.session.subscriptions)

    def _send_control(self, conn: _Connection, frame: bytes, *, force: bool = False) -> None:
        """Send a status frame now (unless the connection is muted and not ``force``)."""
        transport = conn.transport
        if transport is None or not conn.open or transport.is_close_frame_sent or (conn.muted and not force):
            return
        transport.send(WSMsgType.TEXT, frame)
        conn.frames_sent += 1
        conn.bytes_sent += len(frame)

    def _close(self, conn: _Connection, code: int, reason: str) -> None:
        """Send a close frame; abort if the client has not completed the handshake after ``close_timeout``."""
        transport = conn.transport
        if transport is None or not conn.open or conn.closing:
            return
        conn.closing = True
        transport.send_close(WSCloseCode(code), reason.encode())
        assert self._loop is not None
        conn.close_timer = self._loop.call_later(self.close_timeout, self._abort, conn)
        self._notify()

    def _abort(self, conn: _Connection) -> None:
        if conn.transport is not None and conn.open:
            conn.closing = True
            conn.transport.disconnect(graceful=False)

    def _slow_consumer(self, conn: _Connection) -> None:
        self._counters.slow_consumers += 1
        message = (
            f"Slow consumer: more than {self.slow_consumer_bytes} bytes are waiting to be sent to this "
            "connection. Read frames into a queue immediately and process them elsewhere."
        )
        self._send_control(conn, status_frame("slow_consumer", message), force=True)
        self._close(conn, SLOW_CONSUMER_CLOSE_CODE, "")

    # ------------------------------------------------------------------ internals: data

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.tick_interval
        next_at = loop.time()
        while True:
            next_at += interval
            delay = next_at - loop.time()
            if delay < 0:  # running late: skip the missed ticks, the next window covers them
                next_at = loop.time()
                delay = 0
            await asyncio.sleep(delay)
            try:
                self._tick(self.now_ms())
            except Exception:
                log.exception("simulator tick failed")

    def _tick(self, now_ms: int) -> None:
        self._counters.ticks += 1
        listeners: dict[str, list[_Connection]] = {}
        for conn in self._conns.values():
            if (
                conn.open
                and not conn.closing
                and not conn.muted
                and conn.selection
                and conn.session.authenticated
            ):
                listeners.setdefault(conn.route.path, []).append(conn)
        sent = False
        for path, feed in self._feeds.items():
            conns = listeners.get(path)
            if not conns or self._paused:
                feed.skip(now_ms)
                continue
            pieces = feed.collect(now_ms, _union(c.selection for c in conns))
            if not pieces:
                continue
            shared: dict[frozenset[str], list[tuple[bytes, int]]] = {}
            for conn in conns:
                frames = shared.get(conn.subs_key)
                if frames is None:
                    frames = shared[conn.subs_key] = assemble_frames(
                        pieces, conn.selection, self.max_events_per_frame
                    )
                if frames:
                    self._send_data(conn, frames)
                    sent = True
        if sent:
            self._notify()

    def _send_data(self, conn: _Connection, frames: list[tuple[bytes, int]]) -> None:
        transport = conn.transport
        assert transport is not None
        buffered = transport.underlying_transport.get_write_buffer_size
        counters = self._counters
        for frame, n in frames:
            if buffered() > self.slow_consumer_bytes:
                self._slow_consumer(conn)
                return
            transport.send(WSMsgType.TEXT, frame)
            size = len(frame)
            conn.frames_sent += 1
            conn.events_sent += n
            conn.bytes_sent += size
            counters.frames_sent += 1
            counters.events_sent += n
            counters.bytes_sent += size


def _matches(route: Route, cluster: str | None) -> bool:
    return cluster is None or _path_matches(route.path, cluster)


def _path_matches(path: str, cluster: str) -> bool:
    """``stocks`` matches ``stocks`` and ``delayed/stocks``; ``delayed/stocks`` only itself."""
    wanted = cluster.strip("/")
    return path == wanted or path == "delayed/" + wanted


def _union(selections: Iterable[Selection]) -> Selection:
    merged: dict[str, set[str] | None] = {}
    for selection in selections:
        for prefix, tickers in selection.items():
            if tickers is None:
                merged[prefix] = None
            elif prefix not in merged:
                merged[prefix] = set(tickers)
            else:
                current = merged[prefix]
                if current is not None:
                    current.update(tickers)
    return {p: None if t is None else frozenset(t) for p, t in merged.items()}
