"""The contract between a provider's sans-I/O session and the one asyncio driver.

A session owns the protocol: what to send after connecting, how to read each frame,
when a connection must be dropped, whether a failure is fatal and how long to wait
before the next attempt. It has no sockets, tasks or clocks: the driver passes ``now``
(Unix seconds) into every call, feeds it frames, and sends what ``data_to_send()``
returns. Everything a session decides is visible as plain attributes, so it is tested
with a fake clock and no network.

:class:`Session` lists exactly what :class:`~tickwire.stream.driver.Driver` uses, nothing
more; :class:`~tickwire.stream.session_base.SessionBase` implements all of it but
``receive`` (the connection bookkeeping, the watchdog, the Connected/Reconnected events),
so a provider's session only adds its protocol.
"""

from __future__ import annotations

from typing import Protocol

from tickwire.errors import TickwireError
from tickwire.events import Event

__all__ = ["Session"]


class Session(Protocol):
    """What :class:`tickwire.stream.driver.Driver` needs of a provider session."""

    #: Counts connections (one epoch per socket); stamped on journaled frames and ``Disconnected``.
    epoch: int
    #: Why the current connection ended or must end (``"max_connections"``, ``"stale"``...), or None.
    disconnect_reason: str | None
    #: Set when the session wants the socket closed now (staleness, fatal error, server kick).
    close_requested: bool
    #: A fatal error: the driver stops and raises it (bad key, missing entitlement).
    fatal: TickwireError | None
    #: The least delay before the next connection attempt (a cooldown such as max_connections).
    retry_floor: float
    #: Bytes every control frame contains; while :attr:`passthrough`, frames without them are data.
    control_marker: bytes
    #: One byte of :attr:`control_marker`, rare in data frames: frames without it skip the full search.
    control_probe: bytes
    #: The first bytes a data frame can have (``b"["``: a JSON array), none of them a close code's
    #: first byte (0x03..0x13): a complete frame starting with one is data, text or binary, and takes
    #: the hot path without its type being asked; empty: every frame's type is asked.
    data_starts: bytes
    #: True while data frames (those without :attr:`control_marker`) may skip :meth:`receive`.
    passthrough: bool
    #: True when the frames of :meth:`data_to_send` go as binary WebSocket frames (msgpack), not text.
    send_binary: bool
    #: Seconds without data before the connection counts as dead (None: never); sets the driver's
    #: polling granularity, so that data seen between two wake-ups is dated closely enough.
    stale_timeout: float | None
    #: When the current connection started streaming (meaningful while :attr:`streaming`).
    streaming_since: float

    @property
    def streaming(self) -> bool:
        """True once the session is authenticated and streaming on the current connection."""
        ...

    def handshake_headers(self, now: float) -> dict[str, str]:
        """Extra HTTP headers for the upgrade request (signed auth for some providers)."""
        ...

    def handshake_refused_body(self, body: bytes) -> None:
        """The body of a refused upgrade, given just before :meth:`handshake_failed` (it may say why)."""
        ...

    def handshake_failed(self, status: int | None, now: float) -> None:
        """The upgrade was refused with HTTP ``status`` (None: no HTTP answer at all)."""
        ...

    def connection_made(self, now: float, url: str, attempt: int) -> None:
        """A socket is open; ``attempt`` counts tries since the last streaming connection."""
        ...

    def receive(self, frame: bytes, now: float) -> list[Event] | None:
        """Read one frame; return the events to deliver now, in order, or ``None`` for a plain
        data frame, which the driver queues raw for the consumer to decode. Never raises."""
        ...

    def data_seen(self, now: float) -> None:
        """Data frames arrived since the last call (they skipped :meth:`receive`): feeds the watchdog."""
        ...

    def data_to_send(self) -> list[bytes]:
        """Frames to send now, in order (each is returned once); checked after every frame read."""
        ...

    def tick(self, now: float) -> list[Event]:
        """Check timers (auth timeout, staleness) and return events due now; may set ``close_requested``."""
        ...

    def next_deadline(self) -> float | None:
        """When ``tick`` must next be called, or None."""
        ...

    def connection_lost(self, now: float) -> None:
        """The socket is gone (either side closed it)."""
        ...
