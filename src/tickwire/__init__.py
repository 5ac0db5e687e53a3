"""tickwire: real-time market data over WebSockets, fast, typed, and never silently lossy.

The public API: the stream client, the event types (Massive models named as in the official
``massive`` client, plus tickwire's control events), errors, and the Massive enums.
"""

from __future__ import annotations

from ._version import __version__
from .backoff import Backoff
from .client import AsyncStreamClient
from .errors import (
    AuthError,
    ConfigError,
    ConnectionLost,
    HandshakeError,
    SlowConsumer,
    StreamWarning,
    SubscriptionError,
    TickwireError,
)
from .events import (
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
from .pipeline.metrics import MetricsSnapshot
from .providers.massive.enums import EventType, Feed, Market
from .providers.massive.models import (
    CryptoAgg,
    CryptoAggSec,
    CryptoQuote,
    CryptoTrade,
    CurrencyAgg,
    EquityAgg,
    EquityAggMin,
    EquityQuote,
    EquityTrade,
    FairMarketValue,
    ForexAgg,
    ForexAggSec,
    ForexQuote,
    FuturesAgg,
    FuturesAggMin,
    FuturesQuote,
    FuturesTrade,
    Imbalance,
    IndexAgg,
    IndexAggMin,
    IndexValue,
    LaunchpadValue,
    Level2Book,
    LimitUpLimitDown,
    MassiveEvent,
)
from .service_api import StreamCluster, StreamHost, StreamServicePrefix
from .threaded import StreamClient

__all__ = [
    "AsyncStreamClient",
    "AuthError",
    "Backoff",
    "ConfigError",
    "Connected",
    "ConnectionLost",
    "ControlEvent",
    "CryptoAgg",
    "CryptoAggSec",
    "CryptoQuote",
    "CryptoTrade",
    "CurrencyAgg",
    "DecodeError",
    "Disconnected",
    "Dropped",
    "EquityAgg",
    "EquityAggMin",
    "EquityQuote",
    "EquityTrade",
    "Event",
    "EventType",
    "FairMarketValue",
    "Feed",
    "ForexAgg",
    "ForexAggSec",
    "ForexQuote",
    "FuturesAgg",
    "FuturesAggMin",
    "FuturesQuote",
    "FuturesTrade",
    "HandshakeError",
    "Imbalance",
    "IndexAgg",
    "IndexAggMin",
    "IndexValue",
    "LaunchpadValue",
    "Level2Book",
    "LimitUpLimitDown",
    "Market",
    "MassiveEvent",
    "MetricsSnapshot",
    "RawEvent",
    "Reconnected",
    "SlowConsumer",
    "Status",
    "StreamClient",
    "StreamCluster",
    "StreamHost",
    "StreamServicePrefix",
    "StreamWarning",
    "SubscriptionError",
    "SubscriptionRejected",
    "TickwireError",
    "__version__",
]
