"""Alpaca events → tables: ``alpaca_<asset class>_<kind>``, columns named as the events' fields.

==================================  ==========================================================
``alpaca_stocks_trades``            trades (``conditions`` as JSON), and the same for
``alpaca_crypto_trades``            ``_quotes``, ``_bars``, ``_updated_bars``, ``_daily_bars``
``alpaca_options_trades``           per asset class
``alpaca_stocks_statuses``          trading statuses; ``_lulds``, ``_corrections``,
                                    ``_cancel_errors``, ``_imbalances`` likewise (stocks)
``alpaca_crypto_orderbooks``        order book messages as sent (levels as JSON, ``reset``)
``alpaca_news``                     news articles
``alpaca_<asset class>_unknown``    messages of unknown types, as they came
==================================  ==========================================================

``ts`` is the event's ``timestamp``. Backfilled bars go to the bars table like live ones. Sinks
route events under ``alpaca.<market>`` by type tag and symbol (``md.alpaca.iex.t.AAPL``).
"""

from __future__ import annotations

from functools import cache

from tickwire.alpaca.backfill import BackfilledBar
from tickwire.alpaca.endpoints import MarketInfo, market_info
from tickwire.alpaca.models import (
    Bar,
    CancelError,
    Correction,
    DailyBar,
    Imbalance,
    Luld,
    News,
    OrderBook,
    Quote,
    Trade,
    TradingStatus,
    UpdatedBar,
)
from tickwire.events import Event
from tickwire.tables import StructTables, TableSpec, struct_spec

__all__ = ["alpaca_tables", "symbol_of"]

_TS = ("symbol", "timestamp")
# (class, table kind, natural key) per channel
_KINDS: dict[str, tuple[type[Event], str, tuple[str, ...]]] = {
    "trades": (Trade, "trades", (*_TS, "exchange", "id")),
    "quotes": (Quote, "quotes", (*_TS, "bid_exchange", "ask_exchange")),
    "bars": (Bar, "bars", _TS),
    "updatedBars": (UpdatedBar, "updated_bars", _TS),
    "dailyBars": (DailyBar, "daily_bars", _TS),
    "statuses": (TradingStatus, "statuses", (*_TS, "status_code")),
    "lulds": (Luld, "lulds", _TS),
    "imbalances": (Imbalance, "imbalances", _TS),
    "orderbooks": (OrderBook, "orderbooks", (*_TS, "reset")),
}
_WITH_TRADES: tuple[tuple[type[Event], str, tuple[str, ...]], ...] = (
    (Correction, "corrections", (*_TS, "original_id")),
    (CancelError, "cancel_errors", (*_TS, "id")),
)


def symbol_of(ev: Event) -> str | None:
    """The symbol an event is about (news: its first symbol)."""
    return getattr(ev, "symbol", None) or None


@cache
def alpaca_tables(market: str | MarketInfo) -> StructTables:
    """The table registry of one Alpaca stream (``iex``, ``crypto``, ``opra``, ``news``...), cached."""
    info = market_info(market)
    if info.asset_class == "news":
        specs: dict[type[Event], TableSpec] = {
            News: struct_spec("alpaca_news", News, key=("id", "updated_at"), time_column="timestamp")
        }
        return StructTables("alpaca.news", "alpaca_news", specs, symbol=symbol_of)
    prefix = f"alpaca_{info.asset_class}"
    specs = {}
    kinds = [_KINDS[c] for c in info.channels if c in _KINDS]
    if "trades" in info.channels and info.asset_class == "stocks":
        kinds += _WITH_TRADES
    for cls, kind, key in kinds:
        specs[cls] = struct_spec(f"{prefix}_{kind}", cls, key=key)
    if Bar in specs:
        specs[BackfilledBar] = specs[Bar]
    return StructTables(f"alpaca.{info.name}", prefix, specs, symbol=symbol_of)
