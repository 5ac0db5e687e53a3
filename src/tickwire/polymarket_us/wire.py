"""Polymarket US wire format: msgspec Structs of both sockets' frames, shared by client and simulator.

Field names are snake_case in Python and camelCase on the wire (``rename="camel"``), the
format of the current SDKs and docs. Frames in the legacy snake_case / integer-enum shape
(the seed document's) are read by :func:`camelize` first, and written by :func:`to_legacy`.
Numbers the gateway sends as strings (``"0.50"``) or JSON numbers (``1000.0``) both decode
to ``Decimal``; enum fields accept a name or a number. Times stay RFC 3339 strings here;
the decoder turns them into nanoseconds.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec

from tickwire.polymarket_us.enums import SubscriptionType, enum_number

__all__ = [
    "Amount",
    "LevelPrice",
    "WireBalance",
    "WireBalanceChange",
    "WireBalancesSnapshot",
    "WireBalancesUpdate",
    "WireExecution",
    "WireFrame",
    "WireLevel",
    "WireMarketData",
    "WireMarketDataLite",
    "WireMarketMetadata",
    "WireOrder",
    "WireOrderSnapshot",
    "WireOrderUpdate",
    "WirePosition",
    "WirePositionUpdate",
    "WireRequest",
    "WireStats",
    "WireSubscribe",
    "WireTrade",
    "WireTradeSide",
    "WireUnsubscribe",
    "camelize",
    "to_legacy",
]

EnumValue = str | int
Num = Decimal | float
"""A quantity: a decimal string on the wire (``"0.50"``) or a JSON number (``1000.0``)."""


class _W(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """Base of the wire Structs: camelCase on the wire, absent fields left out when encoding."""


class Amount(_W):
    value: Num
    currency: str | None = None


class LevelPrice(_W):
    """A book level's price: always an exact ``Decimal``, from a string or a JSON number alike."""

    value: Decimal
    currency: str | None = None


class WireLevel(_W):
    """Book levels are the bulk of the markets socket: decoded straight to ``Decimal`` by msgspec."""

    px: LevelPrice
    qty: Decimal


class WireStats(_W):
    last_trade_px: Amount | None = None
    shares_traded: Num | None = None
    open_interest: Num | None = None
    high_px: Amount | None = None
    low_px: Amount | None = None
    open_px: Amount | None = None
    close_px: Amount | None = None
    settlement_px: Amount | None = None
    current_px: Amount | None = None
    notional_traded: Amount | None = None
    last_trade_qty: Num | None = None


class WireMarketData(_W):
    market_slug: str = ""
    bids: list[WireLevel] = []
    offers: list[WireLevel] = []
    state: EnumValue | None = None
    stats: WireStats | None = None
    transact_time: str | None = None


class WireMarketDataLite(_W):
    market_slug: str = ""
    current_px: Amount | None = None
    last_trade_px: Amount | None = None
    best_bid: Amount | None = None
    best_ask: Amount | None = None
    bid_depth: int | None = None
    ask_depth: int | None = None
    shares_traded: Num | None = None
    open_interest: Num | None = None
    settlement_px: Amount | None = None
    long_quote: Amount | None = None
    short_quote: Amount | None = None
    state: EnumValue | None = None
    bid_shares: Num | None = None
    ask_shares: Num | None = None


class WireTradeSide(_W):
    side: EnumValue | None = None
    intent: EnumValue | None = None


class WireTrade(_W):
    market_slug: str = ""
    price: Amount | None = None
    quantity: Amount | None = None
    trade_time: str | None = None
    maker: WireTradeSide | None = None
    taker: WireTradeSide | None = None


class WireMarketMetadata(_W):
    slug: str = ""
    title: str = ""
    outcome: str = ""


class WireOrder(_W):
    id: str = ""
    market_slug: str = ""
    side: EnumValue | None = None
    type: EnumValue | None = None
    price: Amount | None = None
    quantity: Num | None = None
    leaves_quantity: Num | None = None
    cum_quantity: Num | None = None
    state: EnumValue | None = None
    intent: EnumValue | None = None
    tif: EnumValue | None = None
    good_till_time: str | None = None
    avg_px: Amount | None = None
    insert_time: str | None = None
    create_time: str | None = None
    market_metadata: WireMarketMetadata | None = None


class WireOrderSnapshot(_W):
    orders: list[WireOrder] = []
    eof: bool = False


class WireExecution(_W):
    id: str = ""
    order: WireOrder | None = None
    last_shares: Num | None = None
    last_px: Amount | None = None
    type: EnumValue | None = None
    text: str = ""
    order_reject_reason: str = ""
    transact_time: str | None = None
    trade_id: str = ""
    aggressor: bool | None = None


class WireOrderUpdate(_W):
    execution: WireExecution | None = None


class WirePosition(_W):
    net_position: Num | None = None
    net_position_decimal: Num | None = None
    qty_bought: Num | None = None
    qty_bought_decimal: Num | None = None
    qty_sold: Num | None = None
    qty_sold_decimal: Num | None = None
    qty_available: Num | None = None
    qty_available_decimal: Num | None = None
    cost: Amount | None = None
    realized: Amount | None = None
    avg_px: Amount | None = None
    update_time: str | None = None
    market_metadata: WireMarketMetadata | None = None


class WirePositionUpdate(_W):
    before_position: WirePosition | None = None
    after_position: WirePosition | None = None
    update_time: str | None = None
    entry_type: EnumValue | None = None
    trade_id: str = ""
    description: str = ""


class WireBalance(_W):
    currency: str | None = None
    current_balance: Num | None = None
    buying_power: Num | None = None
    open_orders: Num | None = None
    unsettled_funds: Num | None = None
    available_to_withdraw: Num | None = None
    margin_requirement: Num | None = None
    last_updated: str | None = None


class WireBalancesSnapshot(_W):
    balances: list[WireBalance] = []


class WireBalanceChange(_W):
    before_balance: WireBalance | None = None
    after_balance: WireBalance | None = None
    description: str = ""
    update_time: str | None = None
    entry_type: EnumValue | None = None
    modified_security_id: str = ""
    account_name: str = ""
    id: str = ""


class WireBalancesUpdate(_W):
    balance_change: WireBalanceChange | None = None


class WireFrame(_W):
    """One server frame: an envelope with at most one payload (legacy payload keys included)."""

    request_id: str | None = None
    subscription_type: EnumValue | None = None
    error: str | None = None
    heartbeat: dict[str, Any] | None = None
    market_data: WireMarketData | None = None
    market_data_lite: WireMarketDataLite | None = None
    trade: WireTrade | None = None
    order_subscription_snapshot: WireOrderSnapshot | None = None
    orders_snapshot: WireOrderSnapshot | None = None
    order_subscription_update: WireOrderUpdate | None = None
    order_update: WireOrderUpdate | None = None
    position_subscription: WirePositionUpdate | None = None
    position_subscription_update: WirePositionUpdate | None = None
    position_update: WirePositionUpdate | None = None
    account_balances_snapshot: WireBalancesSnapshot | None = None
    account_balance_subscription_snapshot: WireBalancesSnapshot | None = None
    account_balances_update: WireBalancesUpdate | None = None
    account_balance_subscription_update: WireBalancesUpdate | None = None
    account_balance_update: WireBalancesUpdate | None = None
    rfq_event: dict[str, Any] | None = None
    position_subscription_snapshot: dict[str, Any] | None = None


class WireSubscribe(_W):
    request_id: str
    subscription_type: EnumValue
    market_slugs: list[str] = []
    responses_debounced: bool | None = None


class WireUnsubscribe(_W):
    request_id: str


class WireRequest(_W):
    """A client request: ``{"subscribe": {...}}`` or ``{"unsubscribe": {...}}``."""

    subscribe: WireSubscribe | None = None
    unsubscribe: WireUnsubscribe | None = None


# -- the legacy snake_case / integer-enum shape -------------------------------------------

_SNAKE = re.compile(r"_([a-z0-9])")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _camel_key(key: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), key) if "_" in key else key


def camelize(obj: Any) -> Any:
    """Keys of decoded JSON turned from snake_case to camelCase (values untouched)."""
    if isinstance(obj, dict):
        return {_camel_key(k): camelize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [camelize(v) for v in obj]
    return obj


def _snake_key(key: str) -> str:
    return _CAMEL.sub(lambda m: "_" + m.group(1).lower(), key)


def to_legacy(obj: Any) -> Any:
    """A camelCase builtins tree in the legacy shape: snake_case keys, enum names as numbers."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if k == "subscriptionType" and isinstance(v, str):
                try:
                    out["subscription_type"] = SubscriptionType(v).number
                except ValueError:
                    out["subscription_type"] = v
            elif isinstance(v, str) and k in _ENUM_KEYS:
                out[_snake_key(k)] = enum_number(v)
            else:
                out[_snake_key(k)] = to_legacy(v)
        return out
    if isinstance(obj, list):
        return [to_legacy(v) for v in obj]
    return obj


_ENUM_KEYS = frozenset({"state", "side", "intent", "type", "tif", "entryType"})
