"""The Alpaca dialect of the simulator: Alpaca's market-data streams (v2 stocks, crypto, options, news).

Theory of operation
-------------------
:class:`AlpacaSimulator` is a :class:`~tickwire.sim.base.SimulatorBase` (server lifecycle,
connection registry, the fault API) serving the paths of :data:`~.feeds.FEEDS` on its own port
or on another simulator's (``attach_to``: ``tickwire sim`` serves every dialect on one port).

The session follows spec §B2-B4: ``[{"T":"success","msg":"connected"}]`` on open; the client
authenticates within ``auth_timeout`` with ``{"action":"auth","key":…,"secret":…}`` (or with the
``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY`` upgrade headers, answered right after ``connected``)
and gets ``[{"T":"success","msg":"authenticated"}]``; subscribe and unsubscribe are acked with the
full subscription set. ``Content-Type: application/msgpack`` on the upgrade switches both
directions to msgpack (``t`` as the Timestamp extension); the options feeds speak nothing else
(a JSON upgrade there is refused 400 [INF]). Every error is ``[{"T":"error","code":N,"msg":…}]``
with the exact texts of :mod:`~.codes`; how each code is reached:

=====  ======================================================================================
400    a frame that is not a client message (bad encoding, unknown action or field)
401    subscribe or unsubscribe before authenticating
402    an unknown key or a wrong secret (then the connection is closed)
403    ``auth`` on an authenticated connection
404    no authentication within ``auth_timeout`` seconds (closed)
405    a subscribe that would take the trade + quote symbols over ``symbol_limit`` (nothing changes)
406    authenticating while ``max_connections`` sessions of the key hold the feed (closed): a live
       one, or a dead one not yet reaped; a session that ends without a close handshake (the
       client vanished, the ``drop`` fault) keeps its slot for ``reap_window`` seconds, as the
       real server reaps half-dead sessions only after about 90 s
407    the connection's write buffer passes ``slow_client_bytes`` (closed)
408    a key in ``v2_disabled_keys`` (closed)
409    a key whose plan (``plans``) does not include the feed (closed)
410    (un)subscribing a channel the feed does not serve, or ``corrections``/``cancelErrors``
500    only through :meth:`AlpacaSimulator.send_error`, which sends any code
=====  ======================================================================================

Data comes from the seeded :class:`~tickwire.sim.market.MarketModel` (the same values the
Massive dialect streams for the same seed and rates): a tick task asks each feed's
:class:`~.stream.FeedStream` for the items of the last window, encodes each item once per
encoding and sends every subscriber its frames (at most ``max_events_per_frame`` items each).
Every client message is recorded (:meth:`AlpacaSimulator.actions`), so tests can check that a
client resubscribed exactly what it had.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from picows import WSFrame, WSMsgType, WSTransport, WSUpgradeRequest

from tickwire.alpaca.keys import LOCAL_KEY_ID, LOCAL_SECRET_KEY
from tickwire.sim.alpaca import build, wire
from tickwire.sim.alpaca.codes import CLOSE_CODE, CLOSING, ErrorCode
from tickwire.sim.alpaca.feeds import FAKEPACA, FEED_BY_PATH, FEEDS, Feed, feed_matches
from tickwire.sim.alpaca.observe import AlpacaAction, AlpacaConnectionInfo, AlpacaCounters, AlpacaHandshake
from tickwire.sim.alpaca.session import Request, Subscriptions, parse_message
from tickwire.sim.alpaca.stream import FeedStream, NewsDesk, Wanted, matches
from tickwire.sim.base import Refusal, SimulatorBase
from tickwire.sim.calendar import MarketClock
from tickwire.sim.connection import SimConnection
from tickwire.sim.instruments import Instrument, Universe, default_universe
from tickwire.sim.market import MarketModel, Rates
from tickwire.sim.observe import key_id

if TYPE_CHECKING:
    import ssl

    from tickwire.sim.alpaca.thread import AlpacaThread

__all__ = ["SIM_KEY_ID", "SIM_SECRET_KEY", "AlpacaSimulator", "alpaca_universe"]

SIM_KEY_ID = LOCAL_KEY_ID
"""The simulator's built-in key id (a test key, public on purpose; what a client sends a local
server when it has no keys)."""
SIM_SECRET_KEY = LOCAL_SECRET_KEY
"""Its secret."""

_MSGPACK = "application/msgpack"
_CONNECTED = wire.Success("connected")
_AUTHENTICATED = wire.Success("authenticated")


def alpaca_universe() -> Universe:
    """The default instruments plus ``FAKEPACA`` (the test stream's one symbol)."""
    fake = Instrument(FAKEPACA, "stocks", 100.0, activity=1.0, tape=3, listing_exchange=12, lot=100)
    return Universe([*default_universe(), fake])


class _Conn(SimConnection[AlpacaConnectionInfo]):
    """One Alpaca connection: its feed, encoding, auth state, subscriptions and slot."""

    def __init__(
        self,
        sim: AlpacaSimulator,
        feed: Feed,
        encoding: wire.Encoding,
        conn_id: int,
        headers: tuple[str, str],
    ) -> None:
        super().__init__(sim, feed.name, conn_id)
        self.alpaca = sim
        self.feed = feed
        self.encoding: wire.Encoding = encoding
        self.subs = Subscriptions(feed, sim.symbol_limit)
        self.current: dict[str, frozenset[str]] = {}
        self.subs_key: frozenset[tuple[str, frozenset[str]]] = frozenset()
        self.header_auth = headers
        self._authenticated = False
        self.key_fp: str | None = None
        self.holds_slot = False
        self.clean_end = False
        """The session ended with a close handshake (the server knows it is gone: no reaping)."""
        self.auth_timer: asyncio.TimerHandle | None = None
        self.events_sent = 0
        self._fragments: list[bytes] | None = None

    @property
    def authenticated(self) -> bool:
        return self._authenticated

    def matches(self, endpoint: str | None) -> bool:
        return feed_matches(self.feed, endpoint)

    def cancel_timers(self) -> None:
        super().cancel_timers()
        if self.auth_timer is not None:
            self.auth_timer.cancel()
            self.auth_timer = None

    def info(self) -> AlpacaConnectionInfo:
        return AlpacaConnectionInfo(
            id=self.id,
            feed=self.feed.name,
            encoding=self.encoding,
            authenticated=self._authenticated,
            key_id=self.key_fp,
            subscriptions=self.subs.snapshot(),
            muted=self.muted,
            closing=self.closing,
            connected_at=self.connected_at,
            frames_sent=self.frames_sent,
            events_sent=self.events_sent,
        )

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        """As the base, plus fragmented messages (alpaca-py sends every subscribe fragmented)."""
        kind = frame.msg_type
        if kind == WSMsgType.TEXT or kind == WSMsgType.BINARY:
            if frame.fin:
                if not self.closing:
                    self.alpaca._received(self, frame.get_payload_as_bytes())
            else:
                self._fragments = [frame.get_payload_as_bytes()]
        elif kind == WSMsgType.CONTINUATION:
            if self._fragments is None:
                return
            self._fragments.append(frame.get_payload_as_bytes())
            if sum(map(len, self._fragments)) > self.alpaca.max_frame_size:
                self._fragments = None
                self.alpaca._error(self, ErrorCode.INVALID_SYNTAX)
            elif frame.fin:
                payload, self._fragments = b"".join(self._fragments), None
                if not self.closing:
                    self.alpaca._received(self, payload)
        elif kind == WSMsgType.CLOSE:
            self.clean_end = True
            self.alpaca._client_closed(self, frame)

    def __repr__(self) -> str:
        return f"<alpaca sim connection #{self.id} {self.feed.path} auth={self._authenticated}>"


class AlpacaSimulator(SimulatorBase[_Conn, AlpacaCounters, AlpacaConnectionInfo]):
    """Alpaca market-data streams on loopback, fed by the seeded market model.

    :param seed: the market model's seed (same seed and rates: the Massive dialect's values).
    :param port: own port (``0`` picks one); ignored with ``attach_to``.
    :param rate: mean trades per second per ticker, or a full :class:`~tickwire.sim.market.Rates`.
    :param tick_interval: seconds between data pushes.
    :param keys: key id → secret accepted besides the built-in :data:`SIM_KEY_ID`.
    :param plans: key id → the feeds its plan includes (others get 409); keys not listed: all.
    :param v2_disabled_keys: keys answered 408 (v2 not enabled).
    :param max_connections: sessions per (key, feed); ``None`` for no limit.
    :param reap_window: seconds a session that ended without a close handshake keeps its slot.
    :param auth_timeout: seconds to authenticate before a 404 and a close.
    :param symbol_limit: trade + quote symbols per connection (405 beyond); ``None``: unlimited.
    :param slow_client_bytes: write-buffer size past which a client gets 407 and is closed.
    :param max_events_per_frame: data items per frame at most (1: one item per frame).
    :param delay: seconds ``delayed_sip`` lags behind.
    :param speed: how fast market time runs against the wall clock (60: a minute bar a second).
    :param start: where the market clock starts: ``"session"`` (the default: the wall clock during a
        regular US session, else 11:00 US/Eastern of the latest trading day, so stocks trade
        whenever it is started), ``"now"`` (the wall clock; stocks then follow the real sessions)
        or Unix ms.
    :param news_interval: seconds of market time between articles on ``/v1beta1/news`` (``None``: none).
    :param correction_rate: share of stock trades followed by a correction (``c``).
    :param cancel_rate: share of stock trades followed by a cancel (``x``).
    :param universe: the instruments (default :func:`alpaca_universe`).
    :param attach_to: serve on this simulator's port instead of an own one.
    """

    dialect = "Alpaca"
    attach_paths = tuple(FEED_BY_PATH)

    def __init__(
        self,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate: float | Rates = 2.0,
        tick_interval: float = 0.05,
        keys: Mapping[str, str] | None = None,
        plans: Mapping[str, Iterable[str]] | None = None,
        v2_disabled_keys: Iterable[str] = (),
        max_connections: int | None = 1,
        reap_window: float = 90.0,
        auth_timeout: float = 10.0,
        symbol_limit: int | None = None,
        slow_client_bytes: int = 8 * 1024 * 1024,
        max_events_per_frame: int = 1_000,
        delay: float = 900.0,
        speed: float = 1.0,
        start: str | int = "session",
        news_interval: float | None = 30.0,
        correction_rate: float = 0.0,
        cancel_rate: float = 0.0,
        universe: Universe | None = None,
        close_timeout: float = 2.0,
        max_frame_size: int = 16 * 1024 * 1024,
        socket_send_buffer: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
        attach_to: SimulatorBase[Any, Any, Any] | None = None,
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
            counters=AlpacaCounters(),
            close_timeout=close_timeout,
            max_frame_size=max_frame_size,
            socket_send_buffer=socket_send_buffer,
            ssl_context=ssl_context,
            attach_to=attach_to,
        )
        rates = rate if isinstance(rate, Rates) else Rates(trades_per_second=float(rate))
        self.seed = seed
        self.tick_interval = tick_interval
        self.max_connections = max_connections
        self.reap_window = reap_window
        self.auth_timeout = auth_timeout
        self.symbol_limit = symbol_limit
        self.slow_client_bytes = slow_client_bytes
        self.max_events_per_frame = max(1, max_events_per_frame)
        self.delay_ms = int(delay * 1000)
        self.speed = speed
        self.correction_rate = correction_rate
        self.cancel_rate = cancel_rate
        self.model = MarketModel(seed, rates, universe if universe is not None else alpaca_universe())
        self._keys = {SIM_KEY_ID: SIM_SECRET_KEY, **(keys or {})}
        self._plans = {k: frozenset(v) for k, v in (plans or {}).items()}
        self._v2_disabled = frozenset(v2_disabled_keys)
        self.clock = MarketClock(start, speed)
        self._streams: dict[str, FeedStream] = {}
        stocks = [i.ticker for i in self.model.universe.instruments("stocks") if i.ticker != FAKEPACA]
        self.news = NewsDesk(seed, stocks, None if news_interval is None else int(news_interval * 1000))
        self._held: dict[tuple[str | None, str], list[float]] = {}
        self._actions: list[AlpacaAction] = []
        self._handshakes: list[AlpacaHandshake] = []
        self._errors: list[tuple[int, int]] = []

    def __repr__(self) -> str:
        state = f"listening on {self.url}" if self.running else "stopped"
        return f"<AlpacaSimulator seed={self.seed} {state} connections={len(self._conns)}>"

    # ------------------------------------------------------------------ addresses and clock

    def url_for(self, feed: str = "iex") -> str:
        """The URL of a feed, e.g. ``ws://127.0.0.1:PORT/v2/iex`` (``crypto``, ``opra``, ``news``...)."""
        found = FEEDS.get(feed)
        if found is None:
            raise ValueError(f"unknown Alpaca feed {feed!r}; one of: {', '.join(FEEDS)}")
        return self.url + found.path

    @property
    def key_id(self) -> str:
        return SIM_KEY_ID

    @property
    def secret_key(self) -> str:
        return SIM_SECRET_KEY

    def now_ms(self) -> int:
        """The market clock in Unix ms (see ``start`` and ``speed``)."""
        return self.clock.now_ms()

    def run_in_thread(self) -> AlpacaThread:
        """A blocking facade running this simulator on its own event loop in a daemon thread."""
        from tickwire.sim.alpaca.thread import AlpacaThread

        return AlpacaThread(self)

    def _loops(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        return [("tickwire-alpaca-tick", self._every(self.tick_interval, self._tick, "tick"))]

    async def restart(self, port: int | None = None) -> None:
        """As the base; a restarted server has no sessions left to reap."""
        await super().restart(port)
        self._held.clear()

    # ------------------------------------------------------------------ faults of this dialect

    def send_error(self, code: int, endpoint: str | None = None, *, message: str | None = None) -> int:
        """Send ``[{"T":"error","code":code,...}]`` (the closing codes then close). Returns how many."""
        conns = self._select(endpoint)
        for conn in conns:
            self._error(conn, code, message)
        self._notify()
        return len(conns)

    def reap(self) -> int:
        """Free every slot held by a dead session now (as if the reaping window had passed)."""
        n = sum(len(v) for v in self._held.values())
        self._held.clear()
        return n

    def send_status(
        self,
        symbol: str,
        status_code: str = "H",
        status_message: str = "Trading Halt",
        reason_code: str = "T12",
        reason_message: str = "Trading halted; additional information requested by the listing market",
        endpoint: str | None = "stocks",
    ) -> int:
        """Publish a trading status (``s``) of ``symbol`` to its ``statuses`` subscribers."""
        t = wire.WireTime(self.now_ms() * 1_000_000)
        item = wire.Status(symbol, status_code, status_message, reason_code, reason_message, t, "C")
        return self._publish(endpoint, [wire.Piece("statuses", (symbol,), item, t.ns)])

    def halt(self, symbol: str, endpoint: str | None = "stocks") -> int:
        """A trading halt of ``symbol`` (``sc`` ``H``)."""
        return self.send_status(symbol, endpoint=endpoint)

    def resume(self, symbol: str, endpoint: str | None = "stocks") -> int:
        """Trading resumes for ``symbol`` (``sc`` ``T``)."""
        return self.send_status(symbol, "T", "Trading Resumption", "", "", endpoint)

    def correct_trade(self, symbol: str, feed: str = "sip") -> wire.Correction | None:
        """Correct the last trade of ``symbol`` sent on ``feed`` (price one tick up); ``None`` if none."""
        stream = self._streams.get(feed)
        last = stream.last_trades.get(symbol) if stream is not None else None
        if stream is None or last is None:
            return None
        piece = stream.correction(stream.instruments[symbol], last)
        self._publish(feed, [piece])
        assert isinstance(piece.item, wire.Correction)
        return piece.item

    def cancel_trade(self, symbol: str, feed: str = "sip", action: str = "C") -> wire.CancelError | None:
        """Cancel (``C``) or mark in error (``E``) the last trade of ``symbol`` sent on ``feed``."""
        stream = self._streams.get(feed)
        last = stream.last_trades.get(symbol) if stream is not None else None
        if last is None:
            return None
        item = build.cancel_item(last, action)
        self._publish(feed, [wire.Piece("cancelErrors", (symbol,), item, last.t.ns)])
        return item

    def publish_news(self, headline: str, symbols: Iterable[str]) -> wire.News:
        """Publish an article now to the news subscribers of its symbols (or ``*``)."""
        piece = self.news.publish(headline, list(symbols), self.now_ms() * 1_000_000)
        self._publish("news", [piece])
        assert isinstance(piece.item, wire.News)
        return piece.item

    # ------------------------------------------------------------------ observation

    @property
    def handshakes(self) -> list[AlpacaHandshake]:
        """Every upgrade that reached an Alpaca path, in order."""
        return list(self._handshakes)

    def actions(
        self, feed: str | None = None, action: str | None = None, *, conn_id: int | None = None
    ) -> list[AlpacaAction]:
        """Client messages received, in order (optionally of one feed, action or connection)."""
        return [
            a
            for a in self._actions
            if (feed is None or feed_matches(FEEDS[a.feed], feed))
            and (action is None or a.action == action)
            and (conn_id is None or a.conn_id == conn_id)
        ]

    def clear_actions(self) -> None:
        self._actions.clear()

    def errors_sent(self) -> list[tuple[int, int]]:
        """``(connection id, code)`` of every error frame sent, in order."""
        return list(self._errors)

    def held_slots(self, feed: str | None = None) -> int:
        """Slots held by dead sessions not yet reaped (of one feed, or all)."""
        self._expire_held()
        return sum(len(v) for (_, f), v in self._held.items() if feed is None or f == feed)

    def subscriptions(self, feed: str = "iex") -> dict[str, tuple[str, ...]]:
        """The union of the acked subscriptions of the open connections on ``feed``."""
        out: dict[str, set[str]] = {}
        for conn in self._conns.values():
            if conn.live and conn.feed.name == feed:
                for channel, symbols in conn.subs.snapshot().items():
                    out.setdefault(channel, set()).update(symbols)
        return {c: tuple(sorted(s)) for c, s in out.items()}

    def symbols(self, feed: str = "iex") -> list[str]:
        """The symbols ``feed`` has data for."""
        return self._stream(FEEDS[feed]).symbols

    def trades(self, feed: str, symbol: str, start_ms: int, end_ms: int) -> list[wire.Item]:
        """The trade items ``feed`` sends for ``symbol`` in ``[start_ms, end_ms)`` of its market time."""
        stream = self._stream(FEEDS[feed])
        inst = stream.instruments[symbol]
        return [
            build.trade_item(stream.feed, t)
            for t in self.model.trades(inst.cluster, inst.ticker, start_ms, end_ms)
        ]

    def quotes(self, feed: str, symbol: str, start_ms: int, end_ms: int) -> list[wire.Item]:
        """The quote items ``feed`` sends for ``symbol`` in ``[start_ms, end_ms)``."""
        stream = self._stream(FEEDS[feed])
        inst = stream.instruments[symbol]
        return [
            build.quote_item(stream.feed, q)
            for q in self.model.quotes(inst.cluster, inst.ticker, start_ms, end_ms)
        ]

    def bars(self, feed: str, symbol: str, start_ms: int, end_ms: int) -> list[wire.Bar]:
        """The minute bars (``b``) ``feed`` sends for ``symbol``, starting in ``[start_ms, end_ms)``."""
        stream = self._stream(FEEDS[feed])
        inst = stream.instruments[symbol]
        return [
            build.bar_item(stream.feed, b)
            for b in self.model.bars(inst.cluster, inst.ticker, start_ms, end_ms, "minute")
        ]

    def book(self, symbol: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]] | None:
        """``(bids, asks)`` best first of a crypto ``symbol`` as last published (``None``: never)."""
        stream = self._streams.get("crypto")
        book = stream.book(symbol) if stream is not None else None
        return None if book is None else (list(book.bids), list(book.asks))

    async def wait_subscribed(
        self,
        feed: str,
        channels: Mapping[str, Iterable[str]],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> AlpacaConnectionInfo:
        """Wait until one open connection on ``feed`` has acked all ``channels`` (channel → symbols)."""
        wanted = {c: set(s) for c, s in channels.items()}

        def find() -> AlpacaConnectionInfo | None:
            for conn in self._conns.values():
                if conn.live and conn.feed.name == feed:
                    have = conn.subs.snapshot()
                    if all(s <= set(have.get(c, ())) for c, s in wanted.items()):
                        return conn.info()
            return None

        await self.wait_until(lambda: find() is not None, timeout, f"subscriptions {wanted} on {feed}")
        found = find()
        assert found is not None
        return found

    async def wait_actions(
        self,
        n: int,
        action: str | None = None,
        feed: str | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[AlpacaAction]:
        """Wait until at least ``n`` matching client messages arrived; returns all matching ones."""
        await self.wait_until(
            lambda: len(self.actions(feed, action)) >= n, timeout, f"{n} {action or ''} action(s)"
        )
        return self.actions(feed, action)

    # ------------------------------------------------------------------ the upgrade

    def _resolve(self, path: str) -> str | Refusal:
        feed = FEED_BY_PATH.get(path.split("?", 1)[0])
        if feed is None:
            return Refusal(404, f"no Alpaca stream at {path[:80]!r}".encode())
        return feed.name

    def _admit(self, request: WSUpgradeRequest, endpoint: str) -> _Conn | Refusal:
        feed = FEEDS[endpoint]
        encoding = _encoding(request)
        if feed.msgpack_only and encoding != "msgpack":
            return Refusal(400, b"this stream speaks msgpack only: send Content-Type: application/msgpack")
        headers = (_header(request, "APCA-API-KEY-ID"), _header(request, "APCA-API-SECRET-KEY"))
        return _Conn(self, feed, encoding, next(self._ids), headers)

    def _handshake_seen(self, request: WSUpgradeRequest, endpoint: str, status: int, reason: str) -> None:
        kid = _header(request, "APCA-API-KEY-ID")
        self._handshakes.append(
            AlpacaHandshake(
                path=FEEDS[endpoint].path,
                feed=endpoint,
                encoding=_encoding(request),
                header_key_id=key_id(kid) if kid else None,
                user_agent=_header(request, "User-Agent"),
                status=status,
                reason=reason,
                at=time.time(),
            )
        )

    # ------------------------------------------------------------------ the session

    def _on_open(self, conn: _Conn) -> None:
        self._send(conn, wire.control_frame(_CONNECTED, conn.encoding))
        kid, secret = conn.header_auth
        if kid or secret:
            self._authenticate(conn, kid, secret)
        elif self.auth_timeout > 0:
            conn.auth_timer = asyncio.get_running_loop().call_later(
                self.auth_timeout, self._auth_timed_out, conn
            )

    def _on_close(self, conn: _Conn) -> None:
        if not conn.holds_slot:
            return
        conn.holds_slot = False
        if not conn.clean_end and self.reap_window > 0:
            self._held.setdefault((conn.key_fp, conn.feed.name), []).append(
                time.monotonic() + self.reap_window
            )

    def _close(self, conn: _Conn, code: int, reason: str) -> None:
        conn.clean_end = True  # the server ends it: it knows the session is gone
        super()._close(conn, code, reason)

    def _send(self, conn: _Conn, data: bytes, *, force: bool = False, binary: bool | None = None) -> bool:
        """As the base; msgpack connections get binary frames, JSON ones text frames."""
        return super()._send(
            conn, data, force=force, binary=conn.encoding == "msgpack" if binary is None else binary
        )

    def _received(self, conn: _Conn, payload: bytes) -> None:
        if conn.closing:
            return
        req = parse_message(payload, conn.encoding)
        if req is None:
            self._counters.invalid += 1
            self._record(conn, "invalid", {}, None, ErrorCode.INVALID_SYNTAX)
            self._error(conn, ErrorCode.INVALID_SYNTAX)
        elif req.action == "auth":
            fp = key_id(req.key) if req.key else None
            if conn.authenticated:
                self._record(conn, "auth", {}, fp, ErrorCode.ALREADY_AUTHENTICATED)
                self._error(conn, ErrorCode.ALREADY_AUTHENTICATED)
            else:
                code = self._authenticate(conn, req.key or "", req.secret or "")
                self._record(conn, "auth", {}, fp, code)
        elif not conn.authenticated:
            self._record(conn, req.action, req.channels, None, ErrorCode.NOT_AUTHENTICATED)
            self._error(conn, ErrorCode.NOT_AUTHENTICATED)
        else:
            self._change(conn, req)
        self._notify()

    def _change(self, conn: _Conn, req: Request) -> None:
        added: dict[str, list[str]] = {}
        if req.action == "subscribe":
            self._counters.subscribes += 1
            error, added = conn.subs.subscribe(req.channels)
        else:
            self._counters.unsubscribes += 1
            error = conn.subs.unsubscribe(req.channels)
        self._record(conn, req.action, req.channels, None, error)
        if error is not None:
            self._error(conn, error)
            return
        conn.current = conn.subs.current()
        conn.subs_key = frozenset(conn.current.items())
        self._send(conn, wire.control_frame(conn.subs.ack(), conn.encoding))
        books = added.get("orderbooks")
        if books:
            stream = self._stream(conn.feed)
            symbols = stream.symbols if "*" in books else books
            now = self.now_ms()
            pieces = [p for s in symbols if (p := stream.snapshot(s, now)) is not None]
            self._send_data(conn, wire.frames_of(pieces, conn.encoding, self.max_events_per_frame))

    def _authenticate(self, conn: _Conn, key: str, secret: str) -> ErrorCode | None:
        """Check the credentials and the slot; answer ``authenticated`` or the error."""
        if conn.auth_timer is not None:
            conn.auth_timer.cancel()
            conn.auth_timer = None
        code = self._check_key(conn.feed, key, secret)
        fp = key_id(key) if key else None
        if code is None and not self._slot_free(fp, conn.feed.name):
            code = ErrorCode.CONNECTION_LIMIT_EXCEEDED
            self._counters.connection_limit += 1
        if code is not None:
            if code == ErrorCode.AUTH_FAILED:
                self._counters.auth_failed += 1
            self._error(conn, code)
            return code
        conn._authenticated = True
        conn.key_fp = fp
        conn.holds_slot = True
        self._counters.auth_success += 1
        self._send(conn, wire.control_frame(_AUTHENTICATED, conn.encoding))
        return None

    def _check_key(self, feed: Feed, key: str, secret: str) -> ErrorCode | None:
        expected = self._keys.get(key)
        if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
            return ErrorCode.AUTH_FAILED
        if key in self._v2_disabled:
            return ErrorCode.V2_NOT_ENABLED
        plan = self._plans.get(key)
        if plan is not None and feed.name not in plan:
            return ErrorCode.INSUFFICIENT_SUBSCRIPTION
        return None

    def _expire_held(self) -> None:
        now = time.monotonic()
        for slot, until in list(self._held.items()):
            left = [t for t in until if t > now]
            if left:
                self._held[slot] = left
            else:
                del self._held[slot]

    def _slot_free(self, fp: str | None, feed: str) -> bool:
        if self.max_connections is None:
            return True
        self._expire_held()
        live = sum(
            1
            for c in self._conns.values()
            if c.live and c.holds_slot and c.key_fp == fp and c.feed.name == feed
        )
        return live + len(self._held.get((fp, feed), ())) < self.max_connections

    def _auth_timed_out(self, conn: _Conn) -> None:
        conn.auth_timer = None
        if conn.live and not conn.authenticated:
            self._counters.auth_timeout += 1
            self._error(conn, ErrorCode.AUTH_TIMEOUT)
            self._notify()

    def _error(self, conn: _Conn, code: int, message: str | None = None) -> None:
        """Send an error frame (policy errors even to a muted connection); close after the closing codes."""
        text = message if message is not None else _message(code)
        closing = code in CLOSING
        self._send(conn, wire.control_frame(wire.ErrorMsg(code, text), conn.encoding), force=closing)
        self._counters.errors_sent += 1
        self._errors.append((conn.id, code))
        if closing:
            self._close(conn, CLOSE_CODE, text)

    def _record(
        self,
        conn: _Conn,
        action: str,
        channels: dict[str, tuple[str, ...]],
        fp: str | None,
        error: int | None,
    ) -> None:
        self._actions.append(
            AlpacaAction(
                len(self._actions), conn.id, conn.feed.name, action, channels, fp, error, time.time()
            )
        )

    # ------------------------------------------------------------------ the data pump

    def _stream(self, feed: Feed) -> FeedStream:
        stream = self._streams.get(feed.name)
        if stream is None:
            stream = self._streams[feed.name] = FeedStream(
                feed,
                self.model,
                delay_ms=self.delay_ms,
                max_catchup_ms=int(2_000 * self.speed),
                correction_rate=self.correction_rate,
                cancel_rate=self.cancel_rate,
            )
            stream.skip(self.now_ms())
        return stream

    def _tick(self) -> None:
        self._counters.ticks += 1
        now = self.now_ms()
        listeners: dict[str, list[_Conn]] = {}
        for conn in self._conns.values():
            if conn.live and not conn.muted and conn.current and conn.authenticated:
                listeners.setdefault(conn.feed.name, []).append(conn)
        news = listeners.get("news")
        if news and not self._paused:
            self._deliver(news, self.news.collect(now, _union(news).get("news")))
        else:
            self.news.skip(now)
        for name, feed in FEEDS.items():
            if feed.asset_class == "news":
                continue
            conns = listeners.get(name)
            stream = self._streams.get(name)
            if stream is None:
                if conns:
                    stream = self._stream(feed)
                continue
            if not conns or self._paused:
                stream.skip(now)
                continue
            self._deliver(conns, stream.collect(now, _union(conns)))

    def _deliver(self, conns: list[_Conn], pieces: list[wire.Piece]) -> None:
        """Send each connection the pieces it subscribed to (frames shared by equal subscriptions)."""
        if not pieces:
            return
        shared: dict[tuple[str, frozenset[tuple[str, frozenset[str]]]], list[tuple[bytes, int]]] = {}
        for conn in conns:
            key = (conn.encoding, conn.subs_key)
            frames = shared.get(key)
            if frames is None:
                mine = [p for p in pieces if matches(p, conn.current)]
                frames = shared[key] = wire.frames_of(mine, conn.encoding, self.max_events_per_frame)
            if frames:
                self._send_data(conn, frames)
        self._notify()

    def _publish(self, endpoint: str | None, pieces: list[wire.Piece]) -> int:
        """Push fault/test items now to the matching subscribers of the selected feeds."""
        conns = [c for c in self._select(endpoint) if c.authenticated and c.current]
        self._deliver(conns, pieces)
        return len(conns)

    def _send_data(self, conn: _Conn, frames: list[tuple[bytes, int]]) -> None:
        """Send data frames, counted, unless the client is too slow (then 407 and a close)."""
        transport = conn.transport
        if transport is None:
            return
        buffered = transport.underlying_transport.get_write_buffer_size
        counters = self._counters
        for data, n in frames:
            if buffered() > self.slow_client_bytes:
                counters.slow_clients += 1
                self._error(conn, ErrorCode.SLOW_CLIENT)
                return
            if not self._send(conn, data):
                return
            conn.events_sent += n
            counters.frames_sent += 1
            counters.events_sent += n
            counters.bytes_sent += len(data)


def _union(conns: list[_Conn]) -> Wanted:
    """Channel → the symbols any of ``conns`` wants (``None`` where one of them wants ``*``)."""
    out: dict[str, set[str] | None] = {}
    for conn in conns:
        for channel, symbols in conn.current.items():
            have = out.get(channel, set())
            if have is None:
                continue
            out[channel] = None if "*" in symbols else have | symbols
    return {c: None if s is None else frozenset(s) for c, s in out.items()}


def _message(code: int) -> str:
    try:
        return ErrorCode(code).message
    except ValueError:
        return "error"


def _header(request: WSUpgradeRequest, name: str) -> str:
    return str(request.headers.get(name, "")).strip()


def _encoding(request: WSUpgradeRequest) -> wire.Encoding:
    return "msgpack" if _MSGPACK in _header(request, "Content-Type").lower() else "json"
