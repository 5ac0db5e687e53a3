"""What the simulated server serves: routes (URL paths), channels per cluster, and channel parsing.

The routes follow polygon.md §1.1: the futures family has one path per exchange
(``/futures/cme``...) beside ``/futures`` for all of them. The channels, and which of them are
real-time only (refused on ``/delayed/...``), come from :mod:`tickwire.massive.catalog`, so the
simulator serves exactly what the client accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickwire.massive import catalog
from tickwire.massive.catalog import ChannelKind
from tickwire.massive.enums import Market

__all__ = [
    "CHANNELS",
    "MARKETS",
    "REALTIME_ONLY",
    "Kind",
    "Route",
    "parse_route",
    "split_channel",
    "split_params",
]


Kind = ChannelKind
"""What a channel carries, independent of its cluster-specific prefix (the catalogue's kind)."""

CHANNELS: dict[str, dict[str, Kind]] = {
    fam: {prefix: info.kind for prefix, info in catalog.channels(fam).items()} for fam in catalog.FAMILIES
}
"""Cluster family → channel prefix → kind: exactly the Massive catalogue."""

REALTIME_ONLY: dict[str, frozenset[str]] = {
    fam: frozenset(p for p, info in catalog.channels(fam).items() if info.realtime_only)
    for fam in catalog.FAMILIES
}
"""Channels the delayed feed refuses (``x-massive-entitlement-allowed-timeframes``)."""

MARKETS: tuple[str, ...] = tuple(m.value for m in Market)
"""Every cluster path served, real-time at ``/<market>`` and delayed at ``/delayed/<market>``."""


@dataclass(frozen=True, slots=True)
class Route:
    """A served URL path: ``market`` (``stocks``, ``futures/cme``), its ``family`` and feed."""

    path: str
    market: str
    family: str
    venue: str
    delayed: bool

    @property
    def channels(self) -> dict[str, Kind]:
        return CHANNELS[self.family]


def parse_route(raw_path: str) -> Route | None:
    """``/delayed/futures/cme?x=1`` → its :class:`Route`; ``None`` for a path the server does not serve."""
    path = raw_path.split("?", 1)[0].strip("/")
    delayed = path.startswith("delayed/")
    market = path[len("delayed/") :] if delayed else path
    if market not in MARKETS:
        return None
    family, _, venue = market.partition("/")
    return Route(path, market, family, venue, delayed)


def split_params(params: str) -> list[str]:
    """``"T.MSFT, Q.MSFT,,AM.*"`` → ``["T.MSFT", "Q.MSFT", "AM.*"]`` (commas, optional spaces)."""
    return [p for p in (part.strip() for part in params.split(",")) if p]


def split_channel(channel: str) -> tuple[str, str] | None:
    """Split at the **first** dot: ``T.BRK.A`` → ``("T", "BRK.A")``; ``None`` if either side is empty."""
    prefix, dot, ticker = channel.partition(".")
    if not dot or not prefix or not ticker:
        return None
    return prefix, ticker
