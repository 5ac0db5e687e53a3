"""Massive (Polygon.io) as a tickwire :class:`~tickwire.provider.Provider` (``get_provider("massive")``).

Markets are the clusters (``stocks``, ``options``, ``forex``, ``crypto``, ``indices``, ``futures``
and the futures exchange paths); channels are Massive's own (``T.AAPL``, ``AM.*``); defaults,
tables and event classes come from :mod:`tickwire.massive.catalog`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tickwire.errors import ConfigError
from tickwire.massive.catalog import default_channels
from tickwire.massive.client import AsyncStreamClient
from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.enums import Market, parse_market
from tickwire.massive.session import MassiveSession
from tickwire.massive.tables import massive_tables
from tickwire.massive.ticks import ticks
from tickwire.provider import Provider

__all__ = ["PROVIDER", "open_client"]


def open_client(market: str, channels: Iterable[str], **options: Any) -> AsyncStreamClient:
    """An :class:`AsyncStreamClient` on ``market`` subscribed to ``channels`` (sent once authenticated).
    ``options`` are the client's (``api_key``, ``feed``, ``url``, ``frame_tap``, ``queue_size``...)."""
    if options.pop("markets", None):
        raise ConfigError("Massive channels name their symbols (T.AAPL, Q.*): markets= is for Polymarket US")
    return AsyncStreamClient(market=parse_market(market), subscriptions=tuple(channels), **options)


def _market(market: str) -> str:
    return parse_market(market).value


PROVIDER = Provider(
    name="massive",
    title="Massive",
    markets=tuple(m.value for m in Market),
    default_market=Market.Stocks.value,
    default_channels=default_channels,
    open_client=open_client,
    decoder=lambda market: MassiveDecoder(_market(market)),
    tables=massive_tables,
    count_events=MassiveSession.count_events,
    ticks=ticks,
    aliases=("polygon",),
)
