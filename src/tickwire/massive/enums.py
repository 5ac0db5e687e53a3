"""Massive (Polygon.io) markets, feeds (hosts) and event types, named as in the official client."""

from __future__ import annotations

from enum import StrEnum

from tickwire.errors import ConfigError

__all__ = ["EventType", "Feed", "Market", "feed_host", "parse_market"]


class Market(StrEnum):
    """A Massive cluster: the URL path on the feed host."""

    Stocks = "stocks"
    Options = "options"
    Forex = "forex"
    Crypto = "crypto"
    Indices = "indices"
    Futures = "futures"
    FuturesCME = "futures/cme"
    FuturesCBOT = "futures/cbot"
    FuturesNYMEX = "futures/nymex"
    FuturesCOMEX = "futures/comex"

    @property
    def base(self) -> str:
        """The cluster family: ``"futures"`` for every futures exchange path, else the value."""
        return "futures" if self.value.startswith("futures") else self.value


class Feed(StrEnum):
    """A Massive feed host. ``RealTime`` and ``Delayed`` are the common ones. Member names are
    ``massive``'s (a test checks them); ``NasdaqFeed`` and ``DelayedNasdaqBasicBusiness``, tickwire's
    earlier names, remain as deprecated aliases."""

    RealTime = "socket.massive.com"
    Delayed = "delayed.massive.com"
    Business = "business.massive.com"
    Launchpad = "launchpad.massive.com"
    EdgxBusiness = "edgx-business.massive.com"
    IEXBusiness = "iex-business.massive.com"
    DelayedBusiness = "delayed-business.massive.com"
    DelayedEdgxBusiness = "delayed-edgx-business.massive.com"
    DelayedNasdaqLastSaleBusiness = "delayed-nasdaq-last-sale-business.massive.com"
    DelayedNasdaqBasic = "delayed-nasdaq-basic-business.massive.com"
    DelayedFullMarketBusiness = "delayed-fullmarket-business.massive.com"
    FullMarketBusiness = "fullmarket-business.massive.com"
    NasdaqLastSaleBusiness = "nasdaq-last-sale-business.massive.com"
    NasdaqBasicBusiness = "nasdaq-basic-business.massive.com"
    Nasdaq = "nasdaqfeed.massive.com"
    PolyFeed = "polyfeed.massive.com"
    PolyFeedPlus = "polyfeedplus.massive.com"
    StarterFeed = "starterfeed.massive.com"
    # deprecated aliases (tickwire's earlier names)
    NasdaqFeed = "nasdaqfeed.massive.com"
    DelayedNasdaqBasicBusiness = "delayed-nasdaq-basic-business.massive.com"


class EventType(StrEnum):
    """Wire ``ev`` values, with the official client's names (the futures and launchpad ones are
    aliases of the equity members, as there); ``FuturesAggregateSecond``/``FuturesAggregateMinute``,
    tickwire's earlier names, remain as deprecated aliases."""

    EquityAgg = "A"
    EquityAggMin = "AM"
    CryptoAgg = "XA"
    CryptoAggSec = "XAS"
    ForexAgg = "CA"
    ForexAggSec = "CAS"
    EquityTrade = "T"
    CryptoTrade = "XT"
    EquityQuote = "Q"
    ForexQuote = "C"
    CryptoQuote = "XQ"
    Imbalances = "NOI"
    LimitUpLimitDown = "LULD"
    CryptoL2 = "XL2"
    Value = "V"
    LaunchpadValue = "LV"
    BusinessFairMarketValue = "FMV"
    LaunchpadAggMin = "AM"
    FuturesTrade = "T"
    FuturesQuote = "Q"
    FuturesAgg = "A"
    FuturesAggMin = "AM"
    # deprecated aliases (tickwire's earlier names)
    FuturesAggregateSecond = "A"
    FuturesAggregateMinute = "AM"


_FEED_ALIASES = {
    "realtime": Feed.RealTime,
    "real_time": Feed.RealTime,
    "real-time": Feed.RealTime,
    "delayed": Feed.Delayed,
    "business": Feed.Business,
    "launchpad": Feed.Launchpad,
}


def parse_market(market: str | Market) -> Market:
    """``"stocks"``, ``"Stocks"`` or ``Market.Stocks`` → ``Market.Stocks``; a clear error otherwise."""
    if isinstance(market, Market):
        return market
    key = str(market).strip().lower()
    for m in Market:
        if key in (m.value, m.name.lower()):
            return m
    choices = ", ".join(m.value for m in Market)
    raise ConfigError(f"unknown market {market!r}; choose one of: {choices}")


def feed_host(feed: str | Feed) -> str:
    """A feed name (``"realtime"``, ``"delayed"``, ``"business"``, ``"launchpad"``), enum or host → host."""
    if isinstance(feed, Feed):
        return feed.value
    key = str(feed).strip()
    alias = _FEED_ALIASES.get(key.lower())
    if alias is not None:
        return alias.value
    for f in Feed:
        if key.lower() == f.name.lower():
            return f.value
    if not key or " " in key or "/" in key.split("://", 1)[-1]:
        raise ConfigError(
            f"unknown feed {feed!r}; use realtime, delayed, business, launchpad, a Feed or a host name"
        )
    return key
