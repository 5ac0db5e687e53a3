"""Provider-neutral events: the base of every event, and the control events.

Every event tickwire delivers is a ``msgspec.Struct`` deriving from :class:`Event`.
Market-data events (trades, quotes, bars, ...) live with their provider
(``tickwire.massive.models``); the events here say what happened to the
connection and to the stream itself, so a consumer sees every gap in-band:

* :class:`Connected`, :class:`Disconnected`, :class:`Reconnected` (with the gap's
  start and end), :class:`SubscriptionRejected`, :class:`Status` (a server status
  message, delivered rather than only logged);
* :class:`RawEvent` (a well-formed event of a type we do not know) and
  :class:`DecodeError` (a malformed frame), so bad input loses nothing;
* :class:`Dropped` (the bounded queue shed events under the ``drop_oldest`` policy).

All wall-clock times here are Unix seconds (``float``), as ``time.time()`` gives.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, ClassVar

import msgspec

__all__ = [
    "Connected",
    "ControlEvent",
    "DecodeError",
    "Disconnected",
    "Dropped",
    "Event",
    "RawEvent",
    "Reconnected",
    "Status",
    "SubscriptionRejected",
    "timestamp_to_ns",
]


def timestamp_to_ns(value: int | float | None) -> int | None:
    """Convert a Unix timestamp of unknown unit (s, ms, µs or ns) to nanoseconds.

    The Massive wire mixes units (SIP ms for trades, µs for LULD, ns for NOI/FMV);
    the unit is inferred from the magnitude, which is unambiguous for any date
    between 1973 and 2286.
    """
    if value is None:
        return None
    v = int(value)
    a = abs(v)
    if a >= 10**17:  # ns
        return v
    if a >= 10**14:  # µs
        return v * 1_000
    if a >= 10**11:  # ms
        return v * 1_000_000
    return int(value * 1_000_000_000)  # s (keeps a float's fraction)


class Event(msgspec.Struct, tag_field="ev", kw_only=True, gc=False):
    """Base of every event. ``event_type`` is the wire ``ev`` tag (``"T"``, ``"AM"``, ``"status"``...)."""

    @property
    def event_type(self) -> str:
        """The event's type tag, as on the wire (``"T"``, ``"XQ"``, ``"status"``, ``"reconnected"``...)."""
        return type(self).__struct_config__.tag  # type: ignore[return-value]

    def to_builtins(self) -> Any:
        """The event as plain Python objects (dict with wire names and ``ev``), e.g. for JSON."""
        return msgspec.to_builtins(self)


class ControlEvent(Event, kw_only=True):
    """Base of the events tickwire itself emits about the connection and the stream."""

    is_control: ClassVar[bool] = True


class Status(Event, tag="status", kw_only=True):
    """A server status message (``{"ev":"status","status":...,"message":...}``).

    Delivered to the user in-band (the official client only logs them).
    """

    status: str = ""
    message: str = ""


class Connected(ControlEvent, tag="connected", kw_only=True):
    """The socket is open and the session is authenticated and streaming."""

    url: str
    epoch: int
    at: float


class Disconnected(ControlEvent, tag="disconnected", kw_only=True):
    """A connection ended, or an attempt to open one failed.

    ``reason`` names why: a server status (``"max_connections"``, ``"slow_consumer"``,
    ``"force_disconnect"``, ``"auth_failed"``, ``"auth_timeout"``), a watchdog
    (``"stale"``, ``"ping_timeout"``), the local queue (``"slow_consumer_local"``), a frame this
    client refused (``"frame_too_big"`` over ``max_frame_size``, ``"protocol_error"``), a close
    (``"server closed (1000)"``, ``"connection dropped (1006)"``...) or a failed attempt
    (``"connect_failed"``, ``"handshake_refused"`` with the HTTP status in ``code``).
    ``will_reconnect`` says whether the client tries again, after ``retry_in`` seconds.
    """

    reason: str
    at: float
    epoch: int
    code: int | None = None
    message: str = ""
    will_reconnect: bool = True
    retry_in: float | None = None

    @property
    def at_datetime(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.at, tz=_dt.UTC)


class Reconnected(ControlEvent, tag="reconnected", kw_only=True):
    """Streaming resumed after a disconnect. Data between ``gap_start`` and ``gap_end`` was not received."""

    gap_start: float
    gap_end: float
    attempts: int
    epoch: int
    resubscribed: list[str] = msgspec.field(default_factory=list)

    @property
    def gap_seconds(self) -> float:
        return self.gap_end - self.gap_start

    @property
    def gap_start_datetime(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.gap_start, tz=_dt.UTC)

    @property
    def gap_end_datetime(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.gap_end, tz=_dt.UTC)


class SubscriptionRejected(ControlEvent, tag="subscription_rejected", kw_only=True):
    """The server refused a subscription (or the request carrying it)."""

    channel: str | None
    message: str


class RawEvent(ControlEvent, tag="raw", kw_only=True):
    """A well-formed event of a type tickwire does not know; ``data`` is its JSON, untouched."""

    type: str | None
    data: bytes


class DecodeError(ControlEvent, tag="decode_error", kw_only=True):
    """A frame (or one element of it) that could not be decoded; ``data`` holds the offending bytes."""

    error: str
    data: bytes


class Dropped(ControlEvent, tag="dropped", kw_only=True):
    """The bounded queue shed ``count`` events (``drop_oldest`` policy); ``total`` since start."""

    count: int
    total: int
    at: float
