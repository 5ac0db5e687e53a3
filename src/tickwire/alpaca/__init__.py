"""Alpaca market data: the stream client (stocks, crypto, options, news), typed events, crypto order
books, the sans-I/O session, REST bars and gap backfill.

``AlpacaStreamClient`` streams one Alpaca stream (``market="iex"``, ``"sip"``, ``"test"``,
``"crypto"``, ``"opra"``, ``"news"``...), JSON or msgpack; ``AlpacaCallbackClient`` is its callback
twin on background threads. Keys come from ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY`` or ``.env``.
"""

from __future__ import annotations

from tickwire.alpaca.backfill import AlpacaBackfillConfig, AlpacaGapFiller, BackfilledBar, BarsBackfilled
from tickwire.alpaca.book import Book, OrderBooks
from tickwire.alpaca.callback import AlpacaCallbackClient
from tickwire.alpaca.client import AlpacaStreamClient
from tickwire.alpaca.codes import AlpacaAuthError, ErrorCode, error_info
from tickwire.alpaca.decoder import AlpacaDecoder
from tickwire.alpaca.endpoints import LIVE_HOST, MARKETS, SANDBOX_HOST, MarketInfo, market_info, stream_url
from tickwire.alpaca.keys import resolve_keys
from tickwire.alpaca.models import (
    AlpacaError,
    AlpacaEvent,
    Bar,
    BookCrossed,
    BookLevel,
    CancelError,
    Correction,
    DailyBar,
    Imbalance,
    Luld,
    News,
    OrderBook,
    Quote,
    SubscriptionAck,
    Trade,
    TradingStatus,
    UpdatedBar,
)
from tickwire.alpaca.rest import AlpacaRestClient, AsyncAlpacaRestClient, bars_frame
from tickwire.alpaca.session import AlpacaSession

__all__ = [
    "LIVE_HOST",
    "MARKETS",
    "SANDBOX_HOST",
    "AlpacaAuthError",
    "AlpacaBackfillConfig",
    "AlpacaCallbackClient",
    "AlpacaDecoder",
    "AlpacaError",
    "AlpacaEvent",
    "AlpacaGapFiller",
    "AlpacaRestClient",
    "AlpacaSession",
    "AlpacaStreamClient",
    "AsyncAlpacaRestClient",
    "BackfilledBar",
    "Bar",
    "BarsBackfilled",
    "Book",
    "BookCrossed",
    "BookLevel",
    "CancelError",
    "Correction",
    "DailyBar",
    "ErrorCode",
    "Imbalance",
    "Luld",
    "MarketInfo",
    "News",
    "OrderBook",
    "OrderBooks",
    "Quote",
    "SubscriptionAck",
    "Trade",
    "TradingStatus",
    "UpdatedBar",
    "bars_frame",
    "error_info",
    "market_info",
    "resolve_keys",
    "stream_url",
]
