"""Alpaca as a tickwire :class:`~tickwire.provider.Provider` (``get_provider("alpaca")``).

Markets are the streams of :mod:`tickwire.alpaca.endpoints` (``iex``, ``sip``, ``delayed_sip``,
``test``, ``crypto``, ``indicative``, ``opra``, ``news``). Channels are written
``<channel>[:<symbol>,<symbol>...]``::

    trades:AAPL,MSFT   quotes:*   bars:*   updatedBars:SPY   statuses:*   orderbooks:BTC/USD   news:*

A channel without symbols takes the ``markets=`` option (``tickwire record --markets``), else ``*``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tickwire.alpaca.client import AlpacaStreamClient
from tickwire.alpaca.decoder import AlpacaDecoder, count_events
from tickwire.alpaca.endpoints import MARKETS, market_info, parse_channel_name
from tickwire.alpaca.tables import alpaca_tables
from tickwire.alpaca.ticks import ticks
from tickwire.errors import ConfigError
from tickwire.provider import Provider

__all__ = ["PROVIDER", "default_channels", "open_client", "parse_channel"]

_DEFAULTS = {
    "stocks": ("trades:*", "quotes:*", "bars:*"),
    "crypto": ("trades:*", "quotes:*", "bars:*", "orderbooks:*"),
    "options": ("trades:*",),
    "news": ("news:*",),
}


def default_channels(market: str) -> tuple[str, ...]:
    """What ``tickwire record`` subscribes to: every trade, quote and minute bar (stocks, crypto,
    plus order books), every option trade, every news article."""
    return _DEFAULTS[market_info(market).asset_class]


def parse_channel(channel: str, market: str, symbols: Iterable[str] = ()) -> tuple[str, tuple[str, ...]]:
    """``"trades:AAPL,MSFT"`` → ``("trades", ("AAPL", "MSFT"))``; symbols from ``symbols`` (else ``*``)
    when the channel names none. :class:`ConfigError` says what is wrong."""
    info = market_info(market)
    name, _, rest = channel.strip().partition(":")
    if not name:
        raise ConfigError(f"empty Alpaca channel {channel!r}; e.g. trades:AAPL or bars:*")
    wire = parse_channel_name(name, info)
    chosen = tuple(dict.fromkeys(s.strip() for s in rest.split(",") if s.strip()))
    if not chosen:
        chosen = tuple(dict.fromkeys(s.strip() for item in symbols for s in item.split(",") if s.strip()))
    return wire, chosen or ("*",)


def open_client(
    market: str, channels: Iterable[str], *, markets: Iterable[str] = (), **options: Any
) -> AlpacaStreamClient:
    """An :class:`AlpacaStreamClient` on ``market`` subscribed to ``channels`` (sent once authenticated).
    ``options`` are the client's (``key_id``, ``secret_key``, ``url``, ``sandbox``, ``encoding``,
    ``frame_tap``, ``queue_size``, ``overflow``...)."""
    options.pop("feed", None)  # the stream is the market: iex, sip...
    wanted = [parse_channel(c, market, markets) for c in channels]
    if not wanted:
        raise ConfigError(f"no channels to subscribe on the Alpaca {market} stream")
    client = AlpacaStreamClient(market=market_info(market), **options)
    for wire, symbols in wanted:
        client.session.subscribe(wire, *symbols)
    return client


def _decoder(market: str) -> AlpacaDecoder:
    market_info(market)
    return AlpacaDecoder(keep_books=False)


PROVIDER = Provider(
    name="alpaca",
    title="Alpaca",
    markets=tuple(MARKETS),
    default_market="iex",
    default_channels=default_channels,
    open_client=open_client,
    decoder=_decoder,
    tables=alpaca_tables,
    count_events=count_events,
    ticks=ticks,
    aliases=("alpaca-markets",),
)
