"""tickwire: real-time market data over WebSockets, fast, typed, and never silently lossy.

The public API: the stream client, the event types (Massive models named as in the official
``massive`` client, plus tickwire's control events), errors, and the Massive enums.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tickwire._version import __version__
from tickwire.backoff import Backoff
from tickwire.bars import Bar, BarAggregator
from tickwire.errors import (
    AuthError,
    ConfigError,
    ConnectionLost,
    DataRefused,
    FatalStreamError,
    JournalError,
    LeaseLost,
    NatsRefused,
    NatsUnavailable,
    PublishError,
    RateLimited,
    RestError,
    SinkError,
    StreamTaken,
    StreamWarning,
    SubscriptionError,
    TickwireError,
    TLSError,
)
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
from tickwire.massive.callback import StreamClient
from tickwire.massive.client import AsyncStreamClient
from tickwire.massive.enums import EventType, Feed, Market
from tickwire.massive.models import (
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
from tickwire.massive.polygon_compat import StreamCluster, StreamHost, StreamServicePrefix
from tickwire.stream.metrics import MetricsSnapshot

__all__ = [
    "AsyncRestClient",
    "AsyncStreamClient",
    "AuthError",
    "Backoff",
    "Bar",
    "BarAggregator",
    "ConfigError",
    "Connected",
    "ConnectionLost",
    "ControlEvent",
    "CryptoAgg",
    "CryptoAggSec",
    "CryptoQuote",
    "CryptoTrade",
    "CurrencyAgg",
    "Dashboard",
    "DataRefused",
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
    "FatalStreamError",
    "Feed",
    "ForexAgg",
    "ForexAggSec",
    "ForexQuote",
    "FuturesAgg",
    "FuturesAggMin",
    "FuturesQuote",
    "FuturesTrade",
    "Imbalance",
    "IndexAgg",
    "IndexAggMin",
    "IndexValue",
    "JournalError",
    "LaunchpadValue",
    "LeaseLost",
    "Level2Book",
    "LimitUpLimitDown",
    "Market",
    "MassiveEvent",
    "MetricsSnapshot",
    "NatsRefused",
    "NatsUnavailable",
    "PolymarketClient",
    "PublishError",
    "RateLimited",
    "RawEvent",
    "Reconnected",
    "Recorder",
    "RestClient",
    "RestError",
    "SinkError",
    "Status",
    "StreamClient",
    "StreamCluster",
    "StreamHost",
    "StreamServicePrefix",
    "StreamTaken",
    "StreamWarning",
    "SubscriptionError",
    "SubscriptionRejected",
    "TLSError",
    "TickwireError",
    "__version__",
]

if TYPE_CHECKING:  # what type checkers see of the lazily imported names below
    from tickwire.dashboard import Dashboard
    from tickwire.massive.rest import AsyncRestClient, RestClient
    from tickwire.polymarket_us.client import PolymarketClient
    from tickwire.record import Recorder

# Names whose modules need an extra (httpx, cryptography, pyarrow, aiohttp): imported on first use,
# so ``import tickwire`` needs only the core dependencies.
_LAZY = {
    "AsyncRestClient": ".massive.rest",
    "RestClient": ".massive.rest",
    "PolymarketClient": ".polymarket_us.client",
    "Recorder": ".record",
    "Dashboard": ".dashboard",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tickwire' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
