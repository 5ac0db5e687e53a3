"""The Massive (Polygon.io) stream protocol as a sans-I/O state machine.

Theory of operation
-------------------
One ``MassiveSession`` lives as long as the user's stream; each socket is an *epoch*.

    connection_made ─► CONNECTING ──"connected"/"success"──► AUTHENTICATING
        (send nothing yet)          (send {"action":"auth"})        │
                                         "auth_success" or "success"+"authenticated"
                                                                     ▼
                                   STREAMING: send the desired subscriptions,
                                   emit Connected (and Reconnected after a gap)

Server statuses drive the rest, and each is also delivered to the user as a
:class:`~tickwire.events.Status`:

* ``auth_failed`` → ``fatal`` :class:`~tickwire.errors.AuthError` (never retried: a bad key
  or a plan without the entitlement will not fix itself);
* ``auth_timeout`` → reconnect with the normal backoff;
* ``max_connections`` → another process took our slot; reconnect only after
  ``max_connections_cooldown`` (``retry_floor``), never in a hot loop;
* ``slow_consumer`` / ``force_disconnect`` → reconnect (the server closes the socket);
* ``subscribed to: X`` / ``unsubscribed to: X`` → confirm X; ``error`` → reject what it
  names (:class:`~tickwire.events.SubscriptionRejected`).

Timers (all from the ``now`` passed in): the connect+auth deadline, and the data
staleness watchdog, which counts only data events (status frames and pings do not
reset it), and only while something is subscribed.

Hot path: a frame without the bytes ``status`` while streaming goes straight from the
decoder to the caller; statuses are looked for only in frames that contain them.
"""

from __future__ import annotations

import logging
from enum import Enum

import msgspec

from tickwire.credentials import Secret
from tickwire.errors import AuthError, TickwireError
from tickwire.events import Connected, Event, Reconnected, Status, SubscriptionRejected
from tickwire.massive.channels import normalize_channels
from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.enums import Market, parse_market
from tickwire.stream.subscriptions import SubscriptionSet

__all__ = ["MassiveSession", "State"]

log = logging.getLogger("tickwire.massive")

_ENCODER = msgspec.json.Encoder()
# Keep each subscribe/unsubscribe request well under the server's ~1 MB params limit.
_MAX_PARAMS_BYTES = 256 * 1024
_OPTIONS_QUOTE_LIMIT = 1000

_AUTH_HINT = (
    "Check the API key, and that your plan includes WebSocket access to the {market} cluster "
    "on this feed (real-time vs delayed); see https://massive.com/pricing."
)


class State(Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    AUTHENTICATING = "authenticating"
    STREAMING = "streaming"
    CLOSED = "closed"


class MassiveSession:
    """Sans-I/O Massive session: auth, subscriptions, statuses, timers. See the module docstring."""

    def __init__(
        self,
        market: Market | str,
        api_key: Secret,
        *,
        auth_timeout: float = 10.0,
        max_connections_cooldown: float = 60.0,
        stale_timeout: float | None = 120.0,
        uppercase: bool = True,
        rate_limit_cooldown: float = 5.0,
    ) -> None:
        self.market = parse_market(market)
        self._key = api_key
        self.auth_timeout = auth_timeout
        self.max_connections_cooldown = max_connections_cooldown
        self.rate_limit_cooldown = rate_limit_cooldown
        self.stale_timeout = stale_timeout
        self.uppercase = uppercase
        self.decoder = MassiveDecoder(self.market)
        #: Every control frame (a status) holds these bytes; data frames without them skip ``receive``.
        self.control_marker = b"status"
        #: One byte of the marker that no Massive data key holds (keys and tickers are ``sym``, ``bp``,
        #: ``MSFT``...; a lowercase ``u`` only comes with statuses): a memchr rules most frames out
        #: ~15x faster than searching for the marker (0.13 vs 1.9 µs for a 5 KB frame).
        self.control_probe = b"u"
        self.subscriptions = SubscriptionSet()
        #: While True, frames without :attr:`control_marker` are data: the driver queues them raw.
        self.passthrough = False
        self._state = State.IDLE
        self.epoch = 0
        self.url = ""
        self.attempt = 0
        self.disconnect_reason: str | None = None
        self.close_requested = False
        self.fatal: TickwireError | None = None
        self.retry_floor = 0.0
        self.last_data_at = 0.0
        self.streaming_since = 0.0
        self.gap_start: float | None = None  # set when a streaming connection is lost
        self._auth_deadline: float | None = None
        #: Frames waiting to be sent; the driver checks it after each frame (cheap) and drains it.
        self.outbox: list[bytes] = []

    # -- the driver's side ------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        return self.state is State.STREAMING

    def handshake_headers(self, now: float) -> dict[str, str]:
        return {}

    def connection_made(self, now: float, url: str, attempt: int) -> None:
        self.epoch += 1
        self.url = url
        self.attempt = attempt
        self.state = State.CONNECTING
        self.disconnect_reason = None
        self.close_requested = False
        self.retry_floor = 0.0
        self.subscriptions.reset_connection()
        self.outbox.clear()
        self._auth_deadline = now + self.auth_timeout

    def connection_lost(self, now: float) -> None:
        if self.state is State.STREAMING and self.gap_start is None:
            self.gap_start = now
        self.state = State.CLOSED
        self._auth_deadline = None
        self.outbox.clear()

    def handshake_failed(self, status: int | None, now: float) -> None:
        self.state = State.CLOSED
        if status in (401, 403):
            self.fatal = AuthError(
                f"the {self.market.value} stream refused the connection with HTTP {status}. "
                + _AUTH_HINT.format(market=self.market.value)
            )
        elif status == 429:
            self.retry_floor = max(self.retry_floor, self.rate_limit_cooldown)

    def data_to_send(self) -> list[bytes]:
        out, self.outbox = self.outbox, []
        return out

    def next_deadline(self) -> float | None:
        if self._auth_deadline is not None:
            return self._auth_deadline
        if self.state is State.STREAMING and self.stale_timeout is not None and self.subscriptions.desired:
            return max(self.last_data_at, self.streaming_since) + self.stale_timeout
        return None

    def tick(self, now: float) -> list[Event]:
        if self.close_requested:
            return []
        if self._auth_deadline is not None and now >= self._auth_deadline:
            self._auth_deadline = None
            self._request_close("auth_timeout" if self.state is State.AUTHENTICATING else "connect_timeout")
            return []
        if (
            self.state is State.STREAMING
            and self.stale_timeout is not None
            and self.subscriptions.desired
            and now - max(self.last_data_at, self.streaming_since) >= self.stale_timeout
        ):
            log.warning(
                "no data on the %s stream for %.1f s: reconnecting", self.market.value, self.stale_timeout
            )
            self._request_close("stale")
        return []

    def receive(self, frame: bytes, now: float) -> list[Event] | None:
        """Read one frame. ``None`` means a plain data frame: queue it raw and :meth:`decode` it later."""
        if self.state is State.STREAMING and b"status" not in frame:
            self.last_data_at = now
            return None
        return self._handle_statuses(self.decoder.decode(frame), now)

    def decode(self, frame: bytes) -> list[Event]:
        """Decode a data frame (on the consumer's side). Never raises."""
        return self.decoder.decode(frame)

    @staticmethod
    def count_events(frame: bytes) -> int:
        """Events in a raw data frame: every element of the JSON array has one ``"ev"`` key."""
        return frame.count(b'"ev"')

    def decode_fast(self, frame: bytes) -> list[Event]:
        """The typed fast path of :meth:`decode`; may raise (then :meth:`decode` handles the frame)."""
        return self.decoder.decode_fast(frame)

    @property
    def state(self) -> State:
        return self._state

    @state.setter
    def state(self, value: State) -> None:
        self._state = value
        # kept as a plain attribute: the driver reads it for every frame
        self.passthrough = value is State.STREAMING

    def data_seen(self, now: float) -> None:
        """The driver saw data frames (passed through raw) since its last call."""
        self.last_data_at = now

    # -- the user's side --------------------------------------------------------------

    def subscribe(self, *channels: str, uppercase: bool | None = None) -> list[str]:
        """Add channels to the desired set (remembered across reconnects); sent now if streaming.

        ``uppercase`` overrides the session's setting for these channels."""
        chans = normalize_channels(channels, self.market, uppercase=self._upper(uppercase))
        new = self.subscriptions.add(chans)
        self._warn_limits()
        self._flush_subscriptions()
        return new

    def unsubscribe(self, *channels: str, uppercase: bool | None = None) -> list[str]:
        """Remove channels from the desired set; sent now if streaming."""
        chans = normalize_channels(channels, self.market, uppercase=self._upper(uppercase))
        gone = self.subscriptions.remove(chans)
        self._flush_subscriptions()
        return gone

    def _upper(self, uppercase: bool | None) -> bool:
        return self.uppercase if uppercase is None else uppercase

    def unsubscribe_all(self) -> list[str]:
        gone = self.subscriptions.clear()
        self._flush_subscriptions()
        return gone

    @property
    def desired(self) -> list[str]:
        return list(self.subscriptions.desired)

    def __repr__(self) -> str:
        return (
            f"MassiveSession(market={self.market.value!r}, state={self.state.value}, epoch={self.epoch}, "
            f"subscriptions={self.subscriptions!r})"
        )

    # -- internals --------------------------------------------------------------------

    def _request_close(self, reason: str) -> None:
        if self.disconnect_reason is None:
            self.disconnect_reason = reason
        self.close_requested = True

    def _send(self, obj: dict[str, str]) -> None:
        self.outbox.append(_ENCODER.encode(obj))

    def _flush_subscriptions(self) -> None:
        if self.state is not State.STREAMING:
            return
        to_sub, to_unsub = self.subscriptions.diff()
        for action, chans in (("unsubscribe", to_unsub), ("subscribe", to_sub)):
            for params in _chunk_params(chans):
                self._send({"action": action, "params": params})

    def _warn_limits(self) -> None:
        if self.market is Market.Options:
            n = sum(1 for c in self.subscriptions.desired if c.startswith("Q.") and c != "Q.*")
            if n > _OPTIONS_QUOTE_LIMIT:
                log.warning(
                    "%d option quote channels desired: Massive serves at most %d contracts per connection",
                    n,
                    _OPTIONS_QUOTE_LIMIT,
                )

    def _handle_statuses(self, events: list[Event], now: float) -> list[Event]:
        out: list[Event] = []
        has_data = False
        for ev in events:
            if type(ev) is Status:
                out.append(ev)
                out.extend(self._on_status(ev, now))
            else:
                has_data = True
                out.append(ev)
        if has_data and self.state is State.STREAMING:
            self.last_data_at = now
        return out

    def _on_status(self, ev: Status, now: float) -> list[Event]:
        status = ev.status
        message = ev.message or ""
        if self.state is State.CONNECTING and status in ("connected", "success"):
            self.state = State.AUTHENTICATING
            self._send({"action": "auth", "params": self._key.reveal()})
            return []
        if status == "auth_success" or (
            status == "success" and self.state is State.AUTHENTICATING and "authenticated" in message.lower()
        ):
            return self._on_authenticated(now)
        if status == "auth_failed" or (status == "error" and self.state is State.AUTHENTICATING):
            self.fatal = AuthError(
                f"authentication failed on the {self.market.value} stream: {message or status}. "
                + _AUTH_HINT.format(market=self.market.value)
            )
            self._request_close("auth_failed")
            return []
        if status == "auth_timeout":
            self._request_close("auth_timeout")
            return []
        if status == "max_connections":
            self.retry_floor = self.max_connections_cooldown
            log.warning(
                "max_connections on the %s stream: another connection with this key took the slot; "
                "retrying in %.0f s (is a second process running?)",
                self.market.value,
                self.max_connections_cooldown,
            )
            self._request_close("max_connections")
            return []
        if status in ("slow_consumer", "force_disconnect"):
            log.warning("%s on the %s stream: %s", status, self.market.value, message)
            self._request_close(status)
            return []
        if status == "auth_required":
            # A request beat the auth reply; it is re-sent once authenticated.
            self.subscriptions.reset_connection()
            return []
        if status == "success":
            return self._on_ack(message)
        if status == "error":
            return self._on_error(message)
        return []

    def _on_authenticated(self, now: float) -> list[Event]:
        self.state = State.STREAMING
        self._auth_deadline = None
        self.streaming_since = now
        self.subscriptions.reset_connection()
        self._flush_subscriptions()
        events: list[Event] = [Connected(url=self.url, epoch=self.epoch, at=now)]
        if self.gap_start is not None:
            events.append(
                Reconnected(
                    gap_start=self.gap_start,
                    gap_end=now,
                    attempts=self.attempt,
                    epoch=self.epoch,
                    resubscribed=list(self.subscriptions.desired),
                )
            )
            self.gap_start = None
        return events

    def _on_ack(self, message: str) -> list[Event]:
        lower = message.lower()
        for marker, confirm in (
            ("unsubscribed to:", self.subscriptions.confirm_unsubscribed),
            ("subscribed to:", self.subscriptions.confirm_subscribed),
        ):
            idx = lower.find(marker)
            if idx >= 0:
                for chan in message[idx + len(marker) :].split(","):
                    chan = chan.strip()
                    if chan:
                        confirm(chan)
                break
        return []

    def _on_error(self, message: str) -> list[Event]:
        named = [c for c in self.subscriptions.pending if c in message]
        if not named:
            # An error naming no channel of ours (e.g. "Invalid JSON"): report it as is.
            return [SubscriptionRejected(channel=None, message=message)]
        out: list[Event] = []
        for chan in named:
            self.subscriptions.reject(chan)
            out.append(SubscriptionRejected(channel=chan, message=message))
            log.warning("subscription %s rejected: %s", chan, message)
        return out


def _chunk_params(channels: list[str]) -> list[str]:
    """Comma-join channels into request params of bounded size."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for c in channels:
        if current and size + len(c) + 1 > _MAX_PARAMS_BYTES:
            chunks.append(",".join(current))
            current, size = [], 0
        current.append(c)
        size += len(c) + 1
    if current:
        chunks.append(",".join(current))
    return chunks
