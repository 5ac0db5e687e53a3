"""A Polymarket US journal served by the Polymarket dialect: signed upgrades, requestIds, market slugs.

Theory of operation
-------------------
:class:`PolymarketReplay` is a :class:`~.server.PolymarketSimulator` (``X-PM-*`` signature check,
subscribe/unsubscribe by ``requestId``, errors, heartbeats, every fault) on the recorded socket's
path (``/v1/ws/markets`` or ``/v1/ws/private``) whose data comes from a journal: once a
connection has a subscription, a :class:`~tickwire.sim.journal_pump.JournalPump` sends it the
recorded frames its subscriptions want. A recorded frame goes to each of the connection's
subscriptions of the same type whose markets include the frame's (private subscriptions without
markets take all), with ``requestId`` rewritten to the subscriber's (the frame is sent byte for
byte when it already matches). The markets that can be subscribed to are the journal's.

Recorded heartbeats and errors are not replayed (the server sends its own); an ORDER_SNAPSHOT
request is answered with the open orders of the journal's first snapshot, paged like the live
simulator's. Frames stay in the recording's format (camelCase, or legacy snake_case).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tickwire.errors import ConfigError
from tickwire.polymarket_us.enums import Socket, SubscriptionType, parse_subscription_type
from tickwire.polymarket_us.wire import WireOrder, camelize
from tickwire.sim.base import Refusal
from tickwire.sim.journal_pump import JournalPump
from tickwire.sim.polymarket.server import PolymarketSimulator, Sub, _Conn

__all__ = ["PolymarketReplay", "Recorded", "RecordedJournal", "read_frame"]

_SLUG_PATHS: tuple[tuple[str, ...], ...] = (
    ("marketData", "marketSlug"),
    ("marketDataLite", "marketSlug"),
    ("trade", "marketSlug"),
    ("orderSubscriptionUpdate", "execution", "order", "marketSlug"),
    ("orderUpdate", "execution", "order", "marketSlug"),
    ("positionSubscription", "afterPosition", "marketMetadata", "slug"),
    ("positionSubscriptionUpdate", "afterPosition", "marketMetadata", "slug"),
    ("positionUpdate", "afterPosition", "marketMetadata", "slug"),
)
_SNAPSHOT_KEYS = ("orderSubscriptionSnapshot", "ordersSnapshot")


@dataclass(frozen=True, slots=True)
class Recorded:
    """A recorded data frame: its subscription type, market (``""``: none) and decoded JSON."""

    type: SubscriptionType
    slug: str
    raw: dict[str, Any]
    """As recorded (camelCase or snake_case keys)."""
    rid_key: str
    """``requestId`` or ``request_id``."""
    snapshot: dict[str, Any] | None = None
    """The camelCase order snapshot page, for ORDER_SNAPSHOT frames."""


def read_frame(data: bytes, socket: Socket) -> Recorded | None:
    """A recorded frame's routing facts, or ``None`` for what is not replayed (heartbeats, errors,
    frames without a subscription type, unreadable bytes)."""
    try:
        raw = msgspec.json.decode(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(raw, dict):
        return None
    camel = camelize(raw)
    if camel.get("error") is not None or "heartbeat" in camel:
        return None
    value = camel.get("subscriptionType")
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    try:
        stype = parse_subscription_type(value, socket)
    except ConfigError:
        return None
    snapshot = next((camel[k] for k in _SNAPSHOT_KEYS if isinstance(camel.get(k), dict)), None)
    rid_key = "request_id" if "request_id" in raw else "requestId"
    return Recorded(stype, _slug(camel), raw, rid_key, snapshot)


def _slug(camel: dict[str, Any]) -> str:
    for path in _SLUG_PATHS:
        node: Any = camel
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, str) and node:
            return node
    return ""


@dataclass(slots=True)
class RecordedJournal:
    """What a replay needs to know of a Polymarket journal before serving it (one pass over it)."""

    markets: list[str] = field(default_factory=list)
    """Every market slug in the recorded frames, in order of appearance."""
    legacy: bool = False
    """Whether the recording is in the legacy snake_case format."""
    open_orders: list[WireOrder] = field(default_factory=list)
    """The orders of the first complete order snapshot."""

    @classmethod
    def scan(cls, frames: Iterable[bytes], socket: Socket) -> RecordedJournal:
        found = cls()
        seen: dict[str, None] = {}
        snapshot_done = False
        styled = False
        for data in frames:
            rec = read_frame(data, socket)
            if rec is None:
                continue
            if not styled:
                found.legacy, styled = rec.rid_key == "request_id", True
            if rec.slug:
                seen.setdefault(rec.slug, None)
            if rec.snapshot is not None and not snapshot_done:
                orders = msgspec.convert(rec.snapshot.get("orders") or [], list[WireOrder])
                found.open_orders.extend(orders)
                snapshot_done = bool(rec.snapshot.get("eof"))
        found.markets = list(seen)
        return found


class PolymarketReplay(PolymarketSimulator):
    """Serves one recorded Polymarket US socket from ``pump``; the data pump is the journal's."""

    def __init__(
        self,
        pump: JournalPump,
        socket: Socket,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keys: Mapping[str, str] | None = None,
        heartbeat_interval: float | None = 5.0,
        **options: Any,
    ) -> None:
        self.recording = RecordedJournal.scan(pump.frames(), socket)
        super().__init__(
            host=host,
            port=port,
            markets=self.recording.markets,
            keys=keys,
            heartbeat_interval=heartbeat_interval,
            account_interval=None,
            legacy=self.recording.legacy,
            **options,
        )
        self.pump = pump
        self.socket = socket

    def _loops(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        if not self.heartbeat_interval:
            return []
        return [("tickwire-pm-heartbeat", self._every(self.heartbeat_interval, self._heartbeat, "heartbeat"))]

    def _resolve(self, path: str) -> str | Refusal:
        if path.split("?", 1)[0] != self.socket.path:
            return Refusal(404, f"this replay serves {self.socket.path} only".encode())
        return self.socket.value

    def _on_open(self, conn: _Conn) -> None:
        pass  # no simulated account: the journal's is replayed

    def _on_subscribed(self, conn: _Conn, rid: str, sub: Sub) -> None:
        if conn.task is None:
            conn.task = asyncio.get_running_loop().create_task(
                self.pump.stream(
                    conn,
                    lambda data: self._pick(conn, data),
                    lambda data, n: self._send(conn, data),
                    lambda: self._paused,
                    lambda: self._close(conn, 1000, ""),
                ),
                name=f"tickwire-pm-replay-{conn.id}",
            )

    def _open_orders(self, conn: _Conn, slugs: frozenset[str]) -> list[WireOrder]:
        return [o for o in self.recording.open_orders if not slugs or o.market_slug in slugs]

    def _pick(self, conn: _Conn, data: bytes) -> list[tuple[bytes, int]]:
        """The frames ``conn``'s subscriptions want of one recorded frame (one per subscription)."""
        rec = read_frame(data, conn.socket)
        if rec is None or rec.snapshot is not None:
            return []
        out: list[tuple[bytes, int]] = []
        for rid, sub in conn.subs.items():
            if sub.type is not rec.type or not _wants(sub, rec.slug, conn.socket):
                continue
            if rec.raw.get(rec.rid_key) == rid:
                out.append((data, 1))
            else:
                out.append((msgspec.json.encode({**rec.raw, rec.rid_key: rid}), 1))
        return out


def _wants(sub: Sub, slug: str, socket: Socket) -> bool:
    if socket is Socket.MARKETS:
        return slug in sub.slugs
    return not sub.slugs or not slug or slug in sub.slugs


def journal_socket(market: str | None, path: str | os.PathLike[str]) -> Socket:
    """The socket a Polymarket journal recorded (its meta ``market``: ``markets`` or ``private``)."""
    try:
        return Socket(market or "markets")
    except ValueError:
        raise ConfigError(
            f"{path}: a Polymarket US journal records the markets or private socket, not {market!r}"
        ) from None
