"""``AsyncStreamClient``: the asyncio front-end of a Massive stream.

It wires the pieces together and adds the user-facing API: a sans-I/O
:class:`~tickwire.providers.massive.session.MassiveSession` for the protocol, the one
:class:`~tickwire.transport.aio.Driver` for I/O, a bounded
:class:`~tickwire.pipeline.queue.EventQueue` between them and the user, and two ways to
consume: ``async for event in client`` (or ``client.batches()``, one list per frame) and
per-channel handlers registered with :meth:`AsyncStreamClient.on` and run by
:meth:`AsyncStreamClient.run`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Self

from .backoff import Backoff
from .credentials import Secret, resolve_secret
from .errors import ConfigError, TickwireError
from .events import Event
from .pipeline.metrics import Metrics, MetricsSnapshot
from .pipeline.queue import EventQueue, OverflowPolicy
from .providers.massive.enums import Feed, Market, feed_host, parse_market
from .providers.massive.session import MassiveSession
from .transport.aio import Driver, DriverConfig

__all__ = ["API_KEY_ENV_VARS", "AsyncStreamClient", "Handler", "build_url"]

log = logging.getLogger("tickwire.client")

API_KEY_ENV_VARS = ("MASSIVE_API_KEY", "POLYGON_API_KEY")

Handler = Callable[[Event], Awaitable[None] | None]


def build_url(market: Market, feed: str | Feed = "realtime", url: str | None = None) -> str:
    """The stream URL: ``url`` when given (``ws://127.0.0.1:8765`` gets ``/<market>`` appended),
    else ``wss://<feed host>/<market>``."""
    if url:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("ws", "wss"):
            raise ConfigError(f"url must start with ws:// or wss://, got {url!r}")
        host, slash, path = rest.partition("/")
        if not host:
            raise ConfigError(f"url has no host: {url!r}")
        return url if slash and path else f"{scheme}://{host}/{market.value}"
    host = feed_host(feed)
    if "://" in host:
        return build_url(market, url=host)
    return f"wss://{host}/{market.value}"


class AsyncStreamClient:
    """A Massive/Polygon stream that reconnects forever, resubscribes exactly, and reports every gap.

    ::

        async with AsyncStreamClient(market="stocks") as client:   # key from MASSIVE_API_KEY or .env
            await client.subscribe("T.AAPL", "AM.*")
            async for event in client:
                ...

    Events are typed (``EquityTrade``, ``EquityAgg``...) and control events
    (``Connected``, ``Disconnected``, ``Reconnected``, ``Status``, ``SubscriptionRejected``,
    ``Dropped``, ``RawEvent``, ``DecodeError``) arrive in-band, in order.
    """

    def __init__(
        self,
        api_key: str | Secret | None = None,
        market: str | Market = "stocks",
        feed: str | Feed = "realtime",
        *,
        url: str | None = None,
        subscriptions: Iterable[str] = (),
        queue_size: int = 100_000,
        overflow: OverflowPolicy = "block",
        max_reconnects: int | None = None,
        backoff: Backoff | None = None,
        stable_after: float = 30.0,
        auth_timeout: float = 10.0,
        max_connections_cooldown: float = 60.0,
        stale_timeout: float | None = 120.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float = 20.0,
        handshake_timeout: float = 10.0,
        max_frame_size: int = 64 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        dotenv_path: str | os.PathLike[str] | None = ".env",
        uppercase: bool = True,
    ) -> None:
        self.market = parse_market(market)
        self.url = build_url(self.market, feed, url)
        key = resolve_secret(api_key, API_KEY_ENV_VARS, dotenv_path)
        if key is None:
            raise ConfigError(
                "no API key: pass api_key=, or set MASSIVE_API_KEY (or POLYGON_API_KEY) in the environment "
                "or a .env file; to try tickwire without one, run the simulator (tickwire stream --sim)"
            )
        self.session = MassiveSession(
            self.market,
            key,
            auth_timeout=auth_timeout,
            max_connections_cooldown=max_connections_cooldown,
            stale_timeout=stale_timeout,
            uppercase=uppercase,
        )
        self.queue = EventQueue(queue_size, overflow)
        self.metrics_counters = Metrics()
        self.driver = Driver(
            self.session,
            self.url,
            self.queue,
            metrics=self.metrics_counters,
            config=DriverConfig(
                max_reconnects=max_reconnects,
                backoff=backoff,
                stable_after=stable_after,
                ping_interval=ping_interval,
                ping_timeout=ping_timeout,
                handshake_timeout=handshake_timeout,
                max_frame_size=max_frame_size,
                ssl_context=ssl_context,
                ca_file=ca_file,
            ),
        )
        if subscriptions:
            self.session.subscribe(*subscriptions)
        self._handlers: dict[str, list[Handler]] = {}
        self._task: asyncio.Task[None] | None = None
        self._batch: list[Event] = []
        self._pos = 0
        self._consumer: str | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._task else "idle")
        return f"AsyncStreamClient(url={self.driver.session_url_safe!r}, {state}, {self.session!r})"

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background (idempotent). ``async with`` calls it."""
        if self._closed:
            raise TickwireError("this client is closed; create a new one")
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.driver.run(), name="tickwire-driver")

    async def close(self) -> None:
        """Close the connection for good; idempotent. Queued events can still be read."""
        if self._closed:
            return
        self._closed = True
        await self.driver.close()
        task = self._task
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), 5.0)
            except (TimeoutError, TickwireError):
                task.cancel()
            except asyncio.CancelledError:
                if not task.done():
                    raise

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- subscriptions ----------------------------------------------------------------

    async def subscribe(self, *channels: str) -> None:
        """Subscribe (``"T.AAPL"``, ``"AM.*"``, or ``"T.AAPL,Q.AAPL"``); remembered across reconnects."""
        self.session.subscribe(*channels)
        self.driver.flush()

    async def unsubscribe(self, *channels: str) -> None:
        self.session.unsubscribe(*channels)
        self.driver.flush()

    async def unsubscribe_all(self) -> None:
        self.session.unsubscribe_all()
        self.driver.flush()

    @property
    def subscriptions(self) -> list[str]:
        """The desired channels, in the order they were first asked for."""
        return self.session.desired

    # -- consuming: iteration ---------------------------------------------------------

    def __aiter__(self) -> Self:
        self._claim("iterate")
        return self

    async def __anext__(self) -> Event:
        pos = self._pos
        batch = self._batch
        if pos < len(batch):
            self._pos = pos + 1
            return batch[pos]
        nxt = await self._next_batch()
        if nxt is None:
            raise StopAsyncIteration
        self._batch = nxt
        self._pos = 1
        return nxt[0]

    async def batches(self) -> AsyncIterator[list[Event]]:
        """One list of events per received frame (plus control events): the cheapest way to consume."""
        self._claim("iterate")
        if self._pos < len(self._batch):
            rest = self._batch[self._pos :]
            self._batch, self._pos = [], 0
            yield rest
        while True:
            nxt = await self._next_batch()
            if nxt is None:
                return
            yield nxt

    async def _next_batch(self) -> list[Event] | None:
        if self._task is None and not self._closed:
            await self.start()
        while True:
            batch = await self.queue.get()
            if batch is None:
                self._raise_if_failed()
                return None
            if batch:
                return batch

    def _raise_if_failed(self) -> None:
        task = self._task
        if task is not None and task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None:
                raise exc
        if self.driver.error is not None:
            raise self.driver.error

    def _claim(self, how: str) -> None:
        if self._consumer is not None and self._consumer != how:
            raise ConfigError("consume a client either with handlers (run) or by iterating, not both")
        self._consumer = how

    # -- consuming: handlers ----------------------------------------------------------

    def on(self, event_type: str, handler: Handler) -> Handler:
        """Call ``handler(event)`` for each event of ``event_type`` (``"T"``, ``"AM"``, ``"status"``,
        ``"reconnected"``..., or ``"*"`` for all). Sync or async functions; run by :meth:`run`."""
        if not callable(handler):
            raise ConfigError("handler must be callable")
        self._handlers.setdefault(event_type, []).append(handler)
        return handler

    def off(self, event_type: str, handler: Handler | None = None) -> None:
        """Remove one handler, or all of ``event_type``."""
        if handler is None:
            self._handlers.pop(event_type, None)
        elif handler in self._handlers.get(event_type, []):
            self._handlers[event_type].remove(handler)

    async def run(self, *, on_error: Callable[[Exception, Event], Any] | None = None) -> None:
        """Dispatch events to the handlers until the client is closed.

        A handler that raises is logged (or passed to ``on_error``) and the stream goes on.
        """
        self._claim("handlers")
        handlers = self._handlers
        while True:
            batch = await self._next_batch()
            if batch is None:
                return
            for ev in batch:
                fns = handlers.get(ev.event_type)
                star = handlers.get("*")
                if fns is None and star is None:
                    continue
                for fn in (fns or []) + (star or []):
                    try:
                        res = fn(ev)
                        if inspect.isawaitable(res):
                            await res
                    except Exception as exc:
                        if on_error is not None:
                            on_error(exc, ev)
                        else:
                            log.exception("handler %r failed on a %s event", fn, ev.event_type)

    # -- observability ----------------------------------------------------------------

    def metrics(self) -> MetricsSnapshot:
        """Counters and gauges: events, bytes, decode errors, reconnects, queue depth and drops, lag."""
        m = self.metrics_counters
        dec = self.session.decoder
        return MetricsSnapshot(
            frames=m.frames,
            events=m.events,
            bytes=m.bytes,
            decode_errors=dec.errors,
            unknown_events=dec.unknown,
            reconnects=m.reconnects,
            disconnects=m.disconnects,
            queue_depth=len(self.queue),
            queue_peak=max(self.queue.peak, len(self.queue)),
            dropped=self.queue.dropped,
            paused=self.queue.paused,
            lag_seconds=m.lag(),
            connected=self.driver.connected and self.session.streaming,
            epoch=self.session.epoch,
            uptime=time.time() - m.started,
        )
