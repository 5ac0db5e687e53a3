"""The Polymarket US dialect of the simulator: ``/v1/ws/markets`` and ``/v1/ws/private`` on loopback.

Theory of operation
-------------------
:class:`PolymarketSimulator` is a :class:`~tickwire.sim.base.SimulatorBase` (server lifecycle,
connection registry, the fault API) that authenticates at the upgrade: the ``X-PM-*`` headers
are verified (known key id, timestamp within ``max_skew`` of the server clock, Ed25519
signature over ``ts + "GET" + path``); anything else is a 401 saying which check failed. It
listens on its own port, or is attached to another simulator (``attach_to``) so that one
``tickwire sim`` port serves every dialect.

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

Faults are the base's (``drop``, ``close``, ``mute``: no data and no heartbeats, ``send_raw``,
``refuse_handshakes``, ``pause_data``, ``stop``, ``restart``; connections selected by socket,
``"markets"`` or ``"private"``) plus ``fail_next_snapshot``.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from picows import WSUpgradeRequest

from tickwire.errors import ConfigError
from tickwire.polymarket_us.enums import Socket, SubscriptionType, parse_subscription_type
from tickwire.polymarket_us.signing import MAX_SKEW_MS, public_key_b64, verify_signature
from tickwire.polymarket_us.wire import (
    WireBalancesSnapshot,
    WireFrame,
    WireOrder,
    WireOrderSnapshot,
    WireRequest,
    camelize,
)
from tickwire.sim.base import Refusal, SimulatorBase
from tickwire.sim.connection import SimConnection
from tickwire.sim.polymarket.account import Account, Activity
from tickwire.sim.polymarket.frames import HEARTBEAT, MarketFrames, activity_frame
from tickwire.sim.polymarket.model import DEFAULT_MARKETS, Level, PolymarketModel
from tickwire.sim.polymarket.observe import HandshakeRecord, PmConnectionInfo, PmCounters

if TYPE_CHECKING:
    import ssl

    from tickwire.sim.polymarket.thread import PolymarketThread

__all__ = [
    "SIM_KEY_ID",
    "SIM_SECRET_KEY",
    "HandshakeRecord",
    "PmConnectionInfo",
    "PmCounters",
    "PolymarketSimulator",
]

SIM_KEY_ID = "00000000-0000-4000-8000-00000000beef"
"""The simulator's built-in key id (a test key, public on purpose)."""
SIM_SECRET_KEY = "dGlja3dpcmUtcG9seW1hcmtldC1zaW0ta2V5LTAwMDA="
"""Its base64 Ed25519 seed (32 bytes)."""

MAX_SLUGS = 100
"""Markets one subscription may name (spec A1)."""
_PATHS = {Socket.MARKETS.path: Socket.MARKETS, Socket.PRIVATE.path: Socket.PRIVATE}


class Sub(msgspec.Struct):
    """One subscription of a connection: its type and markets (empty: all of the account's)."""

    type: SubscriptionType
    slugs: frozenset[str]


class _Conn(SimConnection[PmConnectionInfo]):
    """One Polymarket connection: its socket, the key it signed with, its subscriptions."""

    def __init__(self, sim: PolymarketSimulator, socket: Socket, key_id: str, conn_id: int) -> None:
        super().__init__(sim, socket.value, conn_id)
        self.socket = socket
        self.key_id = key_id
        self.subs: dict[str, Sub] = {}

    def info(self) -> PmConnectionInfo:
        return PmConnectionInfo(
            id=self.id,
            socket=self.socket.value,
            key_id=self.key_id,
            subscriptions={rid: (s.type.name, tuple(sorted(s.slugs))) for rid, s in self.subs.items()},
            muted=self.muted,
            frames_sent=self.frames_sent,
        )


class PolymarketSimulator(SimulatorBase[_Conn, PmCounters, PmConnectionInfo]):
    """Polymarket US WebSocket server on loopback (standalone, or attached to another simulator).

    :param seed: seeds the markets and accounts.
    :param port: own port (``0`` picks one); ignored when ``attach_to`` is given.
    :param markets: the market slugs served (others are answered with an error).
    :param keys: key id → base64 secret; the built-in :data:`SIM_KEY_ID` is always known.
    :param public_keys: key id → base64 Ed25519 public key, for keys whose secret the server never sees.
    :param tick_interval: seconds per market step (books, lite prices and trades are pushed each step).
    :param heartbeat_interval: seconds between heartbeats (``None``: no heartbeats).
    :param account_interval: seconds between account activities (``None``: only on :meth:`step_account`).
    :param snapshot_page_size: orders per ORDER_SNAPSHOT frame.
    :param legacy: write the seed's snake_case / integer-enum format instead of camelCase.
    :param max_skew: accepted distance of ``X-PM-Timestamp`` from the server clock, in seconds.
    :param open_orders: open orders each new account starts with.
    :param attach_to: serve on this simulator's port (a ``MassiveSimulator``) instead of an own one.
    :param ssl_context: serve ``wss://`` on the own port (attached, the host's TLS applies).
    """

    dialect = "Polymarket US"
    attach_paths = tuple(_PATHS)

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
        attach_to: SimulatorBase[Any, Any, Any] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if tick_interval <= 0:
            raise ValueError("tick_interval must be > 0")
        if snapshot_page_size < 1:
            raise ValueError("snapshot_page_size must be >= 1")
        super().__init__(
            host=host,
            port=port,
            counters=PmCounters(),
            close_timeout=close_timeout,
            ssl_context=ssl_context,
            attach_to=attach_to,
        )
        self.seed = seed
        self.model = PolymarketModel(seed, tuple(markets), levels=levels, trade_probability=trade_probability)
        self.tick_interval = tick_interval
        self.step_ms = max(1, round(tick_interval * 1000))
        self.heartbeat_interval = heartbeat_interval
        self.account_interval = account_interval
        self.snapshot_page_size = snapshot_page_size
        self.legacy = legacy
        self.max_skew_ms = int(max_skew * 1000)
        self.open_orders = open_orders
        self.origin_ms = (time.time_ns() // 1_000_000 // self.step_ms) * self.step_ms
        self.frames = MarketFrames(self.model, self.step_time_ns, legacy=legacy)
        self._public: dict[str, str] = {SIM_KEY_ID: public_key_b64(SIM_SECRET_KEY)}
        for kid, secret in (keys or {}).items():
            self._public[kid] = public_key_b64(secret)
        self._public.update(public_keys or {})
        self._accounts: dict[str, Account] = {}
        self._handshakes: list[HandshakeRecord] = []
        self._requests: list[tuple[int, str, dict[str, Any]]] = []
        self._step = self.current_step()
        self._snapshot_error: str | None = None

    def __repr__(self) -> str:
        return f"<PolymarketSimulator seed={self.seed} url={self.url} connections={len(self._conns)}>"

    # ------------------------------------------------------------------ addresses

    def url_for(self, socket: Socket | str) -> str:
        """``ws://127.0.0.1:PORT/v1/ws/markets`` (or ``private``)."""
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

    def run_in_thread(self) -> PolymarketThread:
        """A blocking facade running this simulator on its own event loop in a daemon thread."""
        from tickwire.sim.polymarket.thread import PolymarketThread

        return PolymarketThread(self)

    def _loops(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        loops = [("tickwire-pm-tick", self._every(self.tick_interval, self._tick, "tick"))]
        if self.account_interval:
            loops.append(
                ("tickwire-pm-account", self._every(self.account_interval, self._step_accounts, "account"))
            )
        if self.heartbeat_interval:
            loops.append(
                ("tickwire-pm-heartbeat", self._every(self.heartbeat_interval, self._heartbeat, "heartbeat"))
            )
        return loops

    # ------------------------------------------------------------------ faults of this dialect

    def fail_next_snapshot(self, message: str = "deadline exceeded") -> None:
        """End the next ORDER_SNAPSHOT early: its terminal frame carries ``error``."""
        self._snapshot_error = message

    def set_market_state(self, slug: str, state: str) -> None:
        """The ``state`` sent for ``slug`` from now on (``"closed"`` or ``"MARKET_STATE_CLOSED"``)."""
        self.frames.set_market_state(slug, state)

    def _on_resume(self) -> None:
        self._step = self.current_step()

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
    def handshakes(self) -> list[HandshakeRecord]:
        """Every upgrade attempt that reached an endpoint, in order."""
        return list(self._handshakes)

    def requests(self, socket: str | None = None, *, conn_id: int | None = None) -> list[dict[str, Any]]:
        """Client requests received (camelCase), in order; of one connection if ``conn_id`` is given."""
        return [
            r
            for cid, s, r in self._requests
            if (socket is None or s == socket) and (conn_id is None or cid == conn_id)
        ]

    async def wait_subscribed(
        self,
        socket: str,
        request_ids: Iterable[str],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> PmConnectionInfo:
        """Wait until one open connection on ``socket`` holds all ``request_ids``."""
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

    # ------------------------------------------------------------------ the upgrade

    def _resolve(self, path: str) -> str | Refusal:
        socket = _PATHS.get(path.split("?", 1)[0])
        if socket is None:
            return Refusal(404, f"no Polymarket US endpoint at {path[:80]!r}".encode())
        return socket.value

    def _admit(self, request: WSUpgradeRequest, endpoint: str) -> _Conn | Refusal:
        kid, ts, sig = _auth_headers(request)
        reason = self._check_auth(Socket(endpoint).path, kid, ts, sig)
        if reason is not None:
            self._counters.auth_failed += 1
            return Refusal(401, reason.encode())
        return _Conn(self, Socket(endpoint), kid, next(self._ids))

    def _handshake_seen(self, request: WSUpgradeRequest, endpoint: str, status: int, reason: str) -> None:
        kid, ts, sig = _auth_headers(request)
        self._handshakes.append(
            HandshakeRecord(Socket(endpoint).path, kid, ts, sig, status, reason, time.time())
        )

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

    def _on_open(self, conn: _Conn) -> None:
        if conn.socket is Socket.PRIVATE:
            self.account(conn.key_id)

    # ------------------------------------------------------------------ sending

    def _send(self, conn: _Conn, data: bytes, *, force: bool = False, binary: bool = False) -> bool:
        sent = super()._send(conn, data, force=force, binary=binary)
        if sent:
            self._counters.frames_sent += 1
            self._counters.bytes_sent += len(data)
        return sent

    def _error(
        self, conn: _Conn, request_id: str | None, message: str, stype: SubscriptionType | None = None
    ) -> None:
        self._counters.errors_sent += 1
        frame = WireFrame(
            request_id=request_id, error=message, subscription_type=stype.value if stype else None
        )
        self._send(conn, self.frames.encode(frame))

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
        if len(slugs) > MAX_SLUGS:
            self._error(
                conn, rid, f"too many markets: {len(slugs)} (at most {MAX_SLUGS} per subscription)", stype
            )
            return
        unknown = [s for s in slugs if not self._has_market(s)]
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
        sub = conn.subs[rid] = Sub(stype, frozenset(slugs))
        self._on_subscribed(conn, rid, sub)

    def _has_market(self, slug: str) -> bool:
        """Whether ``slug`` can be subscribed to."""
        return slug in self.model

    def _on_subscribed(self, conn: _Conn, rid: str, sub: Sub) -> None:
        """A subscription took effect: send the snapshot its type has."""
        if sub.type is SubscriptionType.MARKET_DATA:
            for slug in sub.slugs:
                self._send(conn, self.frames.market_data(rid, slug, self._step))
        elif sub.type is SubscriptionType.MARKET_DATA_LITE:
            for slug in sub.slugs:
                self._send(conn, self.frames.lite(rid, slug, self._step))
        elif sub.type is SubscriptionType.ACCOUNT_BALANCE:
            balances = WireBalancesSnapshot(balances=[self.account(conn.key_id).balance()])
            frame = WireFrame(
                request_id=rid, subscription_type=sub.type.value, account_balances_snapshot=balances
            )
            self._send(conn, self.frames.encode(frame))

    def _order_snapshot(self, conn: _Conn, rid: str, slugs: frozenset[str]) -> None:
        """The open orders (of ``slugs``, or all) in pages, the last with ``eof`` (and the injected error)."""
        orders = self._open_orders(conn, slugs)
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
            self._send(conn, self.frames.encode(frame))

    def _open_orders(self, conn: _Conn, slugs: frozenset[str]) -> list[WireOrder]:
        """The account's open orders (of ``slugs``, or all), as an ORDER_SNAPSHOT lists them."""
        return [o.wire() for o in self.account(conn.key_id).open_orders if not slugs or o.slug in slugs]

    # ------------------------------------------------------------------ the data pumps

    def _tick(self) -> None:
        self._counters.ticks += 1
        step = self.current_step()
        if self._paused or step <= self._step:
            return
        start = max(self._step + 1, step - 20)  # a late tick catches up at most 20 steps of trades
        self._step = step
        listeners = [c for c in self._conns.values() if c.live and c.socket is Socket.MARKETS]
        wanted: set[str] = set()
        for c in listeners:
            for sub in c.subs.values():
                wanted |= sub.slugs
        trades = {
            slug: [t for s in range(start, step + 1) for t in self.model.trades(slug, s)] for slug in wanted
        }
        for slug, ts in trades.items():
            self.frames.record_trades(slug, ts)
        cache: dict[tuple[str, str, str], bytes] = {}
        for c in listeners:
            if c.muted:
                continue
            for rid, sub in c.subs.items():
                for slug in sorted(sub.slugs):
                    if sub.type is SubscriptionType.TRADE:
                        for t in trades.get(slug, ()):
                            self._send(c, self.frames.trade(rid, t))
                        continue
                    key = (sub.type.value, rid, slug)
                    frame = cache.get(key)
                    if frame is None:
                        if sub.type is SubscriptionType.MARKET_DATA:
                            frame = self.frames.market_data(rid, slug, step)
                        else:
                            frame = self.frames.lite(rid, slug, step)
                        cache[key] = frame
                    self._send(c, frame)
        self._notify()

    def _step_accounts(self) -> None:
        if self._paused:
            return
        for kid in {c.key_id for c in self._conns.values() if c.socket is Socket.PRIVATE and c.open}:
            self.step_account(kid)

    def _publish_activities(self, key_id: str, acts: list[Activity]) -> None:
        for c in self._conns.values():
            if not c.live or c.socket is not Socket.PRIVATE or c.key_id != key_id:
                continue
            for rid, sub in c.subs.items():
                for kind, slug, payload in acts:
                    if sub.slugs and slug and slug not in sub.slugs:
                        continue
                    frame = activity_frame(rid, sub.type, kind, payload)
                    if frame is not None:
                        self._send(c, self.frames.encode(frame))
        self._notify()

    def _heartbeat(self) -> None:
        for c in list(self._conns.values()):
            if c.live and not c.muted:
                self._send(c, HEARTBEAT)
                self._counters.heartbeats_sent += 1


def _auth_headers(request: WSUpgradeRequest) -> tuple[str, str, str]:
    """``(key id, timestamp, signature)`` from the ``X-PM-*`` headers (empty when missing)."""
    headers = request.headers

    def get(name: str) -> str:
        return str(headers.get(name, "")).strip()

    return get("X-PM-Access-Key"), get("X-PM-Timestamp"), get("X-PM-Signature")
