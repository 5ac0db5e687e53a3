"""``AlpacaStreamClient``: the asyncio front-end of one Alpaca market-data stream.

Built from the shared engine like :class:`~tickwire.massive.client.AsyncStreamClient` (one
:class:`~tickwire.stream.driver.Driver`, one bounded :class:`~tickwire.stream.queue.EventQueue`,
the :class:`~tickwire.stream.consumer.StreamConsumer` views: ``async for``, ``batches()``,
``on()``/``run()``, ``metrics()``) around an :class:`~tickwire.alpaca.session.AlpacaSession`::

    async with AlpacaStreamClient(market="iex") as client:   # keys from APCA_API_KEY_ID/_SECRET_KEY or .env
        await client.subscribe_trades("AAPL", "MSFT")
        await client.subscribe_bars("*")
        async for ev in client:
            ...

Reconnects with backoff and exact resubscribe, the staleness watchdog, 406 handled by waiting
out the server's reaping window, gap events in-band, and (``backfill=``) the minute bars a gap
missed fetched over REST (:mod:`tickwire.alpaca.backfill`).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterable, Mapping

from tickwire.alpaca.backfill import AlpacaBackfillConfig, make_gap_filler
from tickwire.alpaca.book import Book
from tickwire.alpaca.endpoints import Encoding, MarketInfo, market_info, stream_url
from tickwire.alpaca.keys import resolve_keys
from tickwire.alpaca.session import AlpacaSession
from tickwire.backoff import Backoff
from tickwire.credentials import Secret, is_local_url
from tickwire.stream.consumer import StreamConsumer
from tickwire.stream.driver import DriverConfig, FrameTap, url_source
from tickwire.stream.queue import DEFAULT_MAX_BYTES, OverflowPolicy

__all__ = ["AlpacaStreamClient"]

Subscriptions = Mapping[str, Iterable[str]] | Iterable[str]


class AlpacaStreamClient(StreamConsumer):
    """An Alpaca stream that reconnects forever, resubscribes exactly and reports every gap.

    Events: :class:`~tickwire.alpaca.models.Trade`, ``Quote``, ``Bar``, ``UpdatedBar``,
    ``DailyBar``, ``TradingStatus``, ``Luld``, ``Correction``, ``CancelError``, ``Imbalance``,
    ``OrderBook``, ``News``; and ``Connected``, ``Disconnected``, ``Reconnected``, ``Status``,
    ``AlpacaError``, ``SubscriptionAck``, ``SubscriptionRejected``, ``BookCrossed``, ``Dropped``,
    ``RawEvent``, ``DecodeError``, in order.
    """

    session: AlpacaSession

    def __init__(
        self,
        key_id: str | Secret | None = None,
        secret_key: str | Secret | None = None,
        market: str | MarketInfo = "iex",
        *,
        url: str | Callable[[], str] | None = None,
        sandbox: bool = False,
        encoding: Encoding | None = None,
        header_auth: bool = False,
        subscriptions: Subscriptions = (),
        queue_size: int = 10_000,
        queue_bytes: int = DEFAULT_MAX_BYTES,
        overflow: OverflowPolicy = "block",
        max_reconnects: int | None = None,
        backoff: Backoff | None = None,
        stable_after: float = 30.0,
        auth_timeout: float = 10.0,
        connection_limit_cooldown: float = 90.0,
        stale_timeout: float | None = 120.0,
        ping_interval: float | None = 10.0,
        ping_timeout: float = 60.0,
        handshake_timeout: float = 10.0,
        max_frame_size: int = 64 * 1024 * 1024,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | None = None,
        dotenv_path: str | os.PathLike[str] | None = ".env",
        uppercase: bool = True,
        keep_books: bool = True,
        frame_tap: FrameTap | None = None,
        backfill: bool | AlpacaBackfillConfig | None = None,
        rest_url: str | None = None,
    ) -> None:
        self.info = info = market_info(market)
        target = url_source(url, lambda given: stream_url(info, url=given, sandbox=sandbox))
        local = isinstance(target, str) and is_local_url(target)  # the simulator, a replay: no keys needed
        kid, secret = resolve_keys(key_id, secret_key, dotenv_path, local=local)
        self.session = AlpacaSession(
            info,
            kid,
            secret,
            encoding=encoding,
            header_auth=header_auth,
            auth_timeout=auth_timeout,
            connection_limit_cooldown=connection_limit_cooldown,
            stale_timeout=stale_timeout,
            uppercase=uppercase,
            keep_books=keep_books,
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
        self.add_subscriptions(subscriptions)
        self._gap_filler = make_gap_filler(
            key_id=kid,
            secret_key=secret,
            info=info,
            custom_url=url is not None,
            sandbox=sandbox,
            backfill=backfill,
            rest_url=rest_url,
            subscriptions=lambda: self.session.desired,
            ssl_context=ssl_context,
            ca_file=ca_file,
        )
        if self._gap_filler is not None:
            self._batch_filter = self._gap_filler.process

    def add_subscriptions(self, subscriptions: Subscriptions) -> None:
        """Add to the desired set without flushing: ``{"trades": ["AAPL"]}`` or ``["trades:AAPL"]``."""
        if isinstance(subscriptions, Mapping):
            for channel, symbols in subscriptions.items():
                self.session.subscribe(channel, *symbols)
        else:
            self.session.subscribe_keys(subscriptions)

    @property
    def url(self) -> str:
        """The stream URL (a ``url`` callable is asked again at every connection attempt)."""
        return self.driver.url

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._task else "idle")
        return f"AlpacaStreamClient(url={self.safe_url!r}, {state}, {self.session!r})"

    # -- subscriptions ----------------------------------------------------------------

    async def subscribe(self, channel: str, *symbols: str) -> None:
        """Subscribe ``symbols`` (``"*"`` for all; ``"AAPL,MSFT"`` works) on ``channel`` (``trades``,
        ``quotes``, ``bars``, ``updatedBars``, ``dailyBars``, ``statuses``, ``lulds``, ``imbalances``,
        ``orderbooks``, ``news``); remembered across reconnects."""
        self.session.subscribe(channel, *symbols)
        self.flush()

    async def unsubscribe(self, channel: str, *symbols: str) -> None:
        self.session.unsubscribe(channel, *symbols)
        self.flush()

    async def unsubscribe_all(self) -> None:
        self.session.unsubscribe_all()
        self.flush()

    async def subscribe_trades(self, *symbols: str) -> None:
        """Trades (with their corrections and cancel/errors on stocks)."""
        await self.subscribe("trades", *symbols)

    async def subscribe_quotes(self, *symbols: str) -> None:
        await self.subscribe("quotes", *symbols)

    async def subscribe_bars(self, *symbols: str) -> None:
        await self.subscribe("bars", *symbols)

    async def subscribe_updated_bars(self, *symbols: str) -> None:
        await self.subscribe("updatedBars", *symbols)

    async def subscribe_daily_bars(self, *symbols: str) -> None:
        await self.subscribe("dailyBars", *symbols)

    async def subscribe_statuses(self, *symbols: str) -> None:
        await self.subscribe("statuses", *symbols)

    async def subscribe_lulds(self, *symbols: str) -> None:
        await self.subscribe("lulds", *symbols)

    async def subscribe_imbalances(self, *symbols: str) -> None:
        await self.subscribe("imbalances", *symbols)

    async def subscribe_orderbooks(self, *symbols: str) -> None:
        """Crypto order books (kept in :attr:`books` as they are consumed)."""
        await self.subscribe("orderbooks", *symbols)

    async def subscribe_news(self, *symbols: str) -> None:
        await self.subscribe("news", *symbols)

    @property
    def subscriptions(self) -> dict[str, list[str]]:
        """The desired subscriptions: channel → symbols, in the order asked for."""
        return self.session.desired

    # -- books ------------------------------------------------------------------------

    def book(self, symbol: str) -> Book | None:
        """A crypto order book as of the latest ``OrderBook`` event consumed."""
        books = self.session.decoder.books
        return None if books is None else books.get(symbol)

    @property
    def books(self) -> dict[str, Book]:
        books = self.session.decoder.books
        return {} if books is None else books
