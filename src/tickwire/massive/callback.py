"""``StreamClient``: seed 001's callback API, an adapter over the engine's thread runner.

Theory of operation
-------------------
The client wraps one :class:`~tickwire.massive.client.AsyncStreamClient` (session, driver, bounded queue:
there is no second protocol implementation) and runs it with a
:class:`~tickwire.stream.thread_runner.ThreadRunner`: ``tickwire-io`` runs the connection on a private
asyncio loop (pings never wait on user code, and it works inside Jupyter's running loop), and
``tickwire-dispatch`` calls the handlers. This module only turns queued items into seed 001's callbacks:

* with ``messages="raw"`` (the seed's default) each frame reaches ``on_message`` as the ``str`` the
  server sent: data frames undecoded, and frames the session read (statuses) as received too, never
  re-encoded; with ``messages="events"``, each typed event (decoded on the dispatch thread).
* Control events become callbacks: ``on_status(ws, event)`` if given, else ``on_error(ws,
  StreamWarning)`` for a disconnect, a reconnect (its gap), dropped events, a malformed frame or a
  rejected subscription. A handler that raises is reported through ``on_error``; the stream goes on.
* ``on_close(ws, code, message)`` runs exactly once, when the stream ends for good (``close_stream``,
  a rejected key, ``max_reconnects`` exhausted).

Subscribing works from any thread, before or after the start: calls are validated and applied on the
loop's thread (where the session lives) and their errors raised to the caller; the session sends them
once authenticated and again after every reconnect.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable, Iterable
from enum import Enum
from types import TracebackType
from typing import Any, Literal, Self

import msgspec

from tickwire import speedups
from tickwire.credentials import Secret
from tickwire.errors import AuthError, ConfigError, StreamWarning, TickwireError
from tickwire.events import (
    Connected,
    ControlEvent,
    DecodeError,
    Disconnected,
    Dropped,
    Event,
    RawEvent,
    Reconnected,
    Status,
    SubscriptionRejected,
)
from tickwire.massive.client import STREAM_URL_ENV, AsyncStreamClient, build_url
from tickwire.massive.decoder import encode
from tickwire.massive.enums import Feed, Market, parse_market
from tickwire.massive.polygon_compat import (
    Action,
    Service,
    ServiceMethods,
    StreamCluster,
    StreamHost,
    Symbols,
    service_channels,
)
from tickwire.stream.metrics import MetricsSnapshot
from tickwire.stream.queue import FrameEvents, Item
from tickwire.stream.thread_runner import THREADED_QUEUE_BYTES, ThreadRunner

__all__ = ["MessageMode", "StreamClient"]

log = logging.getLogger("tickwire.callback")

MessageMode = Literal["raw", "events"]


def _positional_count(fn: Callable[..., Any]) -> int | None:
    """How many positional arguments ``fn`` accepts; None if any number (``*args``) or unknown."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    n = 0
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            return None
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            n += 1
    return n


def _with_ws(fn: Callable[..., Any], full: int, what: str) -> Callable[..., Any]:
    """Seed 001 shows handlers both with and without the leading ``ws`` argument: accept both."""
    if not callable(fn):
        raise ConfigError(f"{what} must be callable, got {type(fn).__name__}")
    n = _positional_count(fn)
    if n is None or n >= full:
        return fn
    if n == full - 1:
        return lambda _ws, *args: fn(*args)
    raise ConfigError(f"{what} must take {full} arguments (ws, ...) or {full - 1}; {fn!r} takes {n}")


def _stream_url(market: Market, host: str | Enum) -> str:
    """``socket.polygon.io`` → ``wss://socket.polygon.io/<cluster>``; ``ws://127.0.0.1:8765`` (the
    simulator) → ``ws://127.0.0.1:8765/<cluster>``. ``$TICKWIRE_STREAM_URL`` replaces the default host."""
    override = os.environ.get(STREAM_URL_ENV)
    if override and host is StreamHost.REAL_TIME:  # the default host: an unchanged script, redirected
        host = override
    value = host.value if isinstance(host, Enum) else host
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"host must be a host name, a StreamHost or a ws:// URL, got {host!r}")
    value = value.strip()
    if "://" in value:
        return build_url(market, url=value)
    if "/" in value or " " in value:
        raise ConfigError(f"host {value!r} is not a host name; pass a full URL (ws://… or wss://…) instead")
    return f"wss://{value}/{market.value}"


def _describe(ev: ControlEvent) -> str:
    if isinstance(ev, Disconnected):
        retry = f"; reconnecting in {ev.retry_in:.2f} s" if ev.retry_in is not None else ""
        return f"disconnected: {ev.reason}{retry}"
    if isinstance(ev, Reconnected):
        return (
            f"reconnected after {ev.gap_seconds:.2f} s without data "
            f"({ev.gap_start_datetime.isoformat()} to {ev.gap_end_datetime.isoformat()}); "
            f"resubscribed {len(ev.resubscribed)} channels"
        )
    if isinstance(ev, Dropped):
        return f"dropped {ev.count} events: the handlers fell behind ({ev.total} dropped in all)"
    if isinstance(ev, DecodeError):
        return f"malformed frame: {ev.error}"
    if isinstance(ev, SubscriptionRejected):
        return f"subscription rejected: {ev.channel or '(request)'}: {ev.message}"
    return repr(ev)


def _default_on_msg(_ws: StreamClient, msg: object) -> None:
    """Seed 001's default: status messages are logged, everything else is printed."""
    if isinstance(msg, Status):
        log.info("status %s: %s", msg.status, msg.message)
        return
    if isinstance(msg, str) and '"status"' in msg:
        try:
            items = msgspec.json.decode(msg)
        except (msgspec.DecodeError, RecursionError):  # deep nesting raises RecursionError
            items = None
        if isinstance(items, list) and all(isinstance(i, dict) and i.get("ev") == "status" for i in items):
            for i in items:
                log.info("status %s: %s", i.get("status"), i.get("message"))
            return
    print(msg)


def _default_on_error(_ws: StreamClient, error: BaseException) -> None:
    print("Error Encountered:\n", str(error))


def _default_on_close(_ws: StreamClient, code: int | None, msg: str) -> None:
    print(f"Closed. Close Code: {code} || Args: {msg or None}")


class StreamClient(ServiceMethods):
    """The callback stream client of seed 001 (drop-in for ``polygon.StreamClient``), with reconnects.

    ::

        client = StreamClient("KEY", "stocks", on_message=lambda ws, msg: print(msg))
        client.start_stream_thread()
        client.subscribe_stock_trades(["AAPL", "MSFT"])
        ...
        client.close_stream()

    ``host`` takes a host (``StreamHost.DELAYED``), a :class:`~tickwire.Feed`, or a URL
    (``ws://127.0.0.1:8765`` for ``tickwire sim``), or a callable returning one, asked again at every
    connection attempt (for a server that may move between reconnects). Beyond the seed's
    arguments: ``on_status(ws, event)`` for control events, ``messages="events"`` for typed events
    instead of raw strings, ``reconnect=False`` to stop at the first disconnect, and any
    :class:`AsyncStreamClient` option (``max_reconnects``, ``backoff``, ``stale_timeout``,
    ``queue_size``, ``overflow``...).
    """

    def __init__(
        self,
        api_key: str | Secret | None = None,
        cluster: str | StreamCluster | Market = "stocks",
        host: str | StreamHost | Feed | Callable[[], str] = StreamHost.REAL_TIME,
        on_message: Callable[..., Any] | None = None,
        on_close: Callable[..., Any] | None = None,
        on_error: Callable[..., Any] | None = None,
        enable_connection_logs: bool = False,
        *,
        on_status: Callable[..., Any] | None = None,
        messages: MessageMode = "raw",
        reconnect: bool = True,
        **options: Any,
    ) -> None:
        if messages not in ("raw", "events"):
            raise ConfigError(f"messages must be 'raw' or 'events', got {messages!r}")
        market = parse_market(cluster)
        host = options.pop("url", host)  # url=sim.url, as for AsyncStreamClient
        if not reconnect:
            options.setdefault("max_reconnects", 0)
        options.setdefault("queue_bytes", THREADED_QUEUE_BYTES)
        url: str | Callable[[], str]
        if callable(host):
            where = host

            def url() -> str:
                return _stream_url(market, where())
        else:
            url = _stream_url(market, host)
        self.client = AsyncStreamClient(api_key, market, url=url, **options)
        self.market = market
        self.messages: MessageMode = messages
        self._on_message = _with_ws(on_message or _default_on_msg, 2, "on_message")
        self._single: dict[type, Callable[..., Any]] = {}  # data event type -> on_message(self, ev)
        self._on_error = _with_ws(on_error or _default_on_error, 2, "on_error")
        self._on_close = _with_ws(on_close or _default_on_close, 3, "on_close")
        self._on_status = _with_ws(on_status, 2, "on_status") if on_status is not None else None
        if enable_connection_logs:
            tw = logging.getLogger("tickwire")
            tw.setLevel(logging.DEBUG)
            if not tw.handlers and not logging.getLogger().handlers:
                tw.addHandler(logging.StreamHandler())
        self._utf8_errors = "replace"
        if messages == "events":
            self._runner = ThreadRunner(
                self.client,
                self._deliver_events_of,
                self._finish,
                deliver_all=self._deliver_items,
                on_stopping=self._single.clear,  # a C dispatch then hands its next event back
            )
        else:
            self._runner = ThreadRunner(self.client, self._deliver_raw, self._finish)

    def __repr__(self) -> str:
        state = {"ended": "closed", "stopping": "closing"}.get(self._runner.state, self._runner.state)
        return f"StreamClient(url={self.client.safe_url!r}, {state}, messages={self.messages!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close_stream()

    # -- lifecycle --------------------------------------------------------------------

    def start_stream_thread(
        self,
        ping_interval: float = 21,
        ping_timeout: float = 20,
        ping_payload: str | bytes = "",
        skip_utf8_validation: bool = True,
        *,
        daemon: bool = False,
    ) -> None:
        """Start streaming on background threads and return at once (seed 001's signature).

        ``ping_interval=0`` disables pings. ``skip_utf8_validation=False`` reports a frame that is not
        UTF-8 through ``on_error`` instead of passing it with replacement characters. The threads are
        not daemons (a script keeps streaming until ``close_stream``, as with the seed's client) unless
        ``daemon=True``.
        """
        if self._runner.stopping:
            raise TickwireError("this stream was closed; create a new StreamClient")
        if self._runner.started:
            log.warning("start_stream_thread called twice; the stream is already running")
            return
        payload = ping_payload.encode() if isinstance(ping_payload, str) else bytes(ping_payload)
        self.client.config.set_keepalive(ping_interval or None, ping_timeout, payload)
        self._utf8_errors = "replace" if skip_utf8_validation else "strict"
        if not self._runner.start(daemon=daemon):
            log.warning("start_stream_thread called twice; the stream is already running")

    def close_stream(self, *_args: Any, timeout: float = 10.0, **_kwargs: Any) -> None:
        """Close the connection and stop the threads: graceful, idempotent, callable from any thread
        (from a handler it returns at once and the stream ends after the handler). No message is
        delivered after it; ``on_close`` runs once."""
        self._runner.stop(timeout)

    close = close_stream  # websocket-client's name: handlers may call ws.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the stream has ended (closed or a fatal error); False on timeout."""
        return self._runner.wait(timeout)

    @property
    def is_alive(self) -> bool:
        """Whether the stream threads run (started and not ended)."""
        return self._runner.is_alive

    # -- subscriptions ----------------------------------------------------------------

    def _modify_service(self, service: Service, action: Action, symbols: Symbols, uppercase: bool) -> None:
        self._apply(action, service_channels(self.market, service, symbols, uppercase=uppercase), False)

    def subscribe(self, *channels: str) -> None:
        """Subscribe to channels in tickwire's form (``"T.AAPL"``, ``"AM.*"``)."""
        self._apply("subscribe", list(channels), None)

    def unsubscribe(self, *channels: str) -> None:
        self._apply("unsubscribe", list(channels), None)

    @property
    def subscriptions(self) -> list[str]:
        """The desired channels (what every reconnect restores)."""
        return self.client.subscriptions

    def _apply(self, action: Action, channels: Iterable[str], uppercase: bool | None) -> None:
        """Validate and apply on the loop's thread (the session is not thread-safe); errors reach
        the caller."""
        client = self.client
        op = client.session.subscribe if action == "subscribe" else client.session.unsubscribe
        chans = list(channels)

        def apply() -> None:
            op(*chans, uppercase=uppercase)
            client.flush()  # not connected yet: the session sends them once authenticated

        if self._runner.stopping or self._runner.state == "ended":
            raise TickwireError(f"cannot {action}: the stream is closed")
        self._runner.call(apply)  # raises TickwireError too if the stream ends meanwhile

    # -- observability ----------------------------------------------------------------

    def metrics(self) -> MetricsSnapshot:
        """Events, bytes, reconnects, drops, lag (see :meth:`AsyncStreamClient.metrics`)."""
        return self.client.metrics()

    # -- the dispatch thread (called by the runner) ---------------------------------------

    def _finish(self) -> None:
        """The stream has ended: report a fatal error, then ``on_close`` (the runner calls this once)."""
        error = self.client.error
        code, reason = 1000, "closed by client"
        if error is not None and not self._runner.stopping:
            self._report(error)
            code, reason = (1008 if isinstance(error, AuthError) else 1011), str(error)
        try:
            self._on_close(self, code, reason)
        except Exception:
            log.exception("the on_close handler failed")

    def _deliver_events_of(self, item: Item) -> None:
        """Typed mode: the item's events (a raw frame is decoded here, on the dispatch thread)."""
        self._deliver_events(self.client.decode_item(item))

    def _deliver_raw(self, item: Item) -> None:
        """Raw mode: every frame as the server sent it; the engine's control events to callbacks."""
        client = self.client
        if type(item) is bytes:  # a data frame, passed on as received
            client.mark_delivered(client.count_events(item))
            self._pass_frame(item)
            return
        assert isinstance(item, list)
        client.mark_delivered(len(item))
        if isinstance(item, FrameEvents):  # a frame the session read: as received, then what it meant
            self._pass_frame(item.frame)
            for ev in item:
                if isinstance(ev, ControlEvent) and not isinstance(ev, RawEvent | DecodeError):
                    self._control(ev)  # Connected, SubscriptionRejected...: the frame has the rest
            return
        for ev in item:  # events with no frame behind them: the engine's control events
            if isinstance(ev, ControlEvent):
                self._control(ev)
            else:
                self._message(f"[{encode(ev).decode('utf-8', 'replace')}]")

    def _pass_frame(self, frame: bytes) -> None:
        try:
            text = frame.decode("utf-8", self._utf8_errors)
        except UnicodeDecodeError as exc:
            self._report(exc)
            return
        self._message(text)

    def _deliver_items(self, items: list[Item]) -> None:
        """Typed mode, one hand-off: decoded about 128 events at a time (on the dispatch thread)
        and passed through :data:`tickwire.speedups.dispatch_single` when built, which calls
        ``on_message(self, ev)`` for each data type in ``_single`` (a type is added the first time
        it is seen). Control events, failures and a stop are handled here; a stop empties
        ``_single`` (the runner's ``on_stopping``), so the C loop hands the next event back and
        ends there."""
        fast = speedups.dispatch_single
        runner = self._runner
        if fast is None:
            for item in items:
                if runner.stopping:
                    return
                self._deliver_events_of(item)
            return
        single = self._single
        decode = self.client.decode_items
        at = 0
        while at < len(items):
            batches, at = decode(items, at, 128)
            b = e = 0
            while (stop := fast(batches, single, b, e, self)) is not None:
                if runner.stopping:
                    return
                b, e, what = stop
                ev = batches[b][e]
                e += 1
                if what is None:  # first of its type, or a control event (never in ``single``)
                    if isinstance(ev, ControlEvent) and not isinstance(ev, RawEvent):
                        self._control(ev)
                    else:
                        single[type(ev)] = self._on_message
                        self._message(ev)
                elif isinstance(what, Exception):
                    self._report(what)
                # (any other value on_message returns is ignored, as in _deliver_events)
            if runner.stopping:
                return

    def _deliver_events(self, events: list[Event]) -> None:
        """Typed mode: control events to their callbacks, the rest (unknown types included) to
        on_message; nothing once the stream is stopping (a frame may hold many events)."""
        runner = self._runner
        for ev in events:
            if runner.stopping:
                return
            if isinstance(ev, ControlEvent) and not isinstance(ev, RawEvent):
                self._control(ev)
            else:
                self._message(ev)

    def _message(self, msg: str | Event) -> None:
        try:
            self._on_message(self, msg)
        except Exception as exc:
            self._report(exc)

    def _control(self, ev: ControlEvent) -> None:
        if self._on_status is not None:
            try:
                self._on_status(self, ev)
            except Exception as exc:
                self._report(exc)
            return
        if isinstance(ev, Connected):
            log.info("connected to %s (epoch %d)", ev.url, ev.epoch)
        elif isinstance(ev, Disconnected) and not ev.will_reconnect:
            pass  # the end of the stream: a fatal error or close_stream reports it
        else:
            self._report(StreamWarning(_describe(ev), ev))

    def _report(self, error: BaseException) -> None:
        try:
            self._on_error(self, error)
        except Exception:
            log.exception("the on_error handler failed on %s", type(error).__name__)
