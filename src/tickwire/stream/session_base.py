"""What every provider session shares: connection bookkeeping, the watchdog, gap reporting.

Theory of operation
-------------------
:class:`SessionBase` implements the :class:`~tickwire.stream.session.Session` contract except
``receive``, which is the provider's protocol. One session lives as long as the user's stream;
each socket is an *epoch*:

    connection_made ─► (provider: handshake, auth) ─► _streaming_started ─► connection_lost
      epoch += 1,          frames via receive()          Connected, and           gap_start = now
      per-connection                                     Reconnected(gap) after   if it was streaming
      state reset                                        a lost stream

* **Outbox.** Providers append frames with :meth:`_send_frame`; the driver takes them with
  :meth:`data_to_send` after every frame it hands to ``receive`` and after every wake-up. A new
  or lost connection empties it (requests are rebuilt from the desired state, never replayed).
* **Closing.** :meth:`request_close` records the first reason (``"stale"``, ``"auth_failed"``...)
  and asks the driver to drop the socket; the reason travels on to ``Disconnected``.
* **Refused upgrades.** 401 and 403 are fatal (:class:`~tickwire.errors.AuthError` with the
  provider's :meth:`_refusal_message`, which may use the refusal's body); 429 sets a
  ``retry_floor`` of ``rate_limit_cooldown``; anything else backs off normally.
* **Watchdog.** While streaming, and while :meth:`_watching` says so (e.g. only with something
  subscribed), no data for ``stale_timeout`` seconds closes the connection with
  :attr:`stale_reason`. The clock is the ``now`` passed in: ``data_seen`` and the provider's
  ``receive`` move :attr:`last_data_at`; the streaming start counts as data.
* **Events without a frame.** A session that learns something outside ``receive`` (e.g. streaming
  starts in ``connection_made``) hands the events to :meth:`_deliver_at_next_tick`; the next
  deadline is then immediate, and the driver's next ``tick`` returns them in order.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

from tickwire.errors import AuthError, TickwireError
from tickwire.events import Connected, Event, Reconnected
from tickwire.redact import mask_secrets

__all__ = ["SessionBase"]

log = logging.getLogger("tickwire.stream")


class SessionBase(ABC):
    """Shared state and behaviour of provider sessions; subclasses implement :meth:`receive`."""

    #: Bytes every control frame contains (see :class:`~tickwire.stream.session.Session`).
    control_marker: bytes = b""
    #: One byte of the marker, rare in data frames (see :class:`~tickwire.stream.session.Session`).
    control_probe: bytes = b""
    #: The bytes a data frame starts with (see :class:`~tickwire.stream.session.Session`).
    data_starts: bytes = b""
    #: The ``disconnect_reason`` of a connection the watchdog closes.
    stale_reason: str = "stale"
    #: Whether requests go as binary frames (a msgpack protocol) instead of text.
    send_binary: bool = False

    def __init__(self, *, stale_timeout: float | None, rate_limit_cooldown: float) -> None:
        self.stale_timeout = stale_timeout
        self.rate_limit_cooldown = rate_limit_cooldown
        #: While True, frames without :attr:`control_marker` are data: the driver queues them raw.
        self.passthrough = False
        self.epoch = 0
        #: The URL and attempt number of the current connection (for ``Connected``/``Reconnected``).
        self.url = ""
        self.attempt = 0
        self.disconnect_reason: str | None = None
        self.close_requested = False
        self.fatal: TickwireError | None = None
        self.retry_floor = 0.0
        self.streaming_since = 0.0
        #: When the watchdog last saw the stream alive (data; a streaming start counts).
        self.last_data_at = 0.0
        #: Set when a streaming connection is lost; cleared by the ``Reconnected`` that reports it.
        self.gap_start: float | None = None
        #: Frames waiting to be sent; the driver drains it through :meth:`data_to_send`.
        self.outbox: list[bytes] = []
        self._streaming = False
        self._due: list[Event] = []
        self._due_at = 0.0
        self._refusal_body = ""

    # -- the Session contract -----------------------------------------------------------

    @property
    def streaming(self) -> bool:
        """True once the current connection is streaming (authenticated, subscriptions sent)."""
        return self._streaming

    def handshake_headers(self, now: float) -> dict[str, str]:
        """Extra upgrade headers: none by default (a provider that signs the upgrade adds them)."""
        return {}

    def connection_made(self, now: float, url: str, attempt: int) -> None:
        """A socket is open: a new epoch, and nothing of the last connection's state survives."""
        self.epoch += 1
        self.url = url
        self.attempt = attempt
        self.disconnect_reason = None
        self.close_requested = False
        self.retry_floor = 0.0
        self.outbox.clear()

    @abstractmethod
    def receive(self, frame: bytes, now: float) -> list[Event] | None:
        """The provider's protocol (see :meth:`tickwire.stream.session.Session.receive`)."""

    def data_seen(self, now: float) -> None:
        """Data frames passed through raw since the driver's last call: the stream is alive."""
        self.last_data_at = now

    def data_to_send(self) -> list[bytes]:
        """Frames to send now, in order; the outbox is emptied."""
        out, self.outbox = self.outbox, []
        return out

    def next_deadline(self) -> float | None:
        """Now if events wait for :meth:`tick`, else when the watchdog would fire (None: never)."""
        if self._due:
            return self._due_at
        if self._streaming and self.stale_timeout is not None and self._watching():
            return self.last_data_at + self.stale_timeout
        return None

    def tick(self, now: float) -> list[Event]:
        """Events waiting for delivery, in order; closes a connection silent for ``stale_timeout``."""
        due, self._due = self._due, []
        if (
            self._streaming
            and not self.close_requested
            and self.stale_timeout is not None
            and self._watching()
            and now - self.last_data_at >= self.stale_timeout
        ):
            log.warning("no data on %s for %.1f s: reconnecting", self._describe(), self.stale_timeout)
            self.request_close(self.stale_reason)
        return due

    def connection_lost(self, now: float) -> None:
        """The socket is gone: a gap starts now if it was streaming (reported on the next start)."""
        if self._streaming and self.gap_start is None:
            self.gap_start = now
        self._set_streaming(False)
        self.outbox.clear()

    def handshake_refused_body(self, body: bytes) -> None:
        """Keep the start of a refused upgrade's body for :meth:`handshake_failed`'s message."""
        self._refusal_body = body[:200].decode("utf-8", "replace").strip()

    def handshake_failed(self, status: int | None, now: float) -> None:
        """401/403: fatal; 429: wait at least ``rate_limit_cooldown``; anything else: back off."""
        body, self._refusal_body = self._refusal_body, ""
        self._set_streaming(False)
        if status in (401, 403):
            self.fatal = AuthError(self._refusal_message(status, body))
        elif status == 429:
            self.retry_floor = max(self.retry_floor, self.rate_limit_cooldown)
            log.warning(
                "%s rate-limited the connection (HTTP 429): retrying in %.0f s at the earliest",
                self._describe(),
                self.rate_limit_cooldown,
            )

    # -- for subclasses -----------------------------------------------------------------

    def request_close(self, reason: str) -> None:
        """Ask the driver to drop the connection; the first reason given is the one reported."""
        if self.disconnect_reason is None:
            self.disconnect_reason = reason
        self.close_requested = True

    def _send_frame(self, frame: bytes) -> None:
        """Queue one frame for the driver to send."""
        self.outbox.append(frame)

    def _set_streaming(self, streaming: bool) -> None:
        """Enter or leave the streaming state; data frames pass through raw exactly while streaming."""
        self._streaming = streaming
        self.passthrough = streaming

    def _streaming_started(self, now: float, resubscribed: list[str]) -> list[Event]:
        """The current connection streams from ``now``: returns ``Connected``, and after a lost
        stream a ``Reconnected`` with the gap and the ``resubscribed`` channels (the gap closes)."""
        self._set_streaming(True)
        self.streaming_since = now
        self.last_data_at = now
        events: list[Event] = [Connected(url=mask_secrets(self.url), epoch=self.epoch, at=now)]
        if self.gap_start is not None:
            events.append(
                Reconnected(
                    gap_start=self.gap_start,
                    gap_end=now,
                    attempts=self.attempt,
                    epoch=self.epoch,
                    resubscribed=resubscribed,
                )
            )
            self.gap_start = None
        return events

    def _deliver_at_next_tick(self, events: list[Event], now: float) -> None:
        """Events learnt outside :meth:`receive`: the next :meth:`tick` (due at once) returns them."""
        if not self._due:
            self._due_at = now
        self._due.extend(events)

    def _watching(self) -> bool:
        """Whether silence counts against the connection now (default: always while streaming)."""
        return True

    def _describe(self) -> str:
        """The stream as log lines name it (``the stocks stream``, ``/v1/ws/markets``)."""
        return self.url.split("?", 1)[0] or type(self).__name__

    def _refusal_message(self, status: int, body: str) -> str:
        """What a 401/403 at the upgrade means and what to do about it (never a secret)."""
        said = f" (server says: {body!r})" if body else ""
        return f"{self._describe()} refused the connection with HTTP {status}{said}; check the credentials"
