"""Polymarket US events → tables: books, lite prices and trades (markets socket); orders, positions
and balances (private socket). Nested events are flattened into columns a quant can aggregate.

Amounts (prices 0..1 USD, share quantities, balances) are exact ``decimal`` columns
(``DECIMAL(38, 9)`` in DuckDB and Parquet, ``NUMERIC`` in PostgreSQL): ``sum``/``avg`` work on
them and nothing is rounded (the exchange's ticks are far coarser than 1e-9). Times are Unix
nanoseconds (``*_time`` columns) and ``ts`` the event's time as a timestamp.

==============================  =====================================================================
``polymarket_us_books``         MARKET_DATA: best bid/ask, their sizes, mid, spread, level counts,
                                the depth as JSON ``[[price, qty], ...]`` best first, and the stats
``polymarket_us_prices``        MARKET_DATA_LITE as sent (no time of its own: ``ts`` is null)
``polymarket_us_trades``        TRADE
``polymarket_us_orders``        ORDER: one row per execution report, with the order's new state
``polymarket_us_order_snapshots`` ORDER_SNAPSHOT pages (orders as JSON)
``polymarket_us_positions``     POSITION: the position after the change (and the net before)
``polymarket_us_balances``      ACCOUNT_BALANCE updates: the balance after (and the balance before)
``polymarket_us_balance_snapshots`` ACCOUNT_BALANCE snapshots: the first (USD) balance, all as JSON
``polymarket_us_unknown``       events of unknown types, as JSON
==============================  =====================================================================

Sinks route events under ``polymarket_us.<socket>`` by event type and market slug
(``md.polymarket_us.markets.trade.btc-100k-2026``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

import msgspec

from tickwire.events import Event
from tickwire.polymarket_us.enums import Socket
from tickwire.polymarket_us.events import (
    AccountBalanceSnapshot,
    AccountBalanceUpdate,
    Balance,
    MarketData,
    MarketDataLite,
    OrderSnapshot,
    OrderUpdate,
    PositionUpdate,
    PriceLevel,
    Trade,
)
from tickwire.tables import Column, ColumnType, StructTables, TableSpec, struct_spec

__all__ = ["PREFIX", "polymarket_tables", "slug_of"]

PREFIX = "polymarket_us"

_JSON = msgspec.json.Encoder(decimal_format="number")


def slug_of(ev: Event) -> str | None:
    """The market an event is about (orders: the order's market)."""
    slug = getattr(ev, "market_slug", None)
    if slug is None and isinstance(ev, OrderUpdate) and ev.execution.order is not None:
        slug = ev.execution.order.market_slug
    return slug or None


# ---------------------------------------------------------------------------- books


def _best_bid(ev: MarketData) -> PriceLevel | None:
    return max(ev.bids, key=_price) if ev.bids else None


def _best_ask(ev: MarketData) -> PriceLevel | None:
    return min(ev.offers, key=_price) if ev.offers else None


def _price(level: PriceLevel) -> Decimal:
    return level.price


def _mid(ev: MarketData) -> Decimal | None:
    bid, ask = _best_bid(ev), _best_ask(ev)
    return None if bid is None or ask is None else (bid.price + ask.price) / 2


def _spread(ev: MarketData) -> Decimal | None:
    bid, ask = _best_bid(ev), _best_ask(ev)
    return None if bid is None or ask is None else ask.price - bid.price


def _depth(levels: Sequence[PriceLevel], *, best_high: bool) -> str:
    ordered = sorted(levels, key=_price, reverse=best_high)
    return _JSON.encode([[lv.price, lv.qty] for lv in ordered]).decode()


def _level(pick: Callable[[MarketData], PriceLevel | None], part: str) -> Callable[[MarketData], Any]:
    def get(ev: MarketData) -> Any:
        level = pick(ev)
        return None if level is None else getattr(level, part)

    return get


def _books() -> TableSpec:
    stats = [
        "last_trade_px",
        "last_trade_qty",
        "current_px",
        "open_px",
        "high_px",
        "low_px",
        "close_px",
        "settlement_px",
        "shares_traded",
        "notional_traded",
        "open_interest",
    ]
    cols = [
        Column("ev", "str"),
        Column("request_id", "str"),
        Column("market_slug", "str"),
        Column("state", "str"),
        Column("best_bid", "decimal", source=_level(_best_bid, "price")),
        Column("best_bid_qty", "decimal", source=_level(_best_bid, "qty")),
        Column("best_ask", "decimal", source=_level(_best_ask, "price")),
        Column("best_ask_qty", "decimal", source=_level(_best_ask, "qty")),
        Column("mid", "decimal", source=_mid),
        Column("spread", "decimal", source=_spread),
        Column("bid_levels", "int", source=lambda ev: len(ev.bids)),
        Column("ask_levels", "int", source=lambda ev: len(ev.offers)),
        Column("bids", "json", source=lambda ev: _depth(ev.bids, best_high=True)),
        Column("asks", "json", source=lambda ev: _depth(ev.offers, best_high=False)),
        *(Column(s, "decimal", source=f"stats.{s}") for s in stats),
        Column("crossed", "bool"),
        Column("transact_time", "int"),
        Column("ts", "ts"),
    ]
    return TableSpec(
        f"{PREFIX}_books",
        "market_data",
        MarketData,
        tuple(cols),
        ("market_slug", "transact_time"),
        "transact_time",
    )


# ---------------------------------------------------------------------------- private socket


def _flat(
    name: str,
    cls: type[Event],
    columns: Sequence[tuple[str, ColumnType, str]],
    key: tuple[str, ...],
    time_column: str | None,
) -> TableSpec:
    """A table of ``(column, type, attribute path)`` triples."""
    cols = (
        Column("ev", "str"),
        *(Column(n, t, source=path) for n, t, path in columns),
        Column("ts", "ts"),
    )
    return TableSpec(f"{PREFIX}_{name}", str(cls.__struct_config__.tag), cls, cols, key, time_column)


_D: ColumnType = "decimal"
_S: ColumnType = "str"
_I: ColumnType = "int"


def _orders() -> TableSpec:
    o = "execution.order"
    cols: list[tuple[str, ColumnType, str]] = [
        ("request_id", _S, "request_id"),
        ("execution_id", _S, "execution.id"),
        ("exec_type", _S, "execution.type"),
        ("order_id", _S, f"{o}.id"),
        ("market_slug", _S, f"{o}.market_slug"),
        ("side", _S, f"{o}.side"),
        ("intent", _S, f"{o}.intent"),
        ("order_type", _S, f"{o}.type"),
        ("tif", _S, f"{o}.tif"),
        ("order_state", _S, f"{o}.state"),
        ("price", _D, f"{o}.price"),
        ("quantity", _D, f"{o}.quantity"),
        ("leaves_quantity", _D, f"{o}.leaves_quantity"),
        ("cum_quantity", _D, f"{o}.cum_quantity"),
        ("avg_px", _D, f"{o}.avg_px"),
        ("last_shares", _D, "execution.last_shares"),
        ("last_px", _D, "execution.last_px"),
        ("trade_id", _S, "execution.trade_id"),
        ("aggressor", "bool", "execution.aggressor"),
        ("text", _S, "execution.text"),
        ("order_reject_reason", _S, "execution.order_reject_reason"),
        ("create_time", _I, f"{o}.create_time"),
        ("good_till_time", _I, f"{o}.good_till_time"),
        ("transact_time", _I, "execution.transact_time"),
    ]
    return _flat("orders", OrderUpdate, cols, ("execution_id",), "transact_time")


def _order_snapshots() -> TableSpec:
    cols = (
        Column("ev", "str"),
        Column("request_id", "str"),
        Column("order_count", "int", source=lambda ev: len(ev.orders)),
        Column("orders", "json", source=lambda ev: _JSON.encode(ev.orders).decode()),
        Column("eof", "bool"),
        Column("error", "str"),
        Column("ts", "ts"),
    )
    return TableSpec(f"{PREFIX}_order_snapshots", "order_snapshot", OrderSnapshot, cols, ("request_id",))


def _positions() -> TableSpec:
    a = "after"
    cols: list[tuple[str, ColumnType, str]] = [
        ("request_id", _S, "request_id"),
        ("market_slug", _S, "market_slug"),
        ("entry_type", _S, "entry_type"),
        ("trade_id", _S, "trade_id"),
        ("description", _S, "description"),
        ("net_position", _D, f"{a}.net_position"),
        ("qty_bought", _D, f"{a}.qty_bought"),
        ("qty_sold", _D, f"{a}.qty_sold"),
        ("qty_available", _D, f"{a}.qty_available"),
        ("cost", _D, f"{a}.cost"),
        ("realized", _D, f"{a}.realized"),
        ("avg_px", _D, f"{a}.avg_px"),
        ("net_position_before", _D, "before.net_position"),
        ("update_time", _I, "update_time"),
    ]
    return _flat("positions", PositionUpdate, cols, ("market_slug", "update_time", "trade_id"), "update_time")


_BALANCE_FIELDS = (
    "current_balance",
    "buying_power",
    "open_orders",
    "unsettled_funds",
    "available_to_withdraw",
    "margin_requirement",
)


def _balances() -> TableSpec:
    cols: list[tuple[str, ColumnType, str]] = [
        ("request_id", _S, "request_id"),
        ("id", _S, "id"),
        ("entry_type", _S, "entry_type"),
        ("description", _S, "description"),
        ("currency", _S, "after.currency"),
        *((f, _D, f"after.{f}") for f in _BALANCE_FIELDS),
        ("current_balance_before", _D, "before.current_balance"),
        ("update_time", _I, "update_time"),
    ]
    return _flat("balances", AccountBalanceUpdate, cols, ("id", "update_time"), "update_time")


def _first_balance(part: str) -> Callable[[AccountBalanceSnapshot], Any]:
    def get(ev: AccountBalanceSnapshot) -> Any:
        first: Balance | None = ev.balances[0] if ev.balances else None
        return None if first is None else getattr(first, part)

    return get


def _balance_snapshots() -> TableSpec:
    cols = (
        Column("ev", "str"),
        Column("request_id", "str"),
        Column("currency", "str", source=_first_balance("currency")),
        *(Column(f, "decimal", source=_first_balance(f)) for f in _BALANCE_FIELDS),
        Column("balances", "json", source=lambda ev: _JSON.encode(ev.balances).decode()),
        Column("ts", "ts"),
    )
    return TableSpec(
        f"{PREFIX}_balance_snapshots",
        "account_balance_snapshot",
        AccountBalanceSnapshot,
        cols,
        ("request_id",),
    )


# ---------------------------------------------------------------------------- the registries


@cache
def polymarket_tables(socket: Socket | str) -> StructTables:
    """The table registry of one Polymarket US socket (``"markets"`` or ``"private"``), cached."""
    sock = Socket(socket.value if isinstance(socket, Socket) else str(socket).lower())
    specs: dict[type[Event], TableSpec]
    if sock is Socket.MARKETS:
        specs = {
            MarketData: _books(),
            MarketDataLite: struct_spec(f"{PREFIX}_prices", MarketDataLite, key=("market_slug",)),
            Trade: struct_spec(
                f"{PREFIX}_trades",
                Trade,
                key=("market_slug", "trade_time", "price", "quantity"),
                time_column="trade_time",
            ),
        }
    else:
        specs = {
            OrderUpdate: _orders(),
            OrderSnapshot: _order_snapshots(),
            PositionUpdate: _positions(),
            AccountBalanceUpdate: _balances(),
            AccountBalanceSnapshot: _balance_snapshots(),
        }
    return StructTables(f"{PREFIX}.{sock.value}", PREFIX, specs, symbol=slug_of)
