"""Polymarket US: the client, typed events, order books, Ed25519 signing, wire Structs, the session.

``PolymarketClient`` streams one socket (``"markets"`` or ``"private"``); its events are the
Structs of :mod:`tickwire.polymarket_us.events`. Needs the ``polymarket`` extra (cryptography).
"""

from __future__ import annotations

from tickwire.polymarket_us.book import Book
from tickwire.polymarket_us.client import DEFAULT_BASE_URL, PolymarketClient
from tickwire.polymarket_us.decoder import PolymarketDecoder, parse_time_ns
from tickwire.polymarket_us.enums import Socket, SubscriptionType
from tickwire.polymarket_us.events import (
    AccountBalanceSnapshot,
    AccountBalanceUpdate,
    Balance,
    BookCrossed,
    Execution,
    MarketData,
    MarketDataLite,
    MarketStats,
    Order,
    OrderSnapshot,
    OrderUpdate,
    Position,
    PositionUpdate,
    PriceLevel,
    ReplayGap,
    Trade,
)
from tickwire.polymarket_us.session import MAX_SLUGS, PolymarketSession, Subscription
from tickwire.polymarket_us.signing import Credentials, Signer, public_key_b64, sign_message, verify_signature

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_SLUGS",
    "AccountBalanceSnapshot",
    "AccountBalanceUpdate",
    "Balance",
    "Book",
    "BookCrossed",
    "Credentials",
    "Execution",
    "MarketData",
    "MarketDataLite",
    "MarketStats",
    "Order",
    "OrderSnapshot",
    "OrderUpdate",
    "PolymarketClient",
    "PolymarketDecoder",
    "PolymarketSession",
    "Position",
    "PositionUpdate",
    "PriceLevel",
    "ReplayGap",
    "Signer",
    "Socket",
    "Subscription",
    "SubscriptionType",
    "Trade",
    "parse_time_ns",
    "public_key_b64",
    "sign_message",
    "verify_signature",
]
