"""What the simulated server serves: routes (URL paths), channels per cluster, and channel parsing.

The tables follow polygon.md §1.1 and §1.4: each cluster has its own channel prefixes, some of
them real-time only (refused on ``/delayed/...``), and the futures family has one path per
exchange (``/futures/cme``...) beside ``/futures`` for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

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


class Kind(Enum):
    """What a channel carries, independent of its cluster-specific prefix."""

    TRADE = "trade"
    QUOTE = "quote"
    SECOND_BAR = "second_bar"
    MINUTE_BAR = "minute_bar"
    VALUE = "value"
    LULD = "luld"
    NOI = "noi"
    FMV = "fmv"
    LV = "lv"
    L2 = "l2"
    LAUNCHPAD_AM = "launchpad_am"


_K = Kind
CHANNELS: dict[str, dict[str, Kind]] = {
    "stocks": {
        "T": _K.TRADE,
        "Q": _K.QUOTE,
        "A": _K.SECOND_BAR,
        "AM": _K.MINUTE_BAR,
        "LULD": _K.LULD,
        "NOI": _K.NOI,
        "FMV": _K.FMV,
        "LV": _K.LV,
    },
    "options": {
        "T": _K.TRADE,
        "Q": _K.QUOTE,
        "A": _K.SECOND_BAR,
        "AM": _K.MINUTE_BAR,
        "FMV": _K.FMV,
        "LV": _K.LV,
    },
    "forex": {
        "C": _K.QUOTE,
        "CAS": _K.SECOND_BAR,
        "CA": _K.MINUTE_BAR,
        "FMV": _K.FMV,
        "LV": _K.LV,
        "AM": _K.LAUNCHPAD_AM,
    },
    "crypto": {
        "XT": _K.TRADE,
        "XQ": _K.QUOTE,
        "XAS": _K.SECOND_BAR,
        "XA": _K.MINUTE_BAR,
        "XL2": _K.L2,
        "FMV": _K.FMV,
        "LV": _K.LV,
        "AM": _K.LAUNCHPAD_AM,
    },
    "indices": {"V": _K.VALUE, "A": _K.SECOND_BAR, "AM": _K.MINUTE_BAR},
    "futures": {"T": _K.TRADE, "Q": _K.QUOTE, "A": _K.SECOND_BAR, "AM": _K.MINUTE_BAR},
}
"""Cluster family → channel prefix → kind."""

REALTIME_ONLY: dict[str, frozenset[str]] = {
    "stocks": frozenset({"Q", "LULD", "NOI"}),
    "options": frozenset({"Q"}),
    "forex": frozenset({"C", "CA", "CAS"}),
    "crypto": frozenset({"XT", "XQ", "XL2", "XA", "XAS"}),
    "indices": frozenset(),
    "futures": frozenset(),
}
"""Channels the delayed feed refuses (``x-massive-entitlement-allowed-timeframes``)."""

MARKETS: tuple[str, ...] = (
    "stocks",
    "options",
    "forex",
    "crypto",
    "indices",
    "futures",
    "futures/cme",
    "futures/cbot",
    "futures/nymex",
    "futures/comex",
)
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
