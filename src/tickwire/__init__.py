"""tickwire: real-time market data over WebSockets, fast, typed, and never silently lossy.

The public API: the stream client, the event types (Massive models named as in the official
``massive`` client, plus tickwire's control events), errors, and the Massive enums.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    TLSError,
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
from .pipeline.bars import Bar, BarAggregator
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
    "PolymarketClient",
    "RawEvent",
    "Reconnected",
    "Recorder",
    "RestClient",
    "SlowConsumer",
    "Status",
    "StreamClient",
    "StreamCluster",
    "StreamHost",
    "StreamServicePrefix",
    "StreamWarning",
    "SubscriptionError",
    "SubscriptionRejected",
    "TLSError",
    "TickwireError",
    "__version__",
]

if TYPE_CHECKING:  # what type checkers see of the lazily imported names below
    from .dashboard import Dashboard
    from .polymarket import PolymarketClient
    from .record import Recorder
    from .rest import AsyncRestClient, RestClient

# Names whose modules need an extra (httpx, cryptography, pyarrow, aiohttp): imported on first use,
# so ``import tickwire`` needs only the core dependencies.
_LAZY = {
    "AsyncRestClient": ".rest",
    "RestClient": ".rest",
    "PolymarketClient": ".polymarket",
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
