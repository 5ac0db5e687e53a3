"""The Massive (Polygon.io) provider: stream clients, wire models, decoder, sans-I/O session, catalogue.

``AsyncStreamClient`` (``async for``) and ``StreamClient`` (callbacks on a thread) stream one
cluster; the events are the models named as in the official ``massive`` client; the channel
catalogue (:mod:`tickwire.massive.catalog`) says what each cluster serves. The REST clients need
the ``rest`` extra (httpx) and are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tickwire.massive.callback import MessageMode, StreamClient
from tickwire.massive.catalog import ChannelInfo, ChannelKind, default_channels
from tickwire.massive.channels import normalize_channel, normalize_channels
from tickwire.massive.client import AsyncStreamClient
from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.enums import EventType, Feed, Market, parse_market
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
from tickwire.massive.session import MassiveSession

if TYPE_CHECKING:  # what type checkers see of the lazily imported names below
    from tickwire.massive.rest import AsyncRestClient, RestClient

__all__ = [
    "AsyncRestClient",
    "AsyncStreamClient",
    "ChannelInfo",
    "ChannelKind",
    "CryptoAgg",
    "CryptoAggSec",
    "CryptoQuote",
    "CryptoTrade",
    "CurrencyAgg",
    "EquityAgg",
    "EquityAggMin",
    "EquityQuote",
    "EquityTrade",
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
    "Imbalance",
    "IndexAgg",
    "IndexAggMin",
    "IndexValue",
    "LaunchpadValue",
    "Level2Book",
    "LimitUpLimitDown",
    "Market",
    "MassiveDecoder",
    "MassiveEvent",
    "MassiveSession",
    "MessageMode",
    "RestClient",
    "StreamClient",
    "StreamCluster",
    "StreamHost",
    "StreamServicePrefix",
    "default_channels",
    "normalize_channel",
    "normalize_channels",
    "parse_market",
]

_LAZY = frozenset({"AsyncRestClient", "RestClient"})  # need httpx (the ``rest`` extra)


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'tickwire.massive' has no attribute {name!r}")
    from tickwire.massive import rest

    value = getattr(rest, name)
    globals()[name] = value
    return value
