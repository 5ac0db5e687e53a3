"""The public API is pinned: a change to ``tickwire.__all__`` must be deliberate."""

from __future__ import annotations

import tickwire

PINNED = {
    "Bar", "BarAggregator", "AsyncRestClient", "RestClient", "PolymarketClient", "Recorder", "Dashboard",
    "StreamClient", "StreamCluster", "StreamHost", "StreamServicePrefix", "StreamWarning",
    "AsyncStreamClient", "AuthError", "Backoff", "ConfigError", "Connected", "ConnectionLost",
    "ControlEvent", "CryptoAgg", "CryptoAggSec", "CryptoQuote", "CryptoTrade", "CurrencyAgg",
    "DecodeError", "Disconnected", "Dropped", "EquityAgg", "EquityAggMin", "EquityQuote",
    "EquityTrade", "Event", "EventType", "FairMarketValue", "Feed", "ForexAgg", "ForexAggSec",
    "ForexQuote", "FuturesAgg", "FuturesAggMin", "FuturesQuote", "FuturesTrade", "HandshakeError",
    "Imbalance", "IndexAgg", "IndexAggMin", "IndexValue", "LaunchpadValue", "Level2Book",
    "LimitUpLimitDown", "Market", "MassiveEvent", "MetricsSnapshot", "RawEvent", "Reconnected",
    "SlowConsumer", "Status", "SubscriptionError", "SubscriptionRejected", "TLSError", "TickwireError",
    "__version__",
}  # fmt: skip


def test_all_is_pinned_and_sorted() -> None:
    assert set(tickwire.__all__) == PINNED
    assert tickwire.__all__ == sorted(tickwire.__all__, key=lambda n: (n.startswith("_"), n))


def test_every_name_resolves() -> None:
    for name in tickwire.__all__:
        assert getattr(tickwire, name) is not None
