"""One Alpaca market-data stream as a sans-I/O session.

Theory of operation
-------------------
::

    connection_made ─► CONNECTING ──[{"T":"success","msg":"connected"}]──► AUTHENTICATING
      (upgrade headers: Content-Type            (send {"action":"auth","key","secret"},
       for msgpack; the keys with header_auth)   unless the keys went in the upgrade headers)
                                                            │ [{"T":"success","msg":"authenticated"}]
                                                            ▼
                              STREAMING: one subscribe with every desired channel:symbol,
                              Connected (and Reconnected with the gap after a lost stream)

* **Deadline.** Connected and authenticated within ``auth_timeout`` (the server's window is 10 s),
  else the connection is dropped (``auth_timeout``) and the backoff runs.
* **Subscriptions.** The desired set is kept as ``channel:SYMBOL`` keys across connections
  (:class:`~tickwire.stream.subscriptions.SubscriptionSet`); each change goes out as one
  ``subscribe`` and/or one ``unsubscribe`` holding only the non-empty channels. Every request is
  answered by the server's **full** set (``subscription``), which becomes :attr:`server_set`. Once
  every request is answered, the server's set is reconciled with the desired one: what was asked
  for and is missing is reported (:class:`~tickwire.events.SubscriptionRejected`) and dropped from
  the desired set (never re-sent in a loop); what the server has and nobody wants is unsubscribed
  once. ``corrections``/``cancelErrors`` follow ``trades`` on the server and are not tracked.
* **Errors** (:mod:`tickwire.alpaca.codes`): 402/408/409 are fatal (:class:`AlpacaAuthError` saying
  what to check); 406 waits ``connection_limit_cooldown`` (the server reaps a dead session after
  ~90 s: reconnecting sooner only gets 406 again) before reconnecting; 407 drops the connection as
  ``slow_consumer``; 404 and 401 reconnect; 405/410 reject the pending change; the rest are reported.
  Every error frame is also delivered as an :class:`~tickwire.alpaca.models.AlpacaError`.
* **Hot path.** While streaming with no answer due, only frames holding ``error`` reach
  :meth:`receive` (the driver's ``control_marker``; ``e`` is the probe: no data key has one);
  between a request and its answer every frame does (acks carry no common marker with errors),
  which :attr:`passthrough` tells the driver.
* **Watchdog.** No market data for ``stale_timeout`` while something is subscribed closes the
  connection (``stale``); control frames do not count as data.

The epochs, the outbox, the watchdog and the ``Connected``/``Reconnected`` events are
:class:`~tickwire.stream.session_base.SessionBase`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from enum import Enum
from typing import Any

from tickwire.alpaca.codes import AlpacaAuthError, error_info
from tickwire.alpaca.decoder import AlpacaDecoder, count_events, encode_json, encode_msgpack
from tickwire.alpaca.endpoints import CHANNELS, Encoding, MarketInfo, market_info, parse_channel_name
from tickwire.alpaca.models import AlpacaError, SubscriptionAck
from tickwire.credentials import Secret
from tickwire.errors import ConfigError
from tickwire.events import Event, Status, SubscriptionRejected
from tickwire.stream.session_base import SessionBase
from tickwire.stream.subscriptions import SubscriptionSet

__all__ = ["AlpacaSession", "State", "channel_key", "split_key"]

log = logging.getLogger("tickwire.alpaca")


class State(Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    STREAMING = "streaming"
    CLOSED = "closed"


def channel_key(channel: str, symbol: str) -> str:
    """The desired-set key of one symbol on one channel: ``trades:AAPL``."""
    return f"{channel}:{symbol}"


def split_key(key: str) -> tuple[str, str]:
    """``trades:AAPL`` → ``("trades", "AAPL")``."""
    channel, _, symbol = key.partition(":")
    return channel, symbol


class AlpacaSession(SessionBase):
    """Sans-I/O session of one Alpaca stream. See the module docstring."""

    control_marker = b"error"
    control_probe = b"e"
    #: A JSON array, or a msgpack one (fixarray, array 16, array 32).
    data_starts = b"[" + bytes(range(0x90, 0xA0)) + b"\xdc\xdd"

    def __init__(
        self,
        market: str | MarketInfo,
        key_id: Secret,
        secret_key: Secret,
        *,
        encoding: Encoding | None = None,
        header_auth: bool = False,
        auth_timeout: float = 10.0,
        connection_limit_cooldown: float = 90.0,
        stale_timeout: float | None = None,
        rate_limit_cooldown: float | None = None,
        uppercase: bool = True,
        keep_books: bool = True,
    ) -> None:
        cooldown = connection_limit_cooldown if rate_limit_cooldown is None else rate_limit_cooldown
        super().__init__(stale_timeout=stale_timeout, rate_limit_cooldown=cooldown)
        self.info = market_info(market)
        if encoding is None:
            encoding = "msgpack" if self.info.msgpack_only else "json"
        if encoding not in ("json", "msgpack"):
            raise ConfigError(f"encoding must be 'json' or 'msgpack', not {encoding!r}")
        if self.info.msgpack_only and encoding != "msgpack":
            raise ConfigError(f"the {self.info.name} options stream speaks msgpack only")
        self.encoding: Encoding = encoding
        #: True when requests go out as binary (msgpack) frames; see the report on the driver contract.
        self.send_binary = encoding == "msgpack"
        self._encode = encode_msgpack if encoding == "msgpack" else encode_json
        self._key_id = key_id
        self._secret = secret_key
        self.header_auth = header_auth
        self.auth_timeout = auth_timeout
        self.connection_limit_cooldown = connection_limit_cooldown
        self.uppercase = uppercase
        self.decoder = AlpacaDecoder(keep_books=keep_books)
        self._control = AlpacaDecoder()  # control frames, read on the driver's side
        self.subscriptions = SubscriptionSet()
        #: The server's full set from its latest ack (``channel:SYMBOL`` keys), and as it listed it.
        self.server_set: set[str] = set()
        self.server_channels: dict[str, list[str]] = {}
        self.acks_due = 0
        self.last_error: AlpacaError | None = None
        self._extra_sent: set[str] = set()
        self._state = State.IDLE
        self._auth_deadline: float | None = None

    def __repr__(self) -> str:
        return (
            f"AlpacaSession(market={self.info.name!r}, encoding={self.encoding!r}, state={self.state.value}, "
            f"epoch={self.epoch}, subscriptions={self.subscriptions!r})"
        )

    # -- state ------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @state.setter
    def state(self, value: State) -> None:
        self._state = value
        self._set_streaming(value is State.STREAMING)

    def _set_streaming(self, streaming: bool) -> None:
        super()._set_streaming(streaming)
        self.passthrough = streaming and self.acks_due == 0

    # -- the driver's side ------------------------------------------------------------

    def handshake_headers(self, now: float) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.encoding == "msgpack":
            headers["Content-Type"] = "application/msgpack"
        if self.header_auth:
            headers["APCA-API-KEY-ID"] = self._key_id.reveal()
            headers["APCA-API-SECRET-KEY"] = self._secret.reveal()
        return headers

    def connection_made(self, now: float, url: str, attempt: int) -> None:
        super().connection_made(now, url, attempt)
        self.acks_due = 0
        self.server_set = set()
        self.server_channels = {}
        self._extra_sent.clear()
        self.subscriptions.reset_connection()
        self.state = State.CONNECTING
        self._auth_deadline = now + self.auth_timeout

    def connection_lost(self, now: float) -> None:
        super().connection_lost(now)
        self.acks_due = 0
        self.state = State.CLOSED
        self._auth_deadline = None

    def handshake_failed(self, status: int | None, now: float) -> None:
        super().handshake_failed(status, now)
        self.state = State.CLOSED

    def next_deadline(self) -> float | None:
        if self._auth_deadline is not None:
            return self._auth_deadline
        return super().next_deadline()

    def tick(self, now: float) -> list[Event]:
        if self._auth_deadline is not None and now >= self._auth_deadline and not self.close_requested:
            self._auth_deadline = None
            log.warning(
                "%s: not authenticated within %.1f s; reconnecting", self._describe(), self.auth_timeout
            )
            self.request_close("auth_timeout" if self.state is State.AUTHENTICATING else "connect_timeout")
        return super().tick(now)

    def receive(self, frame: bytes, now: float) -> list[Event] | None:
        """Control frames (handshake, errors, acks) become events; a data frame returns None."""
        if self._state is State.STREAMING and b"error" not in frame and b"subscription" not in frame:
            self.last_data_at = now
            return None
        events = self._control.decode(frame)
        if not any(type(e) in _CONTROL for e in events):
            if self._state is State.STREAMING:
                self.last_data_at = now
            return None  # data (that merely holds the bytes "error"...): the consumer decodes it
        out: list[Event] = []
        for ev in events:
            cls = type(ev)
            out.append(ev)
            if cls is Status:
                out.extend(self._on_success(ev, now))  # type: ignore[arg-type]
            elif cls is AlpacaError:
                out.extend(self._on_error(ev))  # type: ignore[arg-type]
            elif cls is SubscriptionAck:
                out.extend(self._on_ack(ev))  # type: ignore[arg-type]
            elif self._state is State.STREAMING:
                self.last_data_at = now
        return out

    def decode(self, frame: bytes) -> list[Event]:
        """Decode a data frame (on the consumer's side). Never raises."""
        return self.decoder.decode(frame)

    count_events = staticmethod(count_events)

    def _watching(self) -> bool:
        return bool(self.subscriptions.desired)

    def _describe(self) -> str:
        return f"the Alpaca {self.info.name} stream"

    def _refusal_message(self, status: int, body: str) -> str:
        said = f" (server says: {body!r})" if body else ""
        return (
            f"{self._describe()} refused the connection with HTTP {status}{said}; "
            "check APCA_API_KEY_ID / APCA_API_SECRET_KEY and the host (sandbox keys need sandbox=True). "
            "Not retrying."
        )

    # -- protocol ---------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        self._send_frame(self._encode(message))

    def _on_success(self, ev: Status, now: float) -> list[Event]:
        msg = ev.message.lower()
        if msg == "connected" and self._state is State.CONNECTING:
            self.state = State.AUTHENTICATING
            if not self.header_auth:
                self._send({"action": "auth", "key": self._key_id.reveal(), "secret": self._secret.reveal()})
            return []
        if msg == "authenticated" and self._state in (State.CONNECTING, State.AUTHENTICATING):
            self._auth_deadline = None
            self.state = State.STREAMING
            self.subscriptions.reset_connection()
            self._flush_subscriptions()
            return self._streaming_started(now, list(self.subscriptions.desired))
        return []

    def _on_error(self, ev: AlpacaError) -> list[Event]:
        self.last_error = ev
        info = error_info(ev.code, ev.message)
        answered = self.acks_due > 0 and self._state is State.STREAMING
        if answered:
            self._answered()
        if info.action == "fatal":
            self.fatal = AlpacaAuthError(
                f"{self._describe()} answered {ev.code} {ev.message or info.wire!r}: {info.meaning}. "
                "Not retrying.",
                ev.code,
            )
            self.request_close(info.reason or "fatal")
            log.error("%s: error %d (%s): fatal", self._describe(), ev.code, ev.message)
            return []
        if info.action == "reconnect":
            if ev.code == 406:
                self.retry_floor = max(self.retry_floor, self.connection_limit_cooldown)
                log.warning(
                    "%s: 406 connection limit exceeded: %s; retrying in %.0f s (is another process "
                    "using this key?)",
                    self._describe(),
                    info.meaning,
                    self.connection_limit_cooldown,
                )
            else:
                log.warning("%s: error %d (%s): reconnecting", self._describe(), ev.code, ev.message)
            self.request_close(info.reason or f"error_{ev.code}")
            return []
        if info.action == "rejected" or (answered and ev.code == 400):
            return self._reject_pending(f"{ev.code} {ev.message or info.wire}: {info.meaning}")
        log.warning("%s: error %d (%s): %s", self._describe(), ev.code, ev.message, info.meaning)
        return []

    def _answered(self) -> None:
        self.acks_due = max(0, self.acks_due - 1)
        self.passthrough = self.streaming and self.acks_due == 0

    def _reject_pending(self, message: str) -> list[Event]:
        subs = self.subscriptions
        out: list[Event] = []
        for key in sorted(subs.pending_sub):
            subs.reject(key)
            out.append(SubscriptionRejected(channel=key, message=message))
        subs.pending_unsub.clear()
        if not out:
            out.append(SubscriptionRejected(channel=None, message=message))
        log.warning("%s: subscription change refused: %s", self._describe(), message)
        return out

    def _on_ack(self, ack: SubscriptionAck) -> list[Event]:
        if self._state is not State.STREAMING:
            return []
        self._answered()
        server = {channel_key(ch, sym) for ch, syms in ack.channels.items() if ch in CHANNELS for sym in syms}
        self.server_set = server
        self.server_channels = dict(ack.channels)
        subs = self.subscriptions
        subs.confirmed = set(server)
        subs.pending_sub -= server
        subs.pending_unsub &= server
        if self.acks_due:
            return []
        return self._reconcile(server)

    def _reconcile(self, server: set[str]) -> list[Event]:
        """Every request answered: report what the server left out, unsubscribe what nobody wants."""
        subs = self.subscriptions
        out: list[Event] = []
        for key in [k for k in subs.desired if k not in server]:
            subs.reject(key)
            out.append(
                SubscriptionRejected(channel=key, message="the server's subscription ack does not include it")
            )
            log.warning("%s: %s is not in the server's subscription", self._describe(), key)
        extra = sorted(k for k in server if k not in subs.desired and k not in self._extra_sent)
        if extra:
            self._extra_sent.update(extra)
            subs.pending_unsub.update(extra)
            self._request("unsubscribe", extra)
        subs.pending_sub.clear()
        return out

    def _flush_subscriptions(self) -> None:
        if self._state is not State.STREAMING:
            return
        to_sub, to_unsub = self.subscriptions.diff()
        if to_unsub:
            self._request("unsubscribe", to_unsub)
        if to_sub:
            self._request("subscribe", to_sub)

    def _request(self, action: str, keys: Iterable[str]) -> None:
        by_channel: dict[str, list[str]] = {}
        for key in keys:
            channel, symbol = split_key(key)
            by_channel.setdefault(channel, []).append(symbol)
        self._send({"action": action, **by_channel})
        self.acks_due += 1
        self.passthrough = False

    # -- the user's side --------------------------------------------------------------

    def keys_for(self, channel: str, symbols: Iterable[str]) -> list[str]:
        """``channel:SYMBOL`` keys for ``symbols`` (comma lists allowed), the channel checked."""
        name = parse_channel_name(channel, self.info)
        out: list[str] = []
        for item in symbols:
            for sym in str(item).split(","):
                s = sym.strip()
                if s:
                    out.append(channel_key(name, s.upper() if self.uppercase else s))
        if not out:
            raise ConfigError(f"subscribe to {name} needs at least one symbol (or '*')")
        return out

    def subscribe(self, channel: str, *symbols: str) -> list[str]:
        """Add ``symbols`` on ``channel`` to the desired set (kept across reconnects); sent now if streaming.
        Returns the keys that were new."""
        new = self.subscriptions.add(self.keys_for(channel, symbols))
        self._flush_subscriptions()
        return new

    def subscribe_keys(self, keys: Iterable[str]) -> list[str]:
        """Subscribe to ``channel:SYMBOL`` keys (``trades:AAPL``), each checked."""
        checked = [k for key in keys for k in self.keys_for(*_key_parts(key))]
        new = self.subscriptions.add(checked)
        self._flush_subscriptions()
        return new

    def unsubscribe(self, channel: str, *symbols: str) -> list[str]:
        gone = self.subscriptions.remove(self.keys_for(channel, symbols))
        self._flush_subscriptions()
        return gone

    def unsubscribe_all(self) -> list[str]:
        gone = self.subscriptions.clear()
        self._flush_subscriptions()
        return gone

    @property
    def desired(self) -> dict[str, list[str]]:
        """The desired subscriptions: channel → symbols, in the order asked for."""
        out: dict[str, list[str]] = {}
        for key in self.subscriptions.desired:
            channel, symbol = split_key(key)
            out.setdefault(channel, []).append(symbol)
        return out


_CONTROL = (Status, AlpacaError, SubscriptionAck)


def _key_parts(key: str) -> tuple[str, str]:
    channel, sep, symbols = key.partition(":")
    if not sep:
        raise ConfigError(
            f"an Alpaca channel is written channel:SYMBOL[,SYMBOL...] (e.g. trades:AAPL), not {key!r}"
        )
    return channel, symbols
