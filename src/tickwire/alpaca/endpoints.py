"""Alpaca's market-data streams (the provider's *markets*), their URLs, channels and encodings.

=================  ==============================  ===========  ==========================================
market             path                            asset class  channels
=================  ==============================  ===========  ==========================================
``iex``            ``/v2/iex``                     stocks       trades quotes bars updatedBars dailyBars
``sip``            ``/v2/sip``                     stocks       statuses lulds imbalances (corrections and
``delayed_sip``    ``/v2/delayed_sip``             stocks       cancelErrors come with trades)
``test``           ``/v2/test`` (``FAKEPACA``)     stocks
``crypto``         ``/v1beta3/crypto/us``          crypto       trades quotes bars updatedBars dailyBars
                                                                orderbooks
``indicative``     ``/v1beta1/indicative``         options      trades quotes (msgpack only)
``opra``           ``/v1beta1/opra``               options      trades quotes (msgpack only)
``news``           ``/v1beta1/news``               news         news
=================  ==============================  ===========  ==========================================

Hosts: ``wss://stream.data.alpaca.markets`` (live), ``wss://stream.data.sandbox.alpaca.markets``
(``sandbox=True``); ``url=`` points anywhere else (``ws://127.0.0.1:8765``: the market's path is
appended when the URL has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tickwire.errors import ConfigError

__all__ = [
    "CHANNELS",
    "LIVE_HOST",
    "MARKETS",
    "SANDBOX_HOST",
    "Encoding",
    "MarketInfo",
    "market_info",
    "parse_channel_name",
    "stream_url",
]

LIVE_HOST = "wss://stream.data.alpaca.markets"
SANDBOX_HOST = "wss://stream.data.sandbox.alpaca.markets"

Encoding = Literal["json", "msgpack"]

CHANNELS = (
    "trades",
    "quotes",
    "bars",
    "updatedBars",
    "dailyBars",
    "statuses",
    "lulds",
    "imbalances",
    "orderbooks",
    "news",
)
"""Every channel a subscribe request can name (``corrections``/``cancelErrors`` follow ``trades``)."""

_STOCKS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "imbalances")
_CRYPTO = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "orderbooks")
_OPTIONS = ("trades", "quotes")


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """One stream: its name, path, asset class, channels and whether it speaks msgpack only."""

    name: str
    path: str
    asset_class: Literal["stocks", "crypto", "options", "news"]
    channels: tuple[str, ...]
    msgpack_only: bool = False


MARKETS: dict[str, MarketInfo] = {
    m.name: m
    for m in (
        MarketInfo("iex", "/v2/iex", "stocks", _STOCKS),
        MarketInfo("sip", "/v2/sip", "stocks", _STOCKS),
        MarketInfo("delayed_sip", "/v2/delayed_sip", "stocks", _STOCKS),
        MarketInfo("test", "/v2/test", "stocks", _STOCKS),
        MarketInfo("crypto", "/v1beta3/crypto/us", "crypto", _CRYPTO),
        MarketInfo("indicative", "/v1beta1/indicative", "options", _OPTIONS, msgpack_only=True),
        MarketInfo("opra", "/v1beta1/opra", "options", _OPTIONS, msgpack_only=True),
        MarketInfo("news", "/v1beta1/news", "news", ("news",)),
    )
}

_ALIASES = {
    "stocks": "iex",
    "options": "indicative",
    "crypto/us": "crypto",
    "delayed-sip": "delayed_sip",
}
_CHANNEL_ALIASES = {c.lower(): c for c in CHANNELS} | {
    "updated_bars": "updatedBars",
    "daily_bars": "dailyBars",
    "trade": "trades",
    "quote": "quotes",
    "bar": "bars",
    "orderbook": "orderbooks",
    "order_books": "orderbooks",
    "status": "statuses",
    "luld": "lulds",
    "imbalance": "imbalances",
}


def market_info(market: str | MarketInfo) -> MarketInfo:
    """The stream called ``market`` (``iex``, ``crypto``, ``opra``...; ``stocks`` means ``iex``)."""
    if isinstance(market, MarketInfo):
        return market
    name = str(market).strip().lower().strip("/")
    for info in MARKETS.values():  # a path works too: "v2/sip", "v1beta3/crypto/us"
        if name == info.path.strip("/"):
            return info
    name = _ALIASES.get(name, name)
    found = MARKETS.get(name)
    if found is None:
        raise ConfigError(f"Alpaca has no stream {market!r}; choose one of {', '.join(MARKETS)}")
    return found


def parse_channel_name(channel: str, info: MarketInfo) -> str:
    """The wire name of a channel (``updated_bars`` → ``updatedBars``), checked against the stream."""
    name = _CHANNEL_ALIASES.get(channel.strip().lower())
    if name is None:
        raise ConfigError(f"unknown Alpaca channel {channel!r}; choose one of {', '.join(info.channels)}")
    if name not in info.channels:
        raise ConfigError(
            f"the {info.name} stream has no {name} channel; it serves {', '.join(info.channels)}"
        )
    return name


def stream_url(info: MarketInfo, *, url: str | None = None, sandbox: bool = False) -> str:
    """The stream's URL: ``url`` (its path kept, or the stream's appended), else the live or sandbox host."""
    if url is None:
        return (SANDBOX_HOST if sandbox else LIVE_HOST) + info.path
    text = url.strip()
    if text.startswith("https://"):
        text = "wss://" + text[len("https://") :]
    elif text.startswith("http://"):
        text = "ws://" + text[len("http://") :]
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in ("ws", "wss"):
        raise ConfigError(f"url must start with ws:// or wss://, got {url!r}")
    host, slash, path = rest.partition("/")
    if not host:
        raise ConfigError(f"url has no host: {url!r}")
    return text if slash and path else f"{scheme}://{host}{info.path}"
