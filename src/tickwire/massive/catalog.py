"""The Massive channel catalogue: every channel of every cluster family, in one table.

A channel prefix (``T``, ``XQ``, ``AM``...) is also the wire ``ev`` of the events it carries.
For each ``(family, prefix)`` the table says which model class the decoder builds, what the
channel carries (:class:`ChannelKind`, which also names its sink table: ``trades``,
``aggs_minute``...), whether the delayed feed refuses it, and whether ``tickwire record``
subscribes to it by default. Channel validation, the decoder's tagged unions, sink tables,
the recorder's defaults and the simulator's routes are all derived from it (polygon.md §1.4).

Futures exchange paths (``futures/cme``...) share the ``futures`` family.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from tickwire.massive.enums import Market, parse_market
from tickwire.massive.models import (
    CryptoAgg,
    CryptoAggSec,
    CryptoQuote,
    CryptoTrade,
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

__all__ = [
    "FAMILIES",
    "ChannelInfo",
    "ChannelKind",
    "channels",
    "default_channels",
    "event_map",
    "family",
]


class ChannelKind(Enum):
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

    @property
    def table(self) -> str:
        """The table kind its events are stored under (``<family>_<table>``, e.g. ``stocks_trades``)."""
        return _TABLES[self]


_TABLES: dict[ChannelKind, str] = {
    ChannelKind.TRADE: "trades",
    ChannelKind.QUOTE: "quotes",
    ChannelKind.SECOND_BAR: "aggs_second",
    ChannelKind.MINUTE_BAR: "aggs_minute",
    ChannelKind.VALUE: "values",
    ChannelKind.LULD: "luld",
    ChannelKind.NOI: "imbalances",
    ChannelKind.FMV: "fmv",
    ChannelKind.LV: "launchpad_values",
    ChannelKind.L2: "books",
    ChannelKind.LAUNCHPAD_AM: "launchpad_aggs_minute",
}


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One channel of a cluster family: its prefix (= wire ``ev``) and what it means."""

    family: str
    prefix: str
    event: type[MassiveEvent]
    kind: ChannelKind
    realtime_only: bool = False
    """The delayed feed refuses it (``x-massive-entitlement-allowed-timeframes``)."""
    recorded: bool = False
    """``tickwire record`` subscribes to ``<prefix>.*`` when no channels are given."""

    @property
    def table(self) -> str:
        """The table kind: ``trades``, ``quotes``, ``aggs_minute``... (see :attr:`ChannelKind.table`)."""
        return self.kind.table


_K = ChannelKind
# (prefix, class, kind, realtime_only, recorded); rows in the order default channels are listed.
_Row = tuple[str, type[MassiveEvent], ChannelKind, bool, bool]
_ROWS: dict[str, tuple[_Row, ...]] = {
    "stocks": (
        ("T", EquityTrade, _K.TRADE, False, True),
        ("Q", EquityQuote, _K.QUOTE, True, True),
        ("A", EquityAgg, _K.SECOND_BAR, False, False),
        ("AM", EquityAggMin, _K.MINUTE_BAR, False, True),
        ("LULD", LimitUpLimitDown, _K.LULD, True, False),
        ("NOI", Imbalance, _K.NOI, True, False),
        ("FMV", FairMarketValue, _K.FMV, False, False),
        ("LV", LaunchpadValue, _K.LV, False, False),
    ),
    "options": (
        ("T", EquityTrade, _K.TRADE, False, True),
        ("Q", EquityQuote, _K.QUOTE, True, False),
        ("A", EquityAgg, _K.SECOND_BAR, False, False),
        ("AM", EquityAggMin, _K.MINUTE_BAR, False, True),
        ("FMV", FairMarketValue, _K.FMV, False, False),
        ("LV", LaunchpadValue, _K.LV, False, False),
    ),
    "forex": (
        ("C", ForexQuote, _K.QUOTE, True, True),
        ("CAS", ForexAggSec, _K.SECOND_BAR, True, False),
        ("CA", ForexAgg, _K.MINUTE_BAR, True, True),
        ("FMV", FairMarketValue, _K.FMV, False, False),
        ("LV", LaunchpadValue, _K.LV, False, False),
        ("AM", EquityAggMin, _K.LAUNCHPAD_AM, False, False),
    ),
    "crypto": (
        ("XT", CryptoTrade, _K.TRADE, True, True),
        ("XQ", CryptoQuote, _K.QUOTE, True, True),
        ("XAS", CryptoAggSec, _K.SECOND_BAR, True, False),
        ("XA", CryptoAgg, _K.MINUTE_BAR, True, True),
        ("XL2", Level2Book, _K.L2, True, False),
        ("FMV", FairMarketValue, _K.FMV, False, False),
        ("LV", LaunchpadValue, _K.LV, False, False),
        ("AM", EquityAggMin, _K.LAUNCHPAD_AM, False, False),
    ),
    "indices": (
        ("V", IndexValue, _K.VALUE, False, True),
        ("A", IndexAgg, _K.SECOND_BAR, False, False),
        ("AM", IndexAggMin, _K.MINUTE_BAR, False, True),
    ),
    "futures": (
        ("T", FuturesTrade, _K.TRADE, False, True),
        ("Q", FuturesQuote, _K.QUOTE, False, True),
        ("A", FuturesAgg, _K.SECOND_BAR, False, False),
        ("AM", FuturesAggMin, _K.MINUTE_BAR, False, True),
    ),
}

_CATALOG: dict[str, Mapping[str, ChannelInfo]] = {
    fam: MappingProxyType({p: ChannelInfo(fam, p, cls, kind, rt, rec) for p, cls, kind, rt, rec in rows})
    for fam, rows in _ROWS.items()
}
_EVENT_MAPS: dict[str, Mapping[str, type[MassiveEvent]]] = {
    fam: MappingProxyType({p: info.event for p, info in table.items()}) for fam, table in _CATALOG.items()
}
_DEFAULTS: dict[str, tuple[str, ...]] = {
    fam: tuple(f"{p}.*" for p, info in table.items() if info.recorded) for fam, table in _CATALOG.items()
}

FAMILIES: tuple[str, ...] = tuple(_CATALOG)
"""The cluster families: ``stocks``, ``options``, ``forex``, ``crypto``, ``indices``, ``futures``."""


def family(market: Market | str) -> str:
    """The cluster family of a market: ``"futures/cme"`` → ``"futures"``; :class:`ConfigError` if unknown."""
    return parse_market(market).base


def channels(market: Market | str) -> Mapping[str, ChannelInfo]:
    """Prefix → :class:`ChannelInfo` of every channel the market's cluster serves (read-only)."""
    return _CATALOG[family(market)]


def event_map(market: Market | str) -> Mapping[str, type[MassiveEvent]]:
    """Wire ``ev`` → model class on the market's cluster (read-only)."""
    return _EVENT_MAPS[family(market)]


def default_channels(market: Market | str) -> tuple[str, ...]:
    """What ``tickwire record`` subscribes to by default, e.g. ``("T.*", "Q.*", "AM.*")`` on stocks."""
    return _DEFAULTS[family(market)]
