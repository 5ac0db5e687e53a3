"""The Alpaca streams the simulator serves: paths, channels, the model cluster behind each, symbols.

Alpaca names instruments its own way: crypto pairs with a slash (``BTC/USD``), options as bare OCC
symbols (``SPY251219C00600000``). The seeded market model keeps its Massive names (``BTC-USD``,
``O:SPY251219C00600000``), so a feed maps between the two; the values behind a symbol are the
model's, the same numbers the Massive dialect streams for the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONTROL_CHANNELS",
    "FAKEPACA",
    "FEEDS",
    "FEED_BY_PATH",
    "Feed",
    "alpaca_symbol",
    "feed_matches",
    "model_ticker",
]

AssetClass = Literal["stocks", "crypto", "options", "news"]

FAKEPACA = "FAKEPACA"
"""The one symbol of the always-on ``/v2/test`` stream."""

_STOCK_CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "imbalances")
_CRYPTO_CHANNELS = ("trades", "quotes", "orderbooks", "bars", "updatedBars", "dailyBars")
_OPTION_CHANNELS = ("trades", "quotes")

CONTROL_CHANNELS = ("corrections", "cancelErrors")
"""Channels that follow ``trades`` on stock feeds: acked, never subscribed to directly."""


@dataclass(frozen=True, slots=True)
class Feed:
    """One stream: its name, URL path, asset class, subscribable channels and model cluster."""

    name: str
    path: str
    asset_class: AssetClass
    channels: tuple[str, ...]
    cluster: str
    """The market model cluster behind it (``""`` for news)."""
    msgpack_only: bool = False
    delayed: bool = False

    @property
    def ack_channels(self) -> tuple[str, ...]:
        """The keys of this feed's ``subscription`` ack, in order."""
        return self.channels + (CONTROL_CHANNELS if self.asset_class == "stocks" else ())


FEEDS: dict[str, Feed] = {
    f.name: f
    for f in (
        Feed("iex", "/v2/iex", "stocks", _STOCK_CHANNELS, "stocks"),
        Feed("sip", "/v2/sip", "stocks", _STOCK_CHANNELS, "stocks"),
        Feed("delayed_sip", "/v2/delayed_sip", "stocks", _STOCK_CHANNELS, "stocks", delayed=True),
        Feed("test", "/v2/test", "stocks", _STOCK_CHANNELS, "stocks"),
        Feed("crypto", "/v1beta3/crypto/us", "crypto", _CRYPTO_CHANNELS, "crypto"),
        Feed("indicative", "/v1beta1/indicative", "options", _OPTION_CHANNELS, "options", msgpack_only=True),
        Feed("opra", "/v1beta1/opra", "options", _OPTION_CHANNELS, "options", msgpack_only=True),
        Feed("news", "/v1beta1/news", "news", ("news",), ""),
    )
}
FEED_BY_PATH: dict[str, Feed] = {f.path: f for f in FEEDS.values()}


def feed_matches(feed: Feed, selector: str | None) -> bool:
    """Whether a fault selector picks ``feed``: ``None`` (all), its name, or its asset class."""
    return selector is None or selector in (feed.name, feed.asset_class)


def alpaca_symbol(cluster: str, ticker: str) -> str:
    """The model's ticker as Alpaca spells it (``BTC-USD`` → ``BTC/USD``, ``O:SPY…`` → ``SPY…``)."""
    if cluster == "crypto":
        return ticker.replace("-", "/")
    if cluster == "options":
        return ticker.removeprefix("O:")
    return ticker


def model_ticker(cluster: str, symbol: str) -> str:
    """The model's ticker for an Alpaca symbol (the inverse of :func:`alpaca_symbol`)."""
    if cluster == "crypto":
        return symbol.replace("/", "-")
    if cluster == "options":
        return "O:" + symbol
    return symbol
