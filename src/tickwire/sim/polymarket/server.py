"""The Polymarket US simulator dialect: ``/v1/ws/markets`` and ``/v1/ws/private`` on loopback.

Theory of operation
-------------------
:class:`PolymarketSimulator` decides each WebSocket upgrade in :meth:`route` (the
``X-PM-*`` headers are verified: known key id, timestamp within ``max_skew`` of the
server clock, Ed25519 signature over ``ts + "GET" + path``; anything else is a 401
saying which check failed). It either listens on its own port, or is attached to a
:class:`~tickwire.sim.server.MassiveSimulator` so that one ``tickwire sim`` port serves
both dialects (the Massive server hands it the two paths).

Each connection keeps its subscriptions by ``requestId``. There are no acks: a request
either takes effect, with the snapshot its type has (MARKET_DATA and MARKET_DATA_LITE: the
current book of each market; ACCOUNT_BALANCE: the balances; ORDER_SNAPSHOT: the open
orders in pages, the last with ``eof: true``), or is answered with
``{"requestId", "error"}``. A tick task advances the market model one step per
``tick_interval`` and pushes books, lite prices and trades; every ``account_interval`` each
connected account trades a little (executions, positions, balances, consistent with
each other). A heartbeat task sends ``{"heartbeat": {}}`` every ``heartbeat_interval``.
Frames are camelCase with enum names; ``legacy=True`` writes the seed's snake_case
with enum numbers. Requests are read in either form.

Faults mirror the Massive dialect: ``drop``, ``close``, ``mute`` (no data and no
heartbeats), ``send_raw``, ``refuse_handshakes`` (e.g. 401, 429), ``pause_data``,
``fail_next_snapshot``, ``stop`` and ``restart``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

import msgspec
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

from tickwire.errors import ConfigError
from tickwire.polymarket_us.enums import Socket, SubscriptionType, parse_subscription_type
from tickwire.polymarket_us.signing import MAX_SKEW_MS, public_key_b64, verify_signature
from tickwire.polymarket_us.wire import (
    Amount,
    LevelPrice,
    WireBalancesSnapshot,
    WireBalancesUpdate,
    WireFrame,
    WireLevel,
    WireMarketData,
    WireMarketDataLite,
    WireOrderSnapshot,
    WireOrderUpdate,
    WireRequest,
    WireStats,
    WireTrade,
    WireTradeSide,
    camelize,
    to_legacy,
)
from tickwire.sim.faults import HandshakeGate
from tickwire.sim.polymarket.account import Account, Activity, rfc3339
from tickwire.sim.polymarket.model import DEFAULT_MARKETS, Level, PolymarketModel

if TYPE_CHECKING:
    from tickwire.sim.server import MassiveSimulator

__all__ = [
    "SIM_KEY_ID",
    "SIM_SECRET_KEY",
    "HandshakeRecord",
    "PmConnectionInfo",
    "PmCounters",
    "PolymarketSimulator",
]

log = logging.getLogger("tickwire.sim.polymarket")

SIM_KEY_ID = "00000000-0000-4000-8000-00000000beef"
"""The simulator's built-in key id (a test key, public on purpose)."""
SIM_SECRET_KEY = "dGlja3dpcmUtcG9seW1hcmtldC1zaW0ta2V5LTAwMDA="
"""Its base64 Ed25519 seed (32 bytes)."""

_MAX_SLUGS = 100
_ENC = msgspec.json.Encoder()
_HEARTBEAT = b'{"heartbeat":{}}'
_PATHS = {Socket.MARKETS.path: Socket.MARKETS, Socket.PRIVATE.path: Socket.PRIVATE}


@dataclass(frozen=True, slots=True)
class HandshakeRecord:
    """One upgrade attempt as the server saw it (the signature is kept to compare attempts)."""

    path: str
    key_id: str
    timestamp: str
    signature: str
    status: int
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class PmConnectionInfo:
    id: int
    socket: str
    key_id: str
    subscriptions: dict[str, tuple[str, tuple[str, ...]]]
    """requestId → (subscription type name, market slugs)."""
    muted: bool
    frames_sent: int


@dataclass(slots=True)
class PmCounters:
    handshakes: int = 0
    refused: int = 0
    auth_failed: int = 0
    subscribes: int = 0
    unsubscribes: int = 0
    errors_sent: int = 0
    frames_sent: int = 0
    heartbeats_sent: int = 0
    drops: int = 0
    ticks: int = 0


@dataclass(slots=True)
class _Sub:
    type: SubscriptionType
    slugs: frozenset[str]


class _Conn(WSListener):
    def __init__(self, sim: PolymarketSimulator, socket: Socket, key_id: str, conn_id: int) -> None:
        super().__init__()
        self.sim = sim
        self.socket = socket
        self.key_id = key_id
        self.id = conn_id
        self.transport: WSTransport | None = None
        self.subs: dict[str, _Sub] = {}
        self.open = False
        self.closing = False
        self.muted = False
        self.frames_sent = 0
        self.close_timer: asyncio.TimerHandle | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.sim._opened(self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
            self.sim._received(self, frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.CLOSE:
            if not transport.is_close_frame_sent:
                transport.send_close(WSCloseCode.OK)
            self.closing = True
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.sim._disconnected(self)

    def info(self) -> PmConnectionInfo:
        return PmConnectionInfo(
            id=self.id,
            socket=self.socket.value,
            key_id=self.key_id,
            subscriptions={rid: (s.type.name, tuple(sorted(s.slugs))) for rid, s in self.subs.items()},
            muted=self.muted,
            frames_sent=self.frames_sent,
        )


class PolymarketSimulator:
    """Polymarket US WebSocket server on loopback (standalone, or attached to a Massive simulator).

    :param seed: seeds the markets and accounts.
    :param port: own port (``0`` picks one); ignored when ``attach_to`` is given.
    :param markets: the market slugs served (others are answered with an error).
    :param keys: key id → base64 secret (or ``{"public": <base64 public key>}``-style raw public key
        with ``public=True`` entries in ``public_keys``); the built-in :data:`SIM_KEY_ID` is always known.
    :param tick_interval: seconds per market step (books, lite prices and trades are pushed each step).
    :param heartbeat_interval: seconds between heartbeats (``None``: no heartbeats).
    :param account_interval: seconds between account activities (``None``: only on :meth:`step_account`).
    :param snapshot_page_size: orders per ORDER_SNAPSHOT frame.
    :param legacy: write the seed's snake_case / integer-enum format instead of camelCase.
    :param max_skew: accepted distance of ``X-PM-Timestamp`` from the server clock, in seconds.
    :param open_orders: open orders each new account starts with.
    :param attach_to: serve on this Massive simulator's port instead of an own one.
    :param ssl_context: serve ``wss://`` on the own port (attached, the Massive simulator's TLS applies).
    """

    def __init__(
        self,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        markets: Iterable[str] = DEFAULT_MARKETS,
        keys: Mapping[str, str] | None = None,
        public_keys: Mapping[str, str] | None = None,
        tick_interval: float = 0.1,
        heartbeat_interval: float | None = 5.0,
        account_interval: float | None = 1.0,
        snapshot_page_size: int = 2,
        legacy: bool = False,
        max_skew: float = MAX_SKEW_MS / 1000,
        levels: int = 5,
        trade_probability: float = 0.3,
        open_orders: int = 5,
        close_timeout: float = 1.0,
        attach_to: MassiveSimulator | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if tick_interval <= 0:
            raise ValueError("tick_interval must be > 0")
        if snapshot_page_size < 1:
            raise ValueError("snapshot_page_size must be >= 1")
        self.seed = seed
        self.host = host
        self._port = port
        self.model = PolymarketModel(seed, tuple(markets), levels=levels, trade_probability=trade_probability)
        self.tick_interval = tick_interval
        self.step_ms = max(1, round(tick_interval * 1000))
        self.heartbeat_interval = heartbeat_interval
        self.account_interval = account_interval
        self.snapshot_page_size = snapshot_page_size
        self.legacy = legacy
        self.max_skew_ms = int(max_skew * 1000)
        self.open_orders = open_orders
        self.close_timeout = close_timeout
        self.origin_ms = (time.time_ns() // 1_000_000 // self.step_ms) * self.step_ms
        self._public: dict[str, str] = {SIM_KEY_ID: public_key_b64(SIM_SECRET_KEY)}
        for kid, secret in (keys or {}).items():
            self._public[kid] = public_key_b64(secret)
        self._public.update(public_keys or {})
        self._attached = attach_to
        self.ssl_context = attach_to.ssl_context if attach_to is not None else ssl_context
        self._gate = HandshakeGate()
        self._counters = PmCounters()
        self._conns: dict[int, _Conn] = {}
        self._accounts: dict[str, Account] = {}
        self._handshakes: list[HandshakeRecord] = []
        self._requests: list[tuple[int, str, dict[str, Any]]] = []
        self._ids = itertools.count(1)
        self._states: dict[str, str] = {}
        self._stats: dict[str, dict[str, Decimal]] = {}
        self._step = self.current_step()
        self._paused = False
        self._mute_new = False
        self._snapshot_error: str | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<PolymarketSimulator seed={self.seed} url={self.url} connections={len(self._conns)}>"

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        return self._attached.port if self._attached is not None else self._port

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT`` (``wss://`` with TLS): the base URL (SDK: ``api_base_url="http://127.0.0.1:PORT"``)."""
        return f"{'wss' if self.ssl_context is not None else 'ws'}://{self.host}:{self.port}"

    def url_for(self, socket: Socket | str) -> str:
        return self.url + Socket(socket).path

    @property
    def key_id(self) -> str:
        return SIM_KEY_ID

    @property
    def secret_key(self) -> str:
        return SIM_SECRET_KEY

    @property
    def markets(self) -> list[str]:
        return self.model.markets

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> PolymarketSimulator:
        """Listen (own port) or register with the Massive simulator, and start pushing data."""
        if self._attached is None:
            await self._listen(self._port)
        return self.start_attached() if self._attached is not None else self._start_tasks()

    def start_attached(self) -> PolymarketSimulator:
        """:meth:`start` for the attached mode, callable from synchronous code on the running loop."""
        if self._attached is None:
            raise RuntimeError("start_attached() needs attach_to=; use start() for an own port")
        self._attached.routes.update(dict.fromkeys(_PATHS, self.route))
        return self._start_tasks()

    def _start_tasks(self) -> PolymarketSimulator:
        self._loop = asyncio.get_running_loop()
        if not self._tasks:
            self._tasks.append(self._loop.create_task(self._tick_loop(), name="tickwire-pm-tick"))
            if self.heartbeat_interval:
                self._tasks.append(
                    self._loop.create_task(self._heartbeat_loop(), name="tickwire-pm-heartbeat")
                )
        return self

    async def aclose(self) -> None:
        await self.stop()
        if self._attached is not None:
            for path in _PATHS:
                self._attached.routes.pop(path, None)
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def __aenter__(self) -> PolymarketSimulator:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _listen(self, port: int) -> None:
        if self._server is not None:
            return
        self._server = await ws_create_server(
            self.route,
            self.host,
            port,
            enable_auto_pong=True,
            websocket_handshake_timeout=5,
            logger_name="tickwire.sim.polymarket",
            ssl=self.ssl_context,
            use_aiofastnet=False if self.ssl_context is not None else None,  # as in ..server._listen
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self, code: int | None = None, reason: str = "") -> None:
        """Stop listening (own port only) and end every connection: aborted, or closed with ``code``."""
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
        await self.wait_until(lambda: not self._conns, self.close_timeout + 2.0, "connections to end")

    async def restart(self, port: int | None = None) -> None:
        """Stop if running, then accept connections again (on ``port`` if given, own port only)."""
        await self.stop()
        self._stopped = False
        if self._attached is None:
            await self._listen(self._port if port is None else port)

    _stopped = False

    # ------------------------------------------------------------------ faults

    def _select(self, socket: str | None) -> list[_Conn]:
        return [
            c
            for c in self._conns.values()
            if c.open and not c.closing and (socket is None or c.socket.value == socket)
        ]

    def drop(self, socket: str | None = None, *, graceful: bool = False) -> int:
        """End connections without a close frame (the client sees 1006): reset them, or with
        ``graceful=True`` close the TCP stream cleanly (FIN) instead."""
        conns = self._select(socket)
        for conn in conns:
            self._counters.drops += 1
            if graceful and conn.transport is not None:
                conn.closing = True
                conn.transport.disconnect(graceful=True)
            else:
                self._abort(conn)
        return len(conns)

    def close(self, code: int = 1000, reason: str = "", socket: str | None = None) -> int:
        conns = self._select(socket)
        for conn in conns:
            self._close(conn, code, reason)
        return len(conns)

    def mute(self, socket: str | None = None, *, new_connections: bool = False) -> int:
        """Stop sending anything (data, heartbeats, replies) on open connections: a silent socket."""
        conns = self._select(socket)
        for conn in conns:
            conn.muted = True
        self._mute_new = new_connections
        return len(conns)

    def unmute(self, socket: str | None = None) -> int:
        conns = self._select(socket)
        for conn in conns:
            conn.muted = False
        self._mute_new = False
        return len(conns)

    def send_raw(self, payload: str | bytes, socket: str | None = None) -> int:
        data = payload.encode() if isinstance(payload, str) else payload
        conns = self._select(socket)
        for conn in conns:
            self._send(conn, data, force=True)
        return len(conns)

    def refuse_handshakes(
        self, status: int = 503, count: int | None = None, body: bytes | None = None
    ) -> None:
        """Answer the next ``count`` upgrades (``None``: all) with HTTP ``status`` (401, 429, 503...)."""
        self._gate.refuse(status, count, body)

    def accept_handshakes(self) -> None:
        self._gate.accept()

    def pause_data(self) -> None:
        """No market data or account activity (heartbeats go on)."""
        self._paused = True

    def resume_data(self) -> None:
        self._paused = False
        self._step = self.current_step()

    def fail_next_snapshot(self, message: str = "deadline exceeded") -> None:
        """End the next ORDER_SNAPSHOT early: its terminal frame carries ``error``."""
        self._snapshot_error = message

    def set_market_state(self, slug: str, state: str) -> None:
        self._states[slug] = state if state.startswith("MARKET_STATE_") else "MARKET_STATE_" + state.upper()

    # ------------------------------------------------------------------ the simulated world

    def current_step(self, now_ms: int | None = None) -> int:
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        return (now - self.origin_ms) // self.step_ms

    def step_time_ns(self, step: int) -> int:
        return (self.origin_ms + step * self.step_ms) * 1_000_000

    def step_at(self, time_ns: int) -> int:
        """The model step whose book was sent with ``transactTime`` ``time_ns``."""
        return (time_ns // 1_000_000 - self.origin_ms) // self.step_ms

    def book(self, slug: str, time_ns: int | None = None) -> tuple[list[Level], list[Level]]:
        """``(bids, offers)`` best first, as sent at ``time_ns`` (a ``transactTime``; default now)."""
        if slug not in self.model:
            raise KeyError(f"unknown market {slug!r}")
        step = self._step if time_ns is None else self.step_at(time_ns)
        return self.model.book(slug, step)

    def account(self, key_id: str = SIM_KEY_ID) -> Account:
        """The account of ``key_id`` (created with its opening orders on first use)."""
        acct = self._accounts.get(key_id)
        if acct is None:
            acct = Account(key_id, self.model, self.seed)
            acct.seed_orders(self.open_orders, time.time_ns())
            self._accounts[key_id] = acct
        return acct

    def step_account(self, key_id: str = SIM_KEY_ID) -> list[Activity]:
        """One account activity now (a fill, maybe a new order), pushed to subscribers."""
        acts = self.account(key_id).step(time.time_ns())
        self._publish_activities(key_id, acts)
        return acts

    # ------------------------------------------------------------------ observation

    @property
    def counters(self) -> PmCounters:
        return PmCounters(**{f: getattr(self._counters, f) for f in PmCounters.__dataclass_fields__})

    def connections(self, socket: str | None = None) -> list[PmConnectionInfo]:
        return [
            c.info() for c in self._conns.values() if c.open and (socket is None or c.socket.value == socket)
        ]

    @property
    def handshakes(self) -> list[HandshakeRecord]:
        return list(self._handshakes)

    def requests(self, socket: str | None = None, *, conn_id: int | None = None) -> list[dict[str, Any]]:
        """Client requests received (camelCase), in order; of one connection if ``conn_id`` is given."""
        return [
            r
            for cid, s, r in self._requests
            if (socket is None or s == socket) and (conn_id is None or cid == conn_id)
        ]

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "a condition",
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), min(remaining, 0.1))
            except TimeoutError:
                pass

    async def wait_subscribed(
        self,
        socket: str,
        request_ids: Iterable[str],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> PmConnectionInfo:
        wanted = set(request_ids)

        def find() -> PmConnectionInfo | None:
            for c in self._select(socket):
                if wanted <= c.subs.keys():
                    return c.info()
            return None

        await self.wait_until(
            lambda: find() is not None, timeout, f"subscriptions {sorted(wanted)} on {socket}"
        )
        found = find()
        assert found is not None
        return found

    # ------------------------------------------------------------------ handshakes

    def route(self, request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener | None:
        """Decide one upgrade: a connection, or an HTTP error (404 path, refused, 401 auth)."""
        raw_path = request.path.decode("latin-1")
        path = raw_path.split("?", 1)[0]
        socket = _PATHS.get(path)
        if socket is None:
            return self._refuse(404, f"no Polymarket US endpoint at {path[:80]!r}".encode())
        if self._stopped:
            return self._refuse(503, b"simulator stopped")
        headers = request.headers
        kid = str(headers.get("X-PM-Access-Key", "")).strip()
        ts = str(headers.get("X-PM-Timestamp", "")).strip()
        sig = str(headers.get("X-PM-Signature", "")).strip()
        status = self._gate.take()
        if status is not None:
            self._record(path, kid, ts, sig, status, "refused by fault injection")
            return self._refuse(status, self._gate.body)
        reason = self._check_auth(path, kid, ts, sig)
        if reason is not None:
            self._counters.auth_failed += 1
            self._record(path, kid, ts, sig, 401, reason)
            return self._refuse(401, reason.encode())
        self._record(path, kid, ts, sig, 101, "")
        return _Conn(self, socket, kid, next(self._ids))

    def _check_auth(self, path: str, kid: str, ts: str, sig: str) -> str | None:
        if not kid or not ts or not sig:
            return "missing X-PM-Access-Key, X-PM-Timestamp or X-PM-Signature header"
        public = self._public.get(kid)
        if public is None:
            return "unknown key id"
        if not ts.isdigit():
            return "X-PM-Timestamp must be Unix milliseconds"
        skew = int(ts) - time.time_ns() // 1_000_000
        if abs(skew) > self.max_skew_ms:
            limit = self.max_skew_ms / 1000
            return (
                f"timestamp outside the allowed window: clock skew {skew / 1000:+.1f} s (max ±{limit:.0f} s)"
            )
        if not verify_signature(public, ts, "GET", path, sig):
            return "invalid signature"
        return None

    def _record(self, path: str, kid: str, ts: str, sig: str, status: int, reason: str) -> None:
        self._handshakes.append(HandshakeRecord(path, kid, ts, sig, status, reason, time.time()))
        self._notify()

    def _refuse(self, status: int, body: bytes) -> WSUpgradeResponseWithListener:
        self._counters.refused += 1
        self._notify()
        return WSUpgradeResponseWithListener(WSUpgradeResponse.create_error_response(status, body), None)

    # ------------------------------------------------------------------ connections

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _opened(self, conn: _Conn) -> None:
        conn.open = True
        conn.muted = self._mute_new
        self._conns[conn.id] = conn
        self._counters.handshakes += 1
        if conn.socket is Socket.PRIVATE:
            self.account(conn.key_id)
        self._notify()

    def _disconnected(self, conn: _Conn) -> None:
        conn.open = False
        if conn.close_timer is not None:
            conn.close_timer.cancel()
        self._conns.pop(conn.id, None)
        self._notify()

    def _close(self, conn: _Conn, code: int, reason: str) -> None:
        t = conn.transport
        if t is None or not conn.open or conn.closing:
            return
        conn.closing = True
        t.send_close(WSCloseCode(code), reason.encode())
        assert self._loop is not None
        conn.close_timer = self._loop.call_later(self.close_timeout, self._abort, conn)
        self._notify()

    def _abort(self, conn: _Conn) -> None:
        if conn.transport is not None and conn.open:
            conn.closing = True
            conn.transport.disconnect(graceful=False)

    def _send(self, conn: _Conn, data: bytes, *, force: bool = False) -> None:
        t = conn.transport
        if t is None or not conn.open or conn.closing or t.is_close_frame_sent or (conn.muted and not force):
            return
        t.send(WSMsgType.TEXT, data)
        conn.frames_sent += 1
        self._counters.frames_sent += 1

    def _encode(self, frame: WireFrame) -> bytes:
        if self.legacy:
            return _ENC.encode(to_legacy(msgspec.to_builtins(frame)))
        return _ENC.encode(frame)

    def _error(
        self, conn: _Conn, request_id: str | None, message: str, stype: SubscriptionType | None = None
    ) -> None:
        self._counters.errors_sent += 1
        frame = WireFrame(
            request_id=request_id, error=message, subscription_type=stype.value if stype else None
        )
        self._send(conn, self._encode(frame))

    # ------------------------------------------------------------------ requests

    def _received(self, conn: _Conn, payload: bytes) -> None:
        if conn.closing:
            return
        try:
            raw = msgspec.json.decode(payload)
            if not isinstance(raw, dict):
                raise ValueError("not an object")
            req = msgspec.convert(camelize(raw), WireRequest)  # either key style
        except (ValueError, RecursionError) as exc:  # msgspec errors are ValueErrors
            self._requests.append(
                (conn.id, conn.socket.value, {"invalid": payload[:200].decode("utf-8", "replace")})
            )
            self._error(conn, None, f"invalid request: {exc}")
            self._notify()
            return
        self._requests.append((conn.id, conn.socket.value, msgspec.to_builtins(req)))
        if req.subscribe is not None:
            self._subscribe(
                conn, req.subscribe.request_id, req.subscribe.subscription_type, req.subscribe.market_slugs
            )
        elif req.unsubscribe is not None:
            rid = req.unsubscribe.request_id
            if conn.subs.pop(rid, None) is None:
                self._error(conn, rid, f"no subscription with requestId {rid!r}")
            else:
                self._counters.unsubscribes += 1
        else:
            self._error(conn, None, "expected a subscribe or unsubscribe request")
        self._notify()

    def _subscribe(self, conn: _Conn, rid: str, type_value: str | int, slugs: list[str]) -> None:
        if not rid:
            self._error(conn, None, "requestId is required")
            return
        try:
            stype = parse_subscription_type(type_value, conn.socket)
        except ConfigError:
            self._error(conn, rid, f"unknown subscription type {type_value!r}")
            return
        if stype.socket is not conn.socket:
            self._error(conn, rid, f"{stype.value} is not available on {conn.socket.path}", stype)
            return
        if rid in conn.subs:
            self._error(conn, rid, f"requestId {rid!r} is already in use", stype)
            return
        if len(slugs) > _MAX_SLUGS:
            self._error(
                conn, rid, f"too many markets: {len(slugs)} (at most {_MAX_SLUGS} per subscription)", stype
            )
            return
        unknown = [s for s in slugs if s not in self.model]
        if unknown:
            self._error(conn, rid, f"market not found: {', '.join(unknown[:5])}", stype)
            return
        if conn.socket is Socket.MARKETS and not slugs:
            self._error(conn, rid, "marketSlugs is required", stype)
            return
        self._counters.subscribes += 1
        if stype is SubscriptionType.ORDER_SNAPSHOT:
            self._order_snapshot(conn, rid, frozenset(slugs))
            return
        conn.subs[rid] = _Sub(stype, frozenset(slugs))
        if stype is SubscriptionType.MARKET_DATA:
            for slug in slugs:
                self._send(conn, self._market_data_frame(rid, slug, self._step))
        elif stype is SubscriptionType.MARKET_DATA_LITE:
            for slug in slugs:
                self._send(conn, self._lite_frame(rid, slug, self._step))
        elif stype is SubscriptionType.ACCOUNT_BALANCE:
            balance = self.account(conn.key_id).balance()
            self._send(
                conn,
                self._encode(
                    WireFrame(
                        request_id=rid,
                        subscription_type=stype.value,
                        account_balances_snapshot=WireBalancesSnapshot(balances=[balance]),
                    )
                ),
            )

    def _order_snapshot(self, conn: _Conn, rid: str, slugs: frozenset[str]) -> None:
        orders = [o.wire() for o in self.account(conn.key_id).open_orders if not slugs or o.slug in slugs]
        error, self._snapshot_error = self._snapshot_error, None
        size = self.snapshot_page_size
        pages = [orders[i : i + size] for i in range(0, len(orders), size)] or [[]]
        if error is not None:
            pages = pages[:1]
        for n, page in enumerate(pages, 1):
            last = n == len(pages)
            frame = WireFrame(
                request_id=rid,
                subscription_type=SubscriptionType.ORDER_SNAPSHOT.value,
                order_subscription_snapshot=WireOrderSnapshot(orders=page, eof=last),
                error=error if last else None,
            )
            if last and error is not None:
                self._counters.errors_sent += 1
            self._send(conn, self._encode(frame))

    # ------------------------------------------------------------------ market data

    def _market_data_frame(self, rid: str, slug: str, step: int) -> bytes:
        bids, offers = self.model.book(slug, step)
        stats = self._stats.get(slug, {})
        mid = self.model.mid(slug, step)
        frame = WireFrame(
            request_id=rid,
            subscription_type=SubscriptionType.MARKET_DATA.value,
            market_data=WireMarketData(
                market_slug=slug,
                bids=[WireLevel(px=LevelPrice(value=p, currency="USD"), qty=q) for p, q in bids],
                offers=[WireLevel(px=LevelPrice(value=p, currency="USD"), qty=q) for p, q in offers],
                state=self._states.get(slug, "MARKET_STATE_OPEN"),
                stats=WireStats(
                    last_trade_px=_usd(stats["last"]) if "last" in stats else None,
                    shares_traded=stats.get("volume", Decimal(0)),
                    open_interest=stats.get("volume", Decimal(0)) / 2,
                    high_px=_usd(stats["high"]) if "high" in stats else None,
                    low_px=_usd(stats["low"]) if "low" in stats else None,
                    current_px=_usd(mid),
                ),
                transact_time=rfc3339(self.step_time_ns(step)),
            ),
        )
        return self._encode(frame)

    def _lite_frame(self, rid: str, slug: str, step: int) -> bytes:
        bids, offers = self.model.book(slug, step)
        stats = self._stats.get(slug, {})
        frame = WireFrame(
            request_id=rid,
            subscription_type=SubscriptionType.MARKET_DATA_LITE.value,
            market_data_lite=WireMarketDataLite(
                market_slug=slug,
                current_px=_usd(self.model.mid(slug, step)),
                last_trade_px=_usd(stats["last"]) if "last" in stats else None,
                best_bid=_usd(bids[0][0]) if bids else None,
                best_ask=_usd(offers[0][0]) if offers else None,
                bid_depth=len(bids),
                ask_depth=len(offers),
                shares_traded=stats.get("volume", Decimal(0)),
                open_interest=stats.get("volume", Decimal(0)) / 2,
                state=self._states.get(slug, "MARKET_STATE_OPEN"),
                bid_shares=_two_sig(sum((q for _, q in bids), Decimal(0))),
                ask_shares=_two_sig(sum((q for _, q in offers), Decimal(0))),
            ),
        )
        return self._encode(frame)

    def _trade_frame(self, rid: str, trade: Any) -> bytes:
        buy = WireTradeSide(side="ORDER_SIDE_BUY", intent="ORDER_INTENT_BUY_LONG")
        sell = WireTradeSide(side="ORDER_SIDE_SELL", intent="ORDER_INTENT_SELL_LONG")
        frame = WireFrame(
            request_id=rid,
            subscription_type=SubscriptionType.TRADE.value,
            trade=WireTrade(
                market_slug=trade.slug,
                price=_usd(trade.price),
                quantity=_usd(trade.qty),
                trade_time=rfc3339(self.step_time_ns(trade.step) + trade.seq * 1000),
                maker=sell if trade.taker_buys else buy,
                taker=buy if trade.taker_buys else sell,
            ),
        )
        return self._encode(frame)

    async def _tick_loop(self) -> None:
        last_account = time.monotonic()
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                self._tick()
                if (
                    self.account_interval
                    and not self._paused
                    and time.monotonic() - last_account >= self.account_interval
                ):
                    last_account = time.monotonic()
                    for kid in {
                        c.key_id for c in self._conns.values() if c.socket is Socket.PRIVATE and c.open
                    }:
                        self.step_account(kid)
            except Exception:
                log.exception("polymarket simulator tick failed")

    def _tick(self) -> None:
        self._counters.ticks += 1
        step = self.current_step()
        if self._paused or step <= self._step:
            return
        start = max(self._step + 1, step - 20)  # a late tick catches up at most 20 steps of trades
        self._step = step
        listeners = [
            c for c in self._conns.values() if c.open and not c.closing and c.socket is Socket.MARKETS
        ]
        wanted: set[str] = set()
        for c in listeners:
            for sub in c.subs.values():
                wanted |= sub.slugs
        trades = {
            slug: [t for s in range(start, step + 1) for t in self.model.trades(slug, s)] for slug in wanted
        }
        for slug, ts in trades.items():
            st = self._stats.setdefault(slug, {})
            for t in ts:
                st["last"] = t.price
                st["volume"] = st.get("volume", Decimal(0)) + t.qty
                st["high"] = max(st.get("high", t.price), t.price)
                st["low"] = min(st.get("low", t.price), t.price)
        cache: dict[tuple[str, str, str], bytes] = {}
        for c in listeners:
            if c.muted:
                continue
            for rid, sub in c.subs.items():
                for slug in sorted(sub.slugs):
                    if sub.type is SubscriptionType.TRADE:
                        for t in trades.get(slug, ()):
                            self._send(c, self._trade_frame(rid, t))
                        continue
                    key = (sub.type.value, rid, slug)
                    frame = cache.get(key)
                    if frame is None:
                        if sub.type is SubscriptionType.MARKET_DATA:
                            frame = self._market_data_frame(rid, slug, step)
                        else:
                            frame = self._lite_frame(rid, slug, step)
                        cache[key] = frame
                    self._send(c, frame)
        self._notify()

    def _publish_activities(self, key_id: str, acts: list[Activity]) -> None:
        for c in self._conns.values():
            if not c.open or c.closing or c.socket is not Socket.PRIVATE or c.key_id != key_id:
                continue
            for rid, sub in c.subs.items():
                for kind, slug, payload in acts:
                    if sub.slugs and slug and slug not in sub.slugs:
                        continue
                    frame = _activity_frame(rid, sub.type, kind, payload)
                    if frame is not None:
                        self._send(c, self._encode(frame))
        self._notify()

    async def _heartbeat_loop(self) -> None:
        assert self.heartbeat_interval
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            for c in list(self._conns.values()):
                if c.open and not c.closing and not c.muted:
                    self._send(c, _HEARTBEAT)
                    self._counters.heartbeats_sent += 1


def _usd(x: Decimal) -> Amount:
    return Amount(value=x, currency="USD")


def _two_sig(x: Decimal) -> Decimal:
    """Rounded down to two significant figures (how ``bidShares``/``askShares`` are sent)."""
    if x <= 0:
        return Decimal(0)
    exp = x.adjusted() - 1
    q = Decimal(1).scaleb(exp)
    return (x / q).to_integral_value(rounding="ROUND_FLOOR") * q


def _activity_frame(rid: str, stype: SubscriptionType, kind: str, payload: Any) -> WireFrame | None:
    from tickwire.polymarket_us.wire import WireExecution, WirePositionUpdate

    if kind == "order" and stype is SubscriptionType.ORDER and isinstance(payload, WireExecution):
        return WireFrame(
            request_id=rid,
            subscription_type=stype.value,
            order_subscription_update=WireOrderUpdate(execution=payload),
        )
    if kind == "position" and stype is SubscriptionType.POSITION and isinstance(payload, WirePositionUpdate):
        return WireFrame(request_id=rid, subscription_type=stype.value, position_subscription=payload)
    if kind == "balance" and stype is SubscriptionType.ACCOUNT_BALANCE:
        return WireFrame(
            request_id=rid,
            subscription_type=stype.value,
            account_balances_update=WireBalancesUpdate(balance_change=payload),
        )
    return None
