"""History over REST: aggregates, trades, previous close and snapshots as typed rows and tables.

``RestClient`` (blocking) and ``AsyncRestClient`` share one sans-I/O implementation
(:mod:`.core`) of request building, ``next_url`` pagination and retries; results come as
:class:`Bars` / :class:`Trades` with ``to_pandas()``, ``to_polars()``, ``to_csv()``,
``to_parquet()`` and, for bars, ``plot()``. :mod:`.backfill` repairs what a stream
reconnect missed.

::

    from tickwire.massive.rest import RestClient
    bars = RestClient().aggs("AAPL", 1, "minute", "2024-01-02", "2024-01-05")
    bars.to_pandas(tz="America/New_York"); bars.to_csv("aapl.csv"); bars.plot("aapl.png")
"""

from __future__ import annotations

from tickwire.massive.rest.client import API_KEY_ENV_VARS, DEFAULT_BASE_URL, AsyncRestClient, RestClient
from tickwire.massive.rest.core import RateLimited, RestError
from tickwire.massive.rest.frames import BAR_COLUMNS, TRADE_COLUMNS, Bars, Trades
from tickwire.massive.rest.models import (
    Agg,
    LastQuote,
    LastTrade,
    MinuteSnapshot,
    PreviousClose,
    PreviousCloseAgg,
    Snapshot,
    SnapshotBar,
    TickerSnapshot,
    Trade,
)

__all__ = [
    "API_KEY_ENV_VARS",
    "BAR_COLUMNS",
    "DEFAULT_BASE_URL",
    "TRADE_COLUMNS",
    "Agg",
    "AsyncRestClient",
    "Bars",
    "LastQuote",
    "LastTrade",
    "MinuteSnapshot",
    "PreviousClose",
    "PreviousCloseAgg",
    "RateLimited",
    "RestClient",
    "RestError",
    "Snapshot",
    "SnapshotBar",
    "TickerSnapshot",
    "Trade",
    "Trades",
]
