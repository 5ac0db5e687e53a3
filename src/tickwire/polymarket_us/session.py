"""One Polymarket US socket (markets or private) as a sans-I/O session.

Theory of operation
-------------------
Authentication happens only at the HTTP upgrade: :meth:`handshake_headers` signs
``ts + "GET" + path`` afresh for every connection attempt, so a reconnect never reuses a
stale timestamp. Once the socket is open the session is streaming at once:

    connection_made ─► STREAMING: send every desired subscription (plus an ORDER_SNAPSHOT
                       after a gap), deliver Connected (and Reconnected + ReplayGap)
         │
         ├─ frame with "error" ─► receive(): SubscriptionRejected, the subscription is dropped
         ├─ any other frame ────► queued raw, decoded by the consumer (decode)
         └─ nothing at all (no heartbeat, no data) for heartbeat_timeout ─► close, reconnect

Subscriptions are keyed by ``requestId`` (generated, or the caller's own, reusable after
an unsubscribe). The server sends no acks, so what was sent counts as active; a request
over 100 markets is split into several (``id``, ``id.2``...), all removed by
``unsubscribe(id)``. After a reconnect everything desired is sent again: the server
re-sends book and balance snapshots, but trades, orders and positions are not replayed,
which :class:`~.events.ReplayGap` says in-band, and open orders are made whole again by a
fresh ORDER_SNAPSHOT.

Upgrade refusals: 401 and 403 are fatal (:class:`~tickwire.errors.AuthError` saying which
check failed, as far as the server tells); 429 waits at least ``rate_limit_cooldown``.

The epochs, the outbox, the watchdog (here the heartbeat timeout: heartbeats and data alike
count) and the ``Connected``/``Reconnected`` events are
:class:`~tickwire.stream.session_base.SessionBase`'s. Streaming starts inside
``connection_made``, where no events can be returned: they come from the next ``tick``, which is
due at once.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from tickwire.errors import ConfigError
from tickwire.events import Event, Reconnected, SubscriptionRejected
from tickwire.polymarket_us.book import Book
from tickwire.polymarket_us.decoder import PARSE_ERRORS, PolymarketDecoder
from tickwire.polymarket_us.enums import Socket, SubscriptionType, parse_subscription_type
from tickwire.polymarket_us.events import ReplayGap
from tickwire.polymarket_us.signing import Credentials, Signer
from tickwire.polymarket_us.wire import WireRequest, WireSubscribe, WireUnsubscribe
from tickwire.stream.session_base import SessionBase

__all__ = ["MAX_SLUGS", "PolymarketSession", "Subscription"]

log = logging.getLogger("tickwire.polymarket_us")

MAX_SLUGS = 100
"""Markets per subscription request (the only documented WebSocket limit)."""

_ENCODER = msgspec.json.Encoder()
_NOT_REPLAYED = {
    SubscriptionType.TRADE: "trades",
    SubscriptionType.ORDER: "orders",
    SubscriptionType.POSITION: "positions",
}


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscription request on the wire. ``group`` is the id the caller knows it by."""

    request_id: str
    type: SubscriptionType
    slugs: tuple[str, ...]
    group: str


def _socket(value: Socket | str) -> Socket:
    try:
        return Socket(value.value if isinstance(value, Socket) else str(value).lower())
    except ValueError:
        raise ConfigError(f"socket must be 'markets' or 'private', not {value!r}") from None


class PolymarketSession(SessionBase):
    """Sans-I/O session of one Polymarket US socket. See the module docstring."""

    #: Frames holding ``"error"`` go through :meth:`receive`; all others are queued raw.
    control_marker = b'"error"'
    control_probe = b"r"
    #: Every Polymarket frame is a JSON object.
    data_starts = b"{"
    stale_reason = "heartbeat_timeout"

    def __init__(
        self,
        socket: Socket | str,
        credentials: Credentials,
        *,
        heartbeat_timeout: float | None = 60.0,
        rate_limit_cooldown: float = 60.0,
        responses_debounced: bool | None = None,
        keep_books: bool = True,
        resnapshot_orders: bool = True,
    ) -> None:
        # heartbeats and data alike keep the socket alive: the watchdog is the heartbeat timeout
        super().__init__(stale_timeout=heartbeat_timeout, rate_limit_cooldown=rate_limit_cooldown)
        self.socket = _socket(socket)
        self.path = self.socket.path
        self.signer = Signer(credentials)
        self.heartbeat_timeout = heartbeat_timeout
        self.responses_debounced = responses_debounced
        self.resnapshot_orders = resnapshot_orders
        self.decoder = PolymarketDecoder(keep_books=keep_books)
        self.subscriptions: dict[str, Subscription] = {}
        self.last_signed_at: int | None = None  # ms timestamp of the latest signature
        self.snapshot_wanted = False  # an ORDER_SNAPSHOT was asked for: re-ask after a gap
        # ids of the latest ORDER_SNAPSHOT requests sent, oldest first: one is added per reconnect,
        # so only the last few are kept (a long-lived stream must not grow with its reconnects)
        self.snapshots: deque[str] = deque(maxlen=16)
        self._unsent_snapshots: list[str] = []  # asked for while not connected: sent on connecting
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return (
            f"PolymarketSession(socket={self.socket.value!r}, key_id={self.signer.key_id!r}, "
            f"streaming={self.streaming}, epoch={self.epoch}, subscriptions={len(self.subscriptions)})"
        )

    # -- the driver's side (the rest is SessionBase's) --------------------------------

    def handshake_headers(self, now: float) -> dict[str, str]:
        headers = self.signer.headers(now, "GET", self.path)
        self.last_signed_at = int(headers["X-PM-Timestamp"])
        return headers

    def connection_made(self, now: float, url: str, attempt: int) -> None:
        """Signed at the upgrade, so streaming at once: resubscribe, and report the gap if any."""
        super().connection_made(now, url, attempt)
        events = self._streaming_started(now, list(self.subscriptions))
        for sub in self.subscriptions.values():
            self._send_subscribe(sub)
        queued, self._unsent_snapshots = self._unsent_snapshots, []
        for rid in queued:
            self._send_snapshot(rid)
        reconnected = events[-1] if isinstance(events[-1], Reconnected) else None
        if reconnected is not None:
            snapshot_id = queued[-1] if queued else None
            if (
                snapshot_id is None
                and self.resnapshot_orders
                and (self.snapshot_wanted or self._has(SubscriptionType.ORDER))
            ):
                snapshot_id = self.request_order_snapshot()
            streams = sorted(
                {_NOT_REPLAYED[s.type] for s in self.subscriptions.values() if s.type in _NOT_REPLAYED}
            )
            if streams or snapshot_id is not None:
                events.append(
                    ReplayGap(
                        gap_start=reconnected.gap_start,
                        gap_end=now,
                        streams=streams,
                        snapshot_request_id=snapshot_id,
                    )
                )
        self._deliver_at_next_tick(events, now)

    def receive(self, frame: bytes, now: float) -> list[Event] | None:
        """A frame with ``"error"``: report it (the others are passed through raw)."""
        self.last_data_at = now
        if not self.streaming or self.control_marker not in frame:
            return None
        try:
            wf = self.decoder.parse(frame)
        except PARSE_ERRORS:
            return None  # decode() reports it in order
        events = self.decoder.checked_events(wf, frame)
        if wf.error:
            events.append(self._rejected(wf.request_id, wf.error))
        return events

    def decode(self, frame: bytes) -> list[Event]:
        """Decode a frame that :meth:`receive` passed through (on the consumer's side). Never raises."""
        return self.decoder.decode(frame)

    @staticmethod
    def count_events(frame: bytes) -> int:
        """Events in a raw data frame: each frame is one message, a heartbeat none."""
        return 0 if b'"heartbeat"' in frame[:32] else 1

    def _describe(self) -> str:
        return f"Polymarket US {self.path}"

    # -- the user's side --------------------------------------------------------------

    def subscribe(
        self,
        subscription_type: SubscriptionType | str | int,
        market_slugs: Iterable[str] = (),
        *,
        request_id: str | None = None,
    ) -> list[str]:
        """Add a subscription (split by 100 markets); returns its request ids. Sent now if streaming."""
        stype = parse_subscription_type(subscription_type, self.socket)
        if stype.socket is not self.socket:
            raise ConfigError(
                f"{stype.name} is a {stype.socket.value} subscription; this is the {self.socket.value} socket"
            )
        if stype is SubscriptionType.ORDER_SNAPSHOT:
            return [self.request_order_snapshot(request_id)]
        slugs = list(dict.fromkeys(s.strip() for s in market_slugs if s and s.strip()))
        if stype.socket is Socket.MARKETS and not slugs:
            raise ConfigError(f"{stype.name} needs at least one market slug")
        if not stype.takes_slugs and slugs:
            raise ConfigError(f"{stype.name} takes no market slugs")
        group = self._new_id(request_id, stype)
        chunks = [tuple(slugs[i : i + MAX_SLUGS]) for i in range(0, len(slugs), MAX_SLUGS)] or [()]
        ids = []
        for n, chunk in enumerate(chunks, 1):
            rid = group if n == 1 else f"{group}.{n}"
            sub = Subscription(rid, stype, chunk, group)
            self.subscriptions[rid] = sub
            ids.append(rid)
            if self.streaming:
                self._send_subscribe(sub)
        return ids

    def unsubscribe(self, request_id: str) -> list[str]:
        """Remove a subscription (all its parts, if it was split); returns the ids sent an unsubscribe."""
        gone = [rid for rid, s in self.subscriptions.items() if rid == request_id or s.group == request_id]
        for rid in gone:
            del self.subscriptions[rid]
            if self.streaming:
                self._send(WireRequest(unsubscribe=WireUnsubscribe(request_id=rid)))
        return gone

    def unsubscribe_all(self) -> list[str]:
        gone: list[str] = []
        for group in list(dict.fromkeys(s.group for s in self.subscriptions.values())):
            gone += self.unsubscribe(group)
        return gone

    def request_order_snapshot(self, request_id: str | None = None) -> str:
        """Ask for the open orders (one-shot, paged, ends with ``eof``); re-asked after every gap."""
        if self.socket is not Socket.PRIVATE:
            raise ConfigError("ORDER_SNAPSHOT is a private-socket request")
        rid = self._new_id(request_id, SubscriptionType.ORDER_SNAPSHOT)
        self.snapshot_wanted = True
        if self.streaming:
            self._send_snapshot(rid)
        else:
            self._unsent_snapshots.append(rid)
        return rid

    def _send_snapshot(self, rid: str) -> None:
        self.snapshots.append(rid)
        self._send(
            WireRequest(
                subscribe=WireSubscribe(
                    request_id=rid, subscription_type=SubscriptionType.ORDER_SNAPSHOT.value
                )
            )
        )

    @property
    def books(self) -> dict[str, Book]:
        """The order book of every market seen on MARKET_DATA (updated as events are decoded)."""
        return self.decoder.books

    # -- internals --------------------------------------------------------------------

    def _has(self, stype: SubscriptionType) -> bool:
        return any(s.type is stype for s in self.subscriptions.values())

    def _new_id(self, request_id: str | None, stype: SubscriptionType) -> str:
        if request_id is None:
            while True:
                rid = f"{stype.name.lower()}-{next(self._ids)}"
                if rid not in self.subscriptions:
                    return rid
        rid = str(request_id).strip()
        if not rid:
            raise ConfigError("request_id must not be empty")
        if any(rid == k or rid == s.group for k, s in self.subscriptions.items()):
            raise ConfigError(f"request id {rid!r} is in use; unsubscribe it first or pick another")
        return rid

    def _send_subscribe(self, sub: Subscription) -> None:
        self._send(
            WireRequest(
                subscribe=WireSubscribe(
                    request_id=sub.request_id,
                    subscription_type=sub.type.value,
                    market_slugs=list(sub.slugs),
                    responses_debounced=self.responses_debounced,
                )
            )
        )

    def _send(self, request: WireRequest) -> None:
        self._send_frame(_ENCODER.encode(request))

    def _rejected(self, request_id: str | None, message: str) -> SubscriptionRejected:
        if request_id is not None and request_id in self.subscriptions:
            del self.subscriptions[request_id]
        log.warning("Polymarket US request %s failed: %s", request_id, message)
        return SubscriptionRejected(channel=request_id, message=message)

    def _refusal_message(self, status: int, body: str) -> str:
        said = f" (server says: {body!r})" if body else ""
        low = body.lower()
        if status == 403:
            why = "forbidden: the key may not use this endpoint (permissions, account state or region)"
        elif "timestamp" in low or "skew" in low or "clock" in low:
            why = "clock skew: X-PM-Timestamp is over 30 s from the server's clock; sync this machine's clock"
        elif "signature" in low:
            why = "bad signature: the secret key does not belong to this key id"
        elif "key" in low:
            why = "unknown key id: check POLYMARKET_KEY_ID"
        else:
            why = "bad key id, bad signature or clock skew (over 30 s)"
        return (
            f"Polymarket US refused {self.path} with HTTP {status}{said}: {why}. "
            f"Key id {self.signer.key_id!r}; credentials come from key_id=/secret_key= or "
            "POLYMARKET_KEY_ID/POLYMARKET_SECRET_KEY. Not retrying."
        )
