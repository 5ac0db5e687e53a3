"""``PolymarketClient``: the asyncio front-end of one Polymarket US socket (markets or private).

Built from the same pieces as :class:`~tickwire.massive.client.AsyncStreamClient` (one
:class:`~tickwire.stream.driver.Driver`, one bounded
:class:`~tickwire.stream.queue.EventQueue`, the same control events and consuming
API) around a :class:`~tickwire.polymarket_us.session.PolymarketSession`. One
client is one socket: open a ``"markets"`` client for books and trades and a
``"private"`` one for orders, positions and balances.

::

    async with PolymarketClient("markets") as pm:      # keys from POLYMARKET_KEY_ID/_SECRET_KEY or .env
        await pm.subscribe_market_data("btc-100k-2025")
        async for ev in pm:
            if ev.event_type == "market_data":
                print(pm.book(ev.market_slug).mid)
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterable

from tickwire.backoff import Backoff
from tickwire.credentials import Secret
from tickwire.errors import ConfigError
from tickwire.polymarket_us.book import Book
from tickwire.polymarket_us.enums import Socket, SubscriptionType
from tickwire.polymarket_us.session import PolymarketSession
from tickwire.polymarket_us.signing import Credentials
from tickwire.stream.consumer import StreamConsumer
from tickwire.stream.driver import DriverConfig, FrameTap, url_source
from tickwire.stream.queue import DEFAULT_MAX_BYTES, OverflowPolicy

__all__ = ["DEFAULT_BASE_URL", "PolymarketClient", "polymarket_url"]

DEFAULT_BASE_URL = "wss://api.polymarket.us"


def polymarket_url(base_url: str, socket: Socket) -> str:
    """``base_url`` (``wss://api.polymarket.us``, ``https://...``, ``ws://127.0.0.1:8765``) + the path."""
    url = base_url.strip().rstrip("/")
    if url.startswith("https://"):
        url = "wss://" + url[len("https://") :]
    elif url.startswith("http://"):
        url = "ws://" + url[len("http://") :]
    if not url.startswith(("ws://", "wss://")):
        raise ConfigError(f"base_url must start with wss://, ws://, https:// or http://, got {base_url!r}")
    for s in Socket:
        if url.endswith(s.path):
            url = url[: -len(s.path)]
    return url + socket.path


class PolymarketClient(StreamConsumer):
    """A Polymarket US socket that re-signs and resubscribes on every reconnect and reports every gap.

    Events: :class:`~tickwire.polymarket_us.events.MarketData`, ``MarketDataLite``,
    ``Trade`` (markets socket); ``OrderSnapshot``, ``OrderUpdate``, ``PositionUpdate``,
    ``AccountBalanceSnapshot``, ``AccountBalanceUpdate`` (private socket); plus ``Connected``,
    ``Disconnected``, ``Reconnected``, ``ReplayGap``, ``SubscriptionRejected``, ``BookCrossed``,
    ``Dropped``, ``RawEvent``, ``DecodeError``, in order.
    """

    session: PolymarketSession

    def __init__(
        self,
        socket: Socket | str = "markets",
        key_id: str | None = None,
        secret_key: str | Secret | None = None,
        *,
        base_url: str | Callable[[], str] = DEFAULT_BASE_URL,
        queue_size: int = 10_000,
        queue_bytes: int = DEFAULT_MAX_BYTES,
        overflow: OverflowPolicy = "block",
        max_reconnects: int | None = None,
        backoff: Backoff | None = None,
        stable_after: float = 30.0,
        heartbeat_timeout: float | None = 60.0,
        rate_limit_cooldown: float = 60.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float = 20.0,
        handshake_timeout: float = 10.0,
        max_frame_size: int = 64 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        dotenv_path: str | os.PathLike[str] | None = ".env",
        keep_books: bool = True,
        responses_debounced: bool | None = None,
        frame_tap: FrameTap | None = None,
    ) -> None:
        credentials = Credentials.resolve(key_id, secret_key, dotenv_path)
        self.session = PolymarketSession(
            socket,
            credentials,
            heartbeat_timeout=heartbeat_timeout,
            rate_limit_cooldown=rate_limit_cooldown,
            responses_debounced=responses_debounced,
            keep_books=keep_books,
        )
        self.socket = socket_ = self.session.socket
        # a callable base_url is asked again at every connection attempt: the server may move
        target = url_source(base_url, lambda given: polymarket_url(given, socket_))
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
            count_events=self.session.count_events,
            frame_tap=frame_tap,
        )

    @property
    def url(self) -> str:
        """The socket's URL (a ``base_url`` callable is asked again at every connection attempt)."""
        return self.driver.url

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._task else "idle")
        return f"PolymarketClient(url={self.safe_url!r}, {state}, {self.session!r})"

    # -- subscriptions ----------------------------------------------------------------

    async def subscribe(
        self,
        subscription_type: SubscriptionType | str | int,
        market_slugs: Iterable[str] = (),
        *,
        request_id: str | None = None,
    ) -> str:
        """Subscribe (``"market_data"``, ``"trade"``, ``"order"``...); returns the request id to unsubscribe
        with. More than 100 markets are split into several requests under that id."""
        ids = self.session.subscribe(subscription_type, market_slugs, request_id=request_id)
        self.flush()
        return ids[0]

    async def subscribe_market_data(self, *market_slugs: str, request_id: str | None = None) -> str:
        return await self.subscribe(SubscriptionType.MARKET_DATA, _split(market_slugs), request_id=request_id)

    async def subscribe_market_data_lite(self, *market_slugs: str, request_id: str | None = None) -> str:
        return await self.subscribe(
            SubscriptionType.MARKET_DATA_LITE, _split(market_slugs), request_id=request_id
        )

    async def subscribe_trades(self, *market_slugs: str, request_id: str | None = None) -> str:
        return await self.subscribe(SubscriptionType.TRADE, _split(market_slugs), request_id=request_id)

    async def subscribe_orders(self, *market_slugs: str, request_id: str | None = None) -> str:
        """Order updates (all markets when none is named). Pair with :meth:`request_order_snapshot`."""
        return await self.subscribe(SubscriptionType.ORDER, _split(market_slugs), request_id=request_id)

    async def subscribe_positions(self, *market_slugs: str, request_id: str | None = None) -> str:
        return await self.subscribe(SubscriptionType.POSITION, _split(market_slugs), request_id=request_id)

    async def subscribe_account_balance(self, *, request_id: str | None = None) -> str:
        return await self.subscribe(SubscriptionType.ACCOUNT_BALANCE, request_id=request_id)

    async def request_order_snapshot(self, *, request_id: str | None = None) -> str:
        """Ask for the open orders now (pages of ``OrderSnapshot``, the last with ``eof``); asked again
        automatically after every reconnect."""
        rid = self.session.request_order_snapshot(request_id)
        self.flush()
        return rid

    async def unsubscribe(self, request_id: str) -> None:
        if not self.session.unsubscribe(request_id):
            raise ConfigError(f"no subscription with request id {request_id!r}")
        self.flush()

    async def unsubscribe_all(self) -> None:
        self.session.unsubscribe_all()
        self.flush()

    @property
    def subscriptions(self) -> dict[str, tuple[SubscriptionType, tuple[str, ...]]]:
        """Active request ids → (type, market slugs)."""
        return {rid: (s.type, s.slugs) for rid, s in self.session.subscriptions.items()}

    # -- books ------------------------------------------------------------------------

    def book(self, market_slug: str) -> Book | None:
        """The order book of a market, as of the latest MARKET_DATA event consumed."""
        return self.session.decoder.books.get(market_slug)

    @property
    def books(self) -> dict[str, Book]:
        return self.session.decoder.books


def _split(slugs: Iterable[str]) -> list[str]:
    """``("a,b", "c")`` → ``["a", "b", "c"]``."""
    return [s.strip() for item in slugs for s in item.split(",") if s.strip()]
