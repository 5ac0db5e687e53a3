"""The one asyncio connection loop: picows transport, keepalive, timers, reconnect with backoff.

Theory of operation
-------------------
:class:`Driver` owns the I/O for one logical stream and delegates every protocol
decision to a sans-I/O :class:`~tickwire.stream.session.Session`:

    connect ─► serve (frames → session.receive → queue; session.data_to_send() → socket;
               timers → session.tick; keepalive pings) ─► disconnected
       ▲                                                        │
       └──── sleep max(backoff, session.retry_floor) ◄──────────┘  (unless fatal or closed)

* Frames are handled in picows's synchronous ``on_ws_frame`` callback: enqueue, done. A data
  frame is queued raw (the consumer decodes it); one the session must read (statuses, errors)
  is queued as the session's events with the frame attached
  (:class:`~tickwire.stream.queue.FrameEvents`), so raw consumers still get it as received.
  User code never runs there, so pings and reads never wait on it.
* The keepalive is ours, not picows's, so that a pause for backpressure (``block``
  policy) is not mistaken for a dead peer: a ping every ``ping_interval`` s, and the
  connection is dropped when nothing at all (data, pong) arrived for ``ping_timeout``
  s after a ping while reading was not paused.
* Backoff is capped exponential with full jitter for handshake failures and in-session
  drops alike, and resets only after ``stable_after`` seconds of streaming.
* A server certificate that fails verification ends the loop with a fatal
  :class:`~tickwire.errors.TLSError` (like a rejected key): retrying cannot fix it.
* Every connection that ends yields a :class:`~tickwire.events.Disconnected` with its
  reason and the delay before the next attempt; the session adds ``Reconnected`` with
  the gap once streaming resumes. A finite ``max_reconnects`` ends in a loud
  :class:`~tickwire.errors.ConnectionLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from typing import TypeVar

import picows
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from tickwire import speedups
from tickwire.backoff import Backoff
from tickwire.errors import ConnectionLost, TickwireError
from tickwire.events import Disconnected
from tickwire.stream.metrics import Metrics
from tickwire.stream.queue import EventQueue, FrameEvents
from tickwire.stream.session import Session
from tickwire.tls import check_tls_options, client_context, verify_error, verify_failed

__all__ = ["Driver", "DriverConfig", "FrameTap", "url_source"]

FrameTap = Callable[[bytes, int, int], None]
"""Called with every received data frame, its receive time (Unix ns) and the connection epoch."""
_T = TypeVar("_T")


def url_source(given: _T | Callable[[], _T], complete: Callable[[_T], str]) -> str | Callable[[], str]:
    """The URL a :class:`Driver` connects to: ``complete(given)``, or, when ``given`` is a callable
    (e.g. a service lookup: the server may move between reconnects), a function asking it afresh
    at every attempt. The callable is asked once here, so a bad URL fails now, not in the background."""
    if not callable(given):
        return complete(given)
    provider = given
    complete(provider())

    def current() -> str:
        return complete(provider())

    return current


_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTROL = (WSMsgType.PING, WSMsgType.PONG, WSMsgType.CLOSE)
_CONTROL_MAX = 125  # bytes: the longest payload a control frame may have (RFC 6455 5.5)
_MESSAGE_TOO_BIG = 1009  # WSCloseCode.MESSAGE_TOO_BIG

log = logging.getLogger("tickwire.stream")

# Close codes after which a reconnect is normal (anything but a user close).
_CLOSE_NAMES = {
    1000: "server closed (1000)",
    1001: "server going away (1001)",
    1006: "connection dropped (1006)",
    1008: "policy violation (1008)",
    1011: "server error (1011)",
}


class DriverConfig:
    """Connection-loop settings. Every timeout is configurable so tests can make them short."""

    def __init__(
        self,
        *,
        max_reconnects: int | None = None,
        backoff: Backoff | None = None,
        stable_after: float = 30.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float = 20.0,
        handshake_timeout: float = 10.0,
        max_frame_size: int = 64 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        close_timeout: float = 1.0,
        ping_payload: bytes = b"",
    ) -> None:
        if max_reconnects is not None and max_reconnects < 0:
            raise ValueError("max_reconnects must be None (forever) or >= 0")
        self.max_reconnects = max_reconnects
        self.backoff = backoff if backoff is not None else Backoff()
        self.stable_after = stable_after
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.handshake_timeout = handshake_timeout
        self.max_frame_size = max_frame_size
        check_tls_options(ssl_context, ca_file)
        self.ssl_context = ssl_context
        self.ca_file = ca_file
        self._tls: ssl.SSLContext | None = None
        self.close_timeout = close_timeout
        self.ping_payload = ping_payload

    def set_keepalive(self, interval: float | None, timeout: float, payload: bytes = b"") -> None:
        """Ping every ``interval`` s (None or 0: never) and drop the connection when nothing arrives
        for ``timeout`` s after a ping; ``payload`` is the ping's body. Applies from the next connection."""
        if interval and timeout <= 0:
            raise ValueError("the ping timeout must be positive when pings are on")
        self.ping_interval = float(interval) if interval else None
        self.ping_timeout = float(timeout)
        self.ping_payload = bytes(payload)

    def ssl_for(self, url: str) -> ssl.SSLContext | None:
        """TLS with verification on for wss://: ``ssl_context`` as given, else the default trust store,
        or ``ca_file`` (a PEM bundle, e.g. a corporate proxy's CA) instead of it. Built once."""
        if not url.startswith("wss://"):
            return None
        if self._tls is None:
            self._tls = client_context(self.ssl_context, self.ca_file)
        return self._tls


class _Listener(WSListener):
    """picows callbacks for one connection: the hot path."""

    def __init__(self, driver: Driver) -> None:
        self.d = driver
        self.session = driver.session
        self.marker = driver.session.control_marker
        probe = driver.session.control_probe
        # one byte is searched as an int: ``117 in data`` is a memchr, ``b"u" in data`` costs 6x that
        self.probe: int | bytes = probe[0] if len(probe) == 1 else probe
        self.queue = driver.queue
        self.metrics = driver.metrics
        self.tap = driver.frame_tap
        self.max_size = driver.config.max_frame_size
        # A complete frame longer than any control frame whose first byte is one of these is a data
        # frame (text or binary): the hot path needs no ``frame.msg_type`` (an enum made per read,
        # 4x the copy of a small payload).
        self.tapless = self.tap is None  # a tap sees every frame: none takes the hot path
        self.starts = driver.session.data_starts if self.tapless else b""
        self.transport: WSTransport | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self.slow_frames = 0  # data frames that went through session.receive
        self.control_frames = 0  # ping, pong, close
        self._fragments: list[bytes] | None = None
        reader = speedups.FrameReader
        if reader is not None and type(self.queue) is EventQueue:
            # the hot path in C: picows calls this instance attribute instead of the method below,
            # which still gets every frame the C reader does not queue itself
            self.on_ws_frame = reader(  # type: ignore[method-assign]
                _Listener.on_ws_frame.__get__(self),
                self.session,
                self.queue,
                self.metrics,
                WSFrame,
                probe,
                self.max_size,
                self.tapless,
            )

    def on_ws_connected(self, transport: WSTransport) -> None:
        # Runs before any frame is delivered (the server may speak first, in the same
        # read as the handshake response), so the session must start here.
        self.transport = transport
        self.d.on_connected(transport, self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        size = frame.payload_size
        if size > _CONTROL_MAX:  # no control frame (ping, pong, close) is this long: the first byte tells
            if size > self.max_size:  # not copied: it ends the connection (see _other_frame)
                self._frame(transport, frame, b"")
                return
            data = frame.get_payload_as_bytes()
            data_frame = data[0] in self.starts and frame.fin and self._fragments is None
        else:
            data = frame.get_payload_as_bytes()
            # a data message of either kind: a small msgpack frame (Alpaca, one trade) is binary
            data_frame = self.tapless and frame.fin and ((mt := frame.msg_type) is _TEXT or mt is _BINARY)
        if data_frame and self.session.passthrough and self.probe not in data:
            # the hot path: a data frame (no control byte in it) is queued raw, decoded by the consumer
            m = self.metrics
            m.frames += 1
            m.bytes += len(data)
            self.queue.put_frame(data)
            return
        self._frame(transport, frame, data)

    def _frame(self, transport: WSTransport, frame: WSFrame, data: bytes) -> None:
        """Every frame the hot path did not take: by its type, through the session when needed."""
        if not (frame.msg_type is _TEXT and frame.fin and frame.payload_size <= self.max_size):
            assembled = self._other_frame(transport, frame, data)
            if assembled is None:
                return
            data = assembled
        tap = self.tap
        if tap is not None:  # e.g. the raw journal: every received frame, receive time, epoch
            tap(data, time.time_ns(), self.session.epoch)
        m = self.metrics
        m.frames += 1
        m.bytes += len(data)
        session = self.session
        if session.passthrough and (self.probe not in data or self.marker not in data):
            # the hot path: a data frame is queued raw and decoded by the consumer
            self.queue.put(data)
            return
        self.slow_frames += 1
        events = session.receive(data, time.time())
        if events is None:
            self.queue.put(data)
        elif events:
            self.queue.put(FrameEvents(events, data))  # the frame as received rides along (raw consumers)
        kind = _BINARY if session.send_binary else _TEXT
        for out in session.data_to_send():
            transport.send(kind, out)
        if session.close_requested:
            self.d.close_transport()

    def _other_frame(self, transport: WSTransport, frame: WSFrame, payload: bytes) -> bytes | None:
        """Fragments, binary frames and control frames (``payload``: the frame's, copied already);
        returns a complete message or None."""
        mt = frame.msg_type
        if frame.payload_size > self.max_size and mt not in _CONTROL:
            # picows refuses an oversize frame (close 1009) but, if its payload arrives before the
            # socket is gone, still delivers it: drop it (the driver counts and reports the refusal)
            return None
        if mt is WSMsgType.TEXT or mt is WSMsgType.BINARY:
            if frame.fin:
                return payload
            self._fragments = [payload]
            return None
        if mt is WSMsgType.CONTINUATION:
            if self._fragments is None:
                return None
            self._fragments.append(payload)
            if not frame.fin:
                return None
            data = b"".join(self._fragments)
            self._fragments = None
            return data
        self.control_frames += 1
        if mt is WSMsgType.CLOSE:
            code = frame.get_close_code()
            self.close_code = code.value if isinstance(code, WSCloseCode) else int(code)
            with contextlib.suppress(Exception):
                self.close_reason = frame.get_close_message().decode("utf-8", "replace")
            with contextlib.suppress(Exception):
                transport.send_close(frame.get_close_code())
            transport.disconnect()
        # PING is answered by picows (auto-pong); a PONG only counts as a sign of life.
        return None

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.d.on_disconnected()


async def _local_failure(transport: WSTransport) -> BaseException | None:
    """Why picows itself ended a connection (a protocol violation, an oversize frame), if it did.

    picows keeps that error in the transport's disconnect future; reading it here also stops
    asyncio from logging "Future exception was never retrieved" for every such drop."""
    try:
        await transport.wait_disconnected()
    except Exception as exc:
        return exc
    return None


class Driver:
    """Runs one session over picows until closed, reconnecting as the session and config say."""

    def __init__(
        self,
        session: Session,
        url: str | Callable[[], str],
        queue: EventQueue,
        *,
        config: DriverConfig | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        frame_tap: FrameTap | None = None,
    ) -> None:
        self.session = session
        self.frame_tap = frame_tap
        self._url = url
        self.queue = queue
        self.config = config or DriverConfig()
        self.metrics = metrics or queue.metrics
        self.clock = clock
        self.transport: WSTransport | None = None
        self.listener: _Listener | None = None
        self.last_rx = 0.0
        self.connected = False
        self.error: TickwireError | None = None
        self._tls_error: TickwireError | None = None  # a failed certificate check: fatal
        self._closing = False
        self._wake = asyncio.Event()
        self._disconnected: asyncio.Event | None = None
        self._connecting: tuple[str, int] = ("", 0)
        self._reason_override: str | None = None
        # (reason, close code, message, at, epoch) of the connection or attempt that just ended
        self._pending_disconnect: tuple[str, int | None, str, float, int] | None = None
        queue.on_pause = self._pause_reading
        queue.on_resume = self._resume_reading
        queue.on_overflow_disconnect = self._overflow_disconnect

    # -- public -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._url() if callable(self._url) else self._url

    def flush(self) -> None:
        """Send whatever the session has queued (after a subscribe from user code)."""
        t = self.transport
        if t is None:  # not connected: the next connection rebuilds its requests
            return
        kind = _BINARY if self.session.send_binary else _TEXT
        for out in self.session.data_to_send():
            t.send(kind, out)

    def close_transport(self, reason: str | None = None) -> None:
        """Drop the current connection (the loop then reconnects unless closing)."""
        if reason is not None and self._reason_override is None:
            self._reason_override = reason
        t = self.transport
        if t is not None and not t.is_disconnected:
            with contextlib.suppress(Exception):
                t.send_close(WSCloseCode.OK)
            t.disconnect(graceful=True)
            # a peer that does not read could hold a graceful close forever
            asyncio.get_running_loop().call_later(self.config.close_timeout, t.disconnect, False)

    async def close(self) -> None:
        """Stop for good: close the socket, end the loop, close the queue."""
        self._closing = True
        self._wake.set()
        self.close_transport("closed by user")

    async def run(self) -> None:
        """The connection loop. Returns when closed; raises a fatal error or ConnectionLost."""
        cfg = self.config
        attempt = 0  # connection attempts since the last stable stream
        try:
            while not self._closing:
                streamed_for = await self._connect_once(attempt)
                if self._closing:
                    break
                fatal = self._tls_error or self.session.fatal
                if fatal is not None:
                    self.error = fatal
                    self._emit_disconnected(will_reconnect=False, retry_in=None)
                    raise fatal
                if streamed_for is not None and streamed_for >= cfg.stable_after:
                    cfg.backoff.reset()
                    attempt = 0
                attempt += 1
                if cfg.max_reconnects is not None and attempt > cfg.max_reconnects:
                    err = ConnectionLost(
                        f"gave up after {cfg.max_reconnects} reconnect attempts to {self.session_url_safe}; "
                        "raise max_reconnects (None retries forever)"
                    )
                    self.error = err
                    self._emit_disconnected(will_reconnect=False, retry_in=None)
                    raise err
                delay = max(cfg.backoff.next(), self.session.retry_floor)
                self._emit_disconnected(will_reconnect=True, retry_in=delay)
                await self._sleep(delay)
        finally:
            self.queue.close()

    @property
    def session_url_safe(self) -> str:
        """The URL of the current (or last) attempt without query string (which could carry a key)."""
        return (self._connecting[0] or self.url).split("?", 1)[0]

    # -- internals --------------------------------------------------------------------

    async def _connect_once(self, attempt: int) -> float | None:
        """One connection: returns seconds streamed (None if it never streamed)."""
        url = self.url
        now = self.clock()
        session = self.session
        self._reason_override = None
        self._pending_disconnect = None
        self._connecting = (url, attempt)
        try:
            transport, listener = await picows.ws_connect(
                lambda: _Listener(self),
                url,
                ssl_context=self.config.ssl_for(url),
                websocket_handshake_timeout=self.config.handshake_timeout,
                max_frame_size=self.config.max_frame_size,
                extra_headers=session.handshake_headers(now) or None,
                enable_auto_pong=True,
                logger_name="tickwire.picows",
            )
        except picows.WSHandshakeError as exc:
            status = exc.response.status if exc.response is not None else None
            code = int(status) if status is not None else None
            session.handshake_refused_body(bytes(exc.raw_body or b""))
            session.handshake_failed(code, self.clock())
            log.warning("handshake with %s refused: HTTP %s", self.session_url_safe, code)
            self._pending_disconnect = ("handshake_refused", code, f"HTTP {code}", self.clock(), 0)
            return None
        except (TimeoutError, OSError, picows.WSError, EOFError) as exc:
            cert = verify_error(exc)
            if cert is not None:  # not transient: stop with what to do (run() raises it)
                self._tls_error = verify_failed(self.session_url_safe, cert)
                why = cert.verify_message or "certificate verify failed"
                self._pending_disconnect = ("tls_verify_failed", None, why, self.clock(), 0)
                return None
            session.handshake_failed(None, self.clock())
            log.warning("cannot connect to %s: %s", self.session_url_safe, type(exc).__name__)
            self._pending_disconnect = ("connect_failed", None, type(exc).__name__, self.clock(), 0)
            return None
        assert isinstance(listener, _Listener)
        if self._closing:
            self.close_transport()
        try:
            await self._serve(transport, listener)
            local = await _local_failure(transport)
        finally:
            self.connected = False
            self.transport = None
        now = self.clock()
        streamed_for = (now - session.streaming_since) if session.streaming else None
        session.connection_lost(now)
        self.metrics.disconnects += 1
        reason = self._reason_override or session.disconnect_reason
        code = listener.close_code
        message = listener.close_reason
        if isinstance(local, picows.WSProtocolError):  # we closed: our reason, not the peer's echo
            code = int(local.code)
            message = str(local)
            too_big = code == _MESSAGE_TOO_BIG
            if too_big:
                self.metrics.rejected_frames += 1
            if reason is None:
                reason = "frame_too_big" if too_big else "protocol_error"
            log.warning("dropping the connection to %s: %s", self.session_url_safe, message)
        if reason is None and code in (None, 1006) and self.queue.paused_lately():
            # overflow="block" stopped reading: the server's slow_consumer status sat unread in the
            # socket when it dropped us, so the drop is the kick it most likely was
            reason = "slow_consumer"
            message = (
                "the server dropped the connection while reading was paused for a slow consumer "
                "(overflow='block'); consume faster, or choose overflow='drop_oldest'"
            )
            log.warning("dropped by %s while paused for a slow consumer", self.session_url_safe)
        if reason is None:
            reason = _CLOSE_NAMES.get(code or 1006, f"closed ({code})")
        self._pending_disconnect = (reason, code, message, now, session.epoch)
        return streamed_for

    async def _serve(self, transport: WSTransport, listener: _Listener) -> None:
        """Timers of one connection: session deadlines, keepalive pings, liveness.

        The hot path only counts frames; this loop turns the counts into times at each
        wake-up (at most every ``poll`` seconds), so no clock is read per frame.
        """
        assert self._disconnected is not None
        cfg = self.config
        session = self.session
        m = self.metrics
        poll = min(
            1.0,
            (cfg.ping_interval or 4.0) / 2,
            (session.stale_timeout or 4.0) / 4,
        )
        next_ping = self.clock() + cfg.ping_interval if cfg.ping_interval else None
        ping_sent_at: float | None = None
        seen_any = m.frames + listener.control_frames
        seen_data = m.frames - listener.slow_frames
        while not self._disconnected.is_set():
            now = self.clock()
            deadlines = [d for d in (session.next_deadline(), next_ping, now + poll) if d is not None]
            if ping_sent_at is not None:
                deadlines.append(ping_sent_at + cfg.ping_timeout)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._disconnected.wait(), max(0.0, min(deadlines) - now))
            if self._disconnected.is_set():
                break
            now = self.clock()
            count = m.frames + listener.control_frames
            if count != seen_any:
                seen_any = count
                self.last_rx = now
            count = m.frames - listener.slow_frames
            if count != seen_data:
                seen_data = count
                session.data_seen(now)
            elif self.queue.paused:  # not reading on purpose (block policy): the silence is ours
                session.data_seen(now)
            events = session.tick(now)
            if events:
                self.queue.put(events)
            self.flush()
            if session.close_requested:
                self.close_transport()
                continue
            if next_ping is not None and now >= next_ping:
                if ping_sent_at is None:
                    ping_sent_at = now
                    with contextlib.suppress(Exception):
                        transport.send_ping(cfg.ping_payload or None)
                next_ping = now + (cfg.ping_interval or 0.0)
            if ping_sent_at is not None:
                if self.last_rx > ping_sent_at:
                    ping_sent_at = None
                elif self.queue.paused:
                    ping_sent_at = now  # not reading on purpose: the silence is ours
                elif now - ping_sent_at >= cfg.ping_timeout:
                    log.warning("no pong within %.1f s: dropping the connection", cfg.ping_timeout)
                    self.close_transport("ping_timeout")

    def on_connected(self, transport: WSTransport, listener: _Listener) -> None:
        url, attempt = self._connecting
        now = self.clock()
        self.transport = transport
        self.listener = listener
        self._disconnected = asyncio.Event()
        self.last_rx = now
        self.connected = True
        self.session.connection_made(now, url, attempt)

    def on_disconnected(self) -> None:
        if self._disconnected is not None:
            self._disconnected.set()

    def _emit_disconnected(self, *, will_reconnect: bool, retry_in: float | None) -> None:
        pending = self._pending_disconnect
        self._pending_disconnect = None
        if pending is None:
            return
        reason, code, message, at, epoch = pending
        if will_reconnect and epoch:  # a lost connection (one outage), not each failed attempt (epoch 0)
            self.metrics.reconnects += 1
        self.queue.put(
            [
                Disconnected(
                    reason=reason,
                    at=at,
                    epoch=epoch,
                    code=code,
                    message=message,
                    will_reconnect=will_reconnect,
                    retry_in=retry_in,
                )
            ]
        )

    async def _sleep(self, delay: float) -> None:
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), delay)

    def _pause_reading(self) -> None:
        t = self.transport
        if t is not None:
            t.underlying_transport.pause_reading()

    def _resume_reading(self) -> None:
        t = self.transport
        if t is not None and not t.is_disconnected:
            t.underlying_transport.resume_reading()

    def _overflow_disconnect(self) -> None:
        log.warning("event queue over its bound: dropping the connection (overflow policy 'disconnect')")
        self.close_transport("slow_consumer_local")
