"""``AsyncStreamClient``: the asyncio front-end of a Massive stream.

It wires the pieces together and adds the user-facing API: a sans-I/O
:class:`~tickwire.massive.session.MassiveSession` for the protocol, the one
:class:`~tickwire.stream.driver.Driver` for I/O, a bounded
:class:`~tickwire.stream.queue.EventQueue` between them and the user, and two ways to
consume: ``async for event in client`` (or ``client.batches()``, one list per frame) and
per-channel handlers registered with :meth:`AsyncStreamClient.on` and run by
:meth:`AsyncStreamClient.run`.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable, Iterable
from enum import Enum

from tickwire.backoff import Backoff
from tickwire.credentials import LOCAL_KEY, Secret, is_local_url, resolve_secret
from tickwire.errors import ConfigError
from tickwire.massive.backfill import BackfillConfig, make_gap_filler
from tickwire.massive.enums import Feed, Market, feed_host, parse_market
from tickwire.massive.polygon_compat import (
    Action,
    AsyncServiceMethods,
    Service,
    Symbols,
    prefix_value,
    service_channels,
)
from tickwire.massive.session import MassiveSession
from tickwire.stream.consumer import Handler, StreamConsumer
from tickwire.stream.driver import DriverConfig, FrameTap, url_source
from tickwire.stream.queue import DEFAULT_MAX_BYTES, OverflowPolicy

__all__ = ["API_KEY_ENV_VARS", "STREAM_URL_ENV", "AsyncStreamClient", "Handler", "build_url"]

log = logging.getLogger("tickwire.client")

API_KEY_ENV_VARS = ("MASSIVE_API_KEY", "POLYGON_API_KEY")
STREAM_URL_ENV = "TICKWIRE_STREAM_URL"
"""When set (``ws://127.0.0.1:8765``), clients given no ``url``/``host`` connect there: unchanged
scripts can run against ``tickwire sim`` or a staging server."""


def build_url(market: Market, feed: str | Feed = "realtime", url: str | None = None) -> str:
    """The stream URL: ``url`` when given (``ws://127.0.0.1:8765`` gets ``/<market>`` appended), else
    ``$TICKWIRE_STREAM_URL`` if set, else ``wss://<feed host>/<market>``."""
    url = url or os.environ.get(STREAM_URL_ENV) or None
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


class AsyncStreamClient(AsyncServiceMethods, StreamConsumer):
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

    session: MassiveSession

    def __init__(
        self,
        api_key: str | Secret | None = None,
        market: str | Market = "stocks",
        feed: str | Feed = "realtime",
        *,
        url: str | Callable[[], str] | None = None,
        subscriptions: Iterable[str] = (),
        queue_size: int = 10_000,
        queue_bytes: int = DEFAULT_MAX_BYTES,
        overflow: OverflowPolicy = "block",
        max_reconnects: int | None = None,
        backoff: Backoff | None = None,
        stable_after: float = 30.0,
        auth_timeout: float = 10.0,
        max_connections_cooldown: float = 60.0,
        rate_limit_cooldown: float = 5.0,
        stale_timeout: float | None = 120.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float = 20.0,
        handshake_timeout: float = 10.0,
        max_frame_size: int = 64 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        dotenv_path: str | os.PathLike[str] | None = ".env",
        uppercase: bool = True,
        frame_tap: FrameTap | None = None,
        backfill: bool | BackfillConfig | None = None,
        rest_url: str | None = None,
    ) -> None:
        self.market = parse_market(market)
        market = self.market
        target = url_source(url, lambda given: build_url(market, feed, given))
        key = resolve_secret(api_key, API_KEY_ENV_VARS, dotenv_path)
        if key is None and isinstance(target, str) and is_local_url(target):
            key = Secret(LOCAL_KEY)  # the simulator, a replay, a gateway: any key is accepted
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
            rate_limit_cooldown=rate_limit_cooldown,
        )
        self._init_consumer(
            self.session,
            target,
            DriverConfig(
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
            queue_size=queue_size,
            queue_bytes=queue_bytes,
            overflow=overflow,
            decode=self.session.decoder.decode,
            decode_fast=self.session.decoder.decode_fast,
            count_events=self.session.count_events,
            frame_tap=frame_tap,
        )
        if subscriptions:
            self.session.subscribe(*subscriptions)
        self._gap_filler = make_gap_filler(
            key=key,
            market=self.market.value,
            custom_url=url is not None,
            backfill=backfill,
            rest_url=rest_url,
            subscriptions=lambda: self.session.desired,
            ssl_context=ssl_context,
            ca_file=ca_file,
        )
        if self._gap_filler is not None:  # REST gap repair: backfilled bars after a Reconnected
            self._batch_filter = self._gap_filler.process

    @property
    def url(self) -> str:
        """The stream URL (a ``url`` callable is asked again at every connection attempt)."""
        return self.driver.url

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._task else "idle")
        return f"AsyncStreamClient(url={self.safe_url!r}, {state}, {self.session!r})"

    # -- subscriptions ----------------------------------------------------------------

    async def subscribe(self, *channels: str) -> None:
        """Subscribe (``"T.AAPL"``, ``"AM.*"``, or ``"T.AAPL,Q.AAPL"``); remembered across reconnects."""
        self.session.subscribe(*channels)
        self.flush()

    async def unsubscribe(self, *channels: str) -> None:
        self.session.unsubscribe(*channels)
        self.flush()

    async def unsubscribe_all(self) -> None:
        self.session.unsubscribe_all()
        self.flush()

    # -- the ``polygon`` package's service API (subscribe_stock_trades & co., service_api.py) ----

    async def _modify_service(
        self,
        service: Service,
        action: Action,
        symbols: Symbols,
        uppercase: bool,
        handler: Handler | None = None,
    ) -> None:
        chans = service_channels(self.market, service, symbols, uppercase=uppercase)
        if action == "subscribe":
            if handler is not None:
                await self.change_handler(service.prefix, handler)
            self.session.subscribe(*chans, uppercase=False)
        else:
            self.session.unsubscribe(*chans, uppercase=False)
        self.flush()

    async def change_handler(self, service_prefix: str | Enum, handler_function: Handler) -> None:
        """Make ``handler_function`` the one handler of an event type (``StreamServicePrefix.STOCK_TRADES``
        or ``"T"``), replacing what ``subscribe_*(handler_function=)`` or an earlier call set."""
        ev = prefix_value(service_prefix)
        self.off(ev)
        self.on(ev, handler_function)

    @property
    def subscriptions(self) -> list[str]:
        """The desired channels, in the order they were first asked for."""
        return self.session.desired
