"""The Massive (Polygon.io) dialect of the simulator: every cluster path, auth, subscriptions, data.

Theory of operation
-------------------
:class:`MassiveSimulator` is a :class:`~tickwire.sim.base.SimulatorBase` (server lifecycle,
connection registry, fault API) that serves every cluster path of polygon.md §1.1, real-time
at ``/<cluster>`` and 15 minutes delayed at ``/delayed/<cluster>``. Each connection gets a
:class:`~.protocol.ServerSession` (auth, subscriptions, statuses); a single tick task (every
``tick_interval`` seconds) asks each route's :class:`~.feed.RouteFeed` for the events of the
last window, encodes them once and sends each subscriber its frames, shared between
connections with equal subscriptions.

Server-side policies match the real service: ``max_connections`` per (key, cluster path) evicts
the *older* connection with a ``max_connections`` status and close code 1008; a connection whose
write buffer exceeds ``slow_consumer_bytes`` is sent ``slow_consumer`` and closed (aborted if
it does not complete the close handshake within ``close_timeout``); a connection that does not
authenticate within ``auth_timeout`` gets ``auth_timeout`` and 1008.

Faults select connections by cluster: ``"stocks"`` is ``/stocks`` and ``/delayed/stocks``,
``"delayed/stocks"`` only the latter.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Literal

from picows import WSUpgradeRequest

from tickwire.sim.base import Refusal, SimulatorBase
from tickwire.sim.calendar import MarketClock
from tickwire.sim.channels import MARKETS, Route, parse_route
from tickwire.sim.connection import SimConnection
from tickwire.sim.faults import Entitlements
from tickwire.sim.feed import RouteFeed, Selection, assemble_frames, select, union
from tickwire.sim.instruments import Universe
from tickwire.sim.market import Bar, MarketModel, Quote, Rates, Trade
from tickwire.sim.observe import ActionRecord, ConnectionInfo, Counters
from tickwire.sim.protocol import AUTH_TIMEOUT, CONNECTED, MAX_CONNECTIONS, AuthPolicy, ServerSession
from tickwire.sim.wire import encode_statuses, status_frame

if TYPE_CHECKING:
    from tickwire.sim.rest import RestOptions, SimRestServer
    from tickwire.sim.thread import SimulatorThread

__all__ = ["MassiveSimulator"]

SLOW_CONSUMER_CLOSE_CODE = 1000
"""The official client treats the close after ``slow_consumer`` as a normal one (polygon.md §1.6)."""


class _Connection(SimConnection[ConnectionInfo]):
    """One Massive connection: its route, session (auth, subscriptions) and data selection."""

    def __init__(self, sim: MassiveSimulator, route: Route, conn_id: int) -> None:
        super().__init__(sim, route.path, conn_id)
        self.route = route
        self.session = ServerSession(
            route, sim._policy, option_quote_limit=sim.option_quote_limit, entitlements=sim.entitlements
        )
        self.auth_order = 0
        self.auth_timer: asyncio.TimerHandle | None = None
        self.subs_key: frozenset[str] = frozenset()
        self.selection: Selection = {}
        self.events_sent = 0

    @property
    def authenticated(self) -> bool:
        return self.session.authenticated

    def matches(self, endpoint: str | None) -> bool:
        return endpoint is None or _path_matches(self.route.path, endpoint)

    def cancel_timers(self) -> None:
        super().cancel_timers()
        if self.auth_timer is not None:
            self.auth_timer.cancel()
            self.auth_timer = None

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


class MassiveSimulator(SimulatorBase[_Connection, Counters, ConnectionInfo]):
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
    :param denied_channels: channels (``"T.AAPL"``) or channel prefixes (``"Q"``) the plan lacks:
        each subscribe to one gets an ``error`` status, on every connection (see :meth:`deny_channels`).
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
        second), from where ``start`` puts it.
    :param start: where the market clock starts: ``"session"`` (the default: the wall clock during a
        regular US session, else 11:00 US/Eastern of the latest trading day, so stocks trade
        whenever it is started), ``"now"`` (the wall clock; stocks then follow the real sessions)
        or Unix ms.
    :param socket_send_buffer: ``SO_SNDBUF`` for accepted sockets (small values make a slow consumer
        show up in the server buffer sooner, e.g. in tests); ``None`` keeps the OS default.
    :param rest: also serve the REST API (aggregates, trades, previous close, snapshot) from the same
        market, on its own port (:attr:`rest_url`); a :class:`~.rest.RestOptions` sets its rate limit.
    :param ssl_context: serve ``wss://`` (and ``https://`` REST) with this server context, e.g. to
        try a client's ``ca_file=`` against a private CA; ``None`` serves plain ``ws://``.
    """

    dialect = "Massive"

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
        denied_channels: Iterable[str] = (),
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
        start: str | int = "session",
        rest: bool | RestOptions = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if tick_interval <= 0:
            raise ValueError("tick_interval must be > 0")
        if speed <= 0:
            raise ValueError("speed must be > 0")
        if max_connections is not None and max_connections < 1:
            raise ValueError("max_connections must be >= 1 or None")
        super().__init__(
            host=host,
            port=port,
            counters=Counters(),
            close_timeout=close_timeout,
            max_frame_size=max_frame_size,
            socket_send_buffer=socket_send_buffer,
            ssl_context=ssl_context,
        )
        rates = rate if isinstance(rate, Rates) else Rates(trades_per_second=float(rate))
        self.seed = seed
        self.tick_interval = tick_interval
        self.max_connections = max_connections
        self.auth_timeout = auth_timeout
        self.slow_consumer_bytes = slow_consumer_bytes
        self.max_events_per_frame = max(1, max_events_per_frame)
        self.delay_ms = int(delay * 1000)
        self.quirks = quirks
        self.option_quote_limit = option_quote_limit
        self.speed = speed
        self.clock = MarketClock(start, speed)
        self.model = MarketModel(seed, rates, universe)
        self._policy = AuthPolicy.from_keys(valid_keys, plan_denied_keys, legacy_auth)
        self.entitlements = Entitlements()
        self.entitlements.deny(*denied_channels)
        self._feeds: dict[str, RouteFeed] = {}
        self._actions: list[ActionRecord] = []
        self._auth_order = itertools.count(1)
        self.rest: SimRestServer | None = None  # the REST API (rest=True), see sim/rest.py
        if rest:
            from tickwire.sim.rest import RestOptions, SimRestServer

            self.rest = SimRestServer(self, rest if isinstance(rest, RestOptions) else None)

    def __repr__(self) -> str:
        state = f"listening on {self.url}" if self.running else "stopped"
        return f"<MassiveSimulator seed={self.seed} {state} connections={len(self._conns)}>"

    # ------------------------------------------------------------------ addresses and clock

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the REST API (needs ``rest=True``): a ``RestClient`` ``base_url``."""
        if self.rest is None:
            raise RuntimeError("this simulator serves no REST API: create it with rest=True")
        return self.rest.url

    @property
    def feed_host(self) -> str:
        """``127.0.0.1:PORT``: the ``feed`` for clients that build ``ws://{feed}/{market}`` themselves."""
        return f"{self.host}:{self.port}"

    def url_for(self, cluster: str = "stocks", delayed: bool = False) -> str:
        """The URL of a cluster path, e.g. ``ws://127.0.0.1:PORT/delayed/stocks``."""
        market = cluster.strip("/")
        if market not in MARKETS:
            raise ValueError(f"unknown cluster {cluster!r}; one of: {', '.join(MARKETS)}")
        return f"{self.url}/{'delayed/' if delayed else ''}{market}"

    def now_ms(self) -> int:
        """The market clock in Unix ms (see ``start`` and ``speed``)."""
        return self.clock.now_ms()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> MassiveSimulator:
        """Start listening and pushing data (and the REST API with ``rest=``). Returns ``self``."""
        await super().start()
        if self.rest is not None:
            await self.rest.start()
        return self

    async def aclose(self) -> None:
        """Stop the server, abort every connection, the REST API and the data generator."""
        await super().aclose()
        if self.rest is not None:
            await self.rest.stop()

    def run_in_thread(self) -> SimulatorThread:
        """A blocking facade running this simulator on its own event loop in a daemon thread.

        ``with MassiveSimulator(...).run_in_thread() as sim:`` starts it; leaving the block stops it.
        """
        from tickwire.sim.thread import SimulatorThread

        return SimulatorThread(self)

    def _loops(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        step = lambda: self._tick(self.now_ms())  # noqa: E731
        return [("tickwire-sim-tick", self._every(self.tick_interval, step, "tick"))]

    # ------------------------------------------------------------------ faults of this dialect

    def deny_channels(self, *patterns: str, message: str | None = None) -> None:
        """A plan without these channels (``"T.AAPL"``) or channel prefixes (``"Q"``): each subscribe
        gets ``error`` with ``message`` (``{channel}`` filled in), on every connection."""
        self.entitlements.deny(*patterns, message=message)

    def allow_channels(self, *patterns: str) -> None:
        """Undo :meth:`deny_channels` (no patterns: all of them)."""
        self.entitlements.allow(*patterns)

    def send_status(
        self, status: str, message: str, close_code: int | None = None, endpoint: str | None = None
    ) -> int:
        """Send a status message (e.g. ``force_disconnect``), then close with ``close_code`` if given."""
        frame = status_frame(status, message)
        conns = self._select(endpoint)
        for conn in conns:
            self._send(conn, frame, force=True)
            if close_code is not None:
                self._close(conn, close_code, "")
        return len(conns)

    # ------------------------------------------------------------------ observation

    def subscriptions(self, cluster: str = "stocks", delayed: bool = False) -> frozenset[str]:
        """The union of the confirmed subscriptions of the open connections on one cluster path."""
        path = ("delayed/" if delayed else "") + cluster.strip("/")
        subs: set[str] = set()
        for conn in self._conns.values():
            if conn.live and conn.route.path == path:
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
                if conn.live and conn.route.path == path and wanted <= conn.session.subscriptions.keys():
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

    # ------------------------------------------------------------------ the protocol

    def _resolve(self, path: str) -> str | Refusal:
        route = parse_route(path)
        if route is None:
            return Refusal(404, f"unknown cluster path {path[:100]!r}; serve: {', '.join(MARKETS)}".encode())
        return route.path

    def _admit(self, request: WSUpgradeRequest, endpoint: str) -> _Connection | Refusal:
        route = parse_route(endpoint)
        assert route is not None  # _resolve accepted it
        return _Connection(self, route, next(self._ids))

    def _on_open(self, conn: _Connection) -> None:
        self._send(conn, status_frame(*CONNECTED))
        if self.auth_timeout > 0:
            loop = asyncio.get_running_loop()
            conn.auth_timer = loop.call_later(self.auth_timeout, self._auth_timed_out, conn)

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
            self._send(conn, encode_statuses(*outcome.replies))
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
            self._subscriptions_changed(conn)
        self._notify()

    def _subscriptions_changed(self, conn: _Connection) -> None:
        """The confirmed channels changed: what the data pump sends this connection from now on."""
        feed = self._feed(conn.route)
        conn.selection = select(conn.session.subscriptions, feed.canonical)
        conn.subs_key = frozenset(conn.session.subscriptions)

    def _auth_timed_out(self, conn: _Connection) -> None:
        conn.auth_timer = None
        if conn.live and not conn.session.authenticated:
            self._counters.auth_timeout += 1
            # a policy status, like max_connections: sent even on a muted connection
            self._send(conn, status_frame(*AUTH_TIMEOUT), force=True)
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
                if c.live and c.session.authenticated and c.session.key_id == kid and c.route.path == path
            ),
            key=lambda c: c.auth_order,
        )
        for conn in group[: max(0, len(group) - limit)]:
            if conn is newcomer:
                continue
            self._counters.evictions += 1
            self._send(conn, status_frame(*MAX_CONNECTIONS), force=True)
            self._close(conn, 1008, "")

    def _slow_consumer(self, conn: _Connection) -> None:
        self._counters.slow_consumers += 1
        message = (
            f"Slow consumer: more than {self.slow_consumer_bytes} bytes are waiting to be sent to this "
            "connection. Read frames into a queue immediately and process them elsewhere."
        )
        self._send(conn, status_frame("slow_consumer", message), force=True)
        self._close(conn, SLOW_CONSUMER_CLOSE_CODE, "")

    # ------------------------------------------------------------------ the data pump

    def _feed(self, route: Route) -> RouteFeed:
        feed = self._feeds.get(route.path)
        if feed is None:
            feed = self._feeds[route.path] = RouteFeed(
                self.model,
                route,
                delay_ms=self.delay_ms,
                max_events=self.max_events_per_frame,
                quirks=self.quirks,
                max_catchup_ms=int(2_000 * self.speed),  # a late tick covers 2 s of wall time
            )
            feed.skip(self.now_ms())
        return feed

    def _tick(self, now_ms: int) -> None:
        self._counters.ticks += 1
        listeners: dict[str, list[_Connection]] = {}
        for conn in self._conns.values():
            if conn.live and not conn.muted and conn.selection and conn.session.authenticated:
                listeners.setdefault(conn.route.path, []).append(conn)
        sent = False
        for path, feed in self._feeds.items():
            conns = listeners.get(path)
            if not conns or self._paused:
                feed.skip(now_ms)
                continue
            pieces = feed.collect(now_ms, union(c.selection for c in conns))
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
        """Send data frames, counted, unless the client is a slow consumer (then cut it off)."""
        transport = conn.transport
        assert transport is not None
        buffered = transport.underlying_transport.get_write_buffer_size
        counters = self._counters
        for frame, n in frames:
            if buffered() > self.slow_consumer_bytes:
                self._slow_consumer(conn)
                return
            if not self._send(conn, frame):
                return
            conn.events_sent += n
            counters.frames_sent += 1
            counters.events_sent += n
            counters.bytes_sent += len(frame)


def _path_matches(path: str, cluster: str) -> bool:
    """``stocks`` matches ``stocks`` and ``delayed/stocks``; ``delayed/stocks`` only itself."""
    wanted = cluster.strip("/")
    return path == wanted or path == "delayed/" + wanted
