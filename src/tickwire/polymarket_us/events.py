"""Polymarket US events: readable, typed, with ``Decimal`` amounts and nanosecond timestamps.

Every amount (prices, quantities, balances) is a ``Decimal`` (``None`` when the server left it
out), every time an ``int`` of Unix nanoseconds, every enum its full wire name
(``"ORDER_SIDE_BUY"``, ``"MARKET_STATE_OPEN"``) whichever form the server sent. Each event
carries the ``request_id`` of the subscription it answers. The ``ev`` tags match the event
names of the official SDK (``market_data``, ``order_update``...), so ``client.on("trade", fn)``
reads as it does there.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from tickwire.events import ControlEvent, Event

__all__ = [
    "AccountBalanceSnapshot",
    "AccountBalanceUpdate",
    "Balance",
    "BookCrossed",
    "Execution",
    "MarketData",
    "MarketDataLite",
    "MarketStats",
    "Order",
    "OrderSnapshot",
    "OrderUpdate",
    "Position",
    "PositionUpdate",
    "PriceLevel",
    "ReplayGap",
    "Trade",
]


class _Part(msgspec.Struct, kw_only=True, gc=False):
    """Base of the structures nested inside events."""


class PriceLevel(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One book level: ``price`` (0..1 USD per share) and resting ``qty`` (shares)."""

    price: Decimal
    qty: Decimal


class MarketStats(_Part):
    last_trade_px: Decimal | None = None
    shares_traded: Decimal | None = None
    open_interest: Decimal | None = None
    high_px: Decimal | None = None
    low_px: Decimal | None = None
    open_px: Decimal | None = None
    close_px: Decimal | None = None
    settlement_px: Decimal | None = None
    current_px: Decimal | None = None
    notional_traded: Decimal | None = None
    last_trade_qty: Decimal | None = None


class MarketData(Event, tag="market_data", kw_only=True):
    """MARKET_DATA: the whole top of book of one market (replaces the previous one), and its stats.

    ``crossed`` is True when the best bid is at or above the best ask; such a book is reported by
    a :class:`BookCrossed` event and not applied to :class:`~.book.Book`.
    """

    request_id: str
    market_slug: str
    bids: list[PriceLevel]
    offers: list[PriceLevel]
    state: str = ""
    stats: MarketStats | None = None
    transact_time: int | None = None
    crossed: bool = False

    @property
    def timestamp(self) -> int | None:
        return self.transact_time


class MarketDataLite(Event, tag="market_data_lite", kw_only=True):
    """MARKET_DATA_LITE: best prices, depth counts and volumes of one market."""

    request_id: str
    market_slug: str
    current_px: Decimal | None = None
    last_trade_px: Decimal | None = None
    best_bid: Decimal | None = None
    best_ask: Decimal | None = None
    bid_depth: int | None = None
    ask_depth: int | None = None
    shares_traded: Decimal | None = None
    open_interest: Decimal | None = None
    settlement_px: Decimal | None = None
    long_quote: Decimal | None = None
    short_quote: Decimal | None = None
    state: str = ""
    bid_shares: Decimal | None = None
    ask_shares: Decimal | None = None


class Trade(Event, tag="trade", kw_only=True):
    """TRADE: one trade in a market; intents ``..._LONG`` are YES, ``..._SHORT`` NO."""

    request_id: str
    market_slug: str
    price: Decimal | None
    quantity: Decimal | None
    trade_time: int | None = None
    maker_side: str = ""
    maker_intent: str = ""
    taker_side: str = ""
    taker_intent: str = ""

    @property
    def timestamp(self) -> int | None:
        return self.trade_time


class Order(_Part):
    id: str
    market_slug: str = ""
    side: str = ""
    type: str = ""
    price: Decimal | None = None
    quantity: Decimal | None = None
    leaves_quantity: Decimal | None = None
    cum_quantity: Decimal | None = None
    state: str = ""
    intent: str = ""
    tif: str = ""
    avg_px: Decimal | None = None
    good_till_time: int | None = None
    create_time: int | None = None
    insert_time: int | None = None


class Execution(_Part):
    id: str
    order: Order | None = None
    last_shares: Decimal | None = None
    last_px: Decimal | None = None
    type: str = ""
    trade_id: str = ""
    transact_time: int | None = None
    aggressor: bool | None = None
    text: str = ""
    order_reject_reason: str = ""


class OrderSnapshot(Event, tag="order_snapshot", kw_only=True):
    """One page of an ORDER_SNAPSHOT (open orders); the last page has ``eof`` True.

    ``error`` is set when the server ended the snapshot early (then the orders are incomplete).
    """

    request_id: str
    orders: list[Order]
    eof: bool
    error: str = ""


class OrderUpdate(Event, tag="order_update", kw_only=True):
    """ORDER: one execution report (new, partial fill, fill, cancel...) with the order's new state."""

    request_id: str
    execution: Execution

    @property
    def timestamp(self) -> int | None:
        return self.execution.transact_time


class Position(_Part):
    net_position: Decimal | None = None
    qty_bought: Decimal | None = None
    qty_sold: Decimal | None = None
    qty_available: Decimal | None = None
    cost: Decimal | None = None
    realized: Decimal | None = None
    avg_px: Decimal | None = None
    market_slug: str = ""


class PositionUpdate(Event, tag="position_update", kw_only=True):
    """POSITION: a position change, with the position before and after it."""

    request_id: str
    market_slug: str
    before: Position | None
    after: Position | None
    update_time: int | None = None
    entry_type: str = ""
    trade_id: str = ""
    description: str = ""


class Balance(_Part):
    currency: str = "USD"
    current_balance: Decimal | None = None
    buying_power: Decimal | None = None
    open_orders: Decimal | None = None
    unsettled_funds: Decimal | None = None
    available_to_withdraw: Decimal | None = None
    margin_requirement: Decimal | None = None


class AccountBalanceSnapshot(Event, tag="account_balance_snapshot", kw_only=True):
    """ACCOUNT_BALANCE: the balances, sent on every (re)subscribe."""

    request_id: str
    balances: list[Balance]


class AccountBalanceUpdate(Event, tag="account_balance_update", kw_only=True):
    """ACCOUNT_BALANCE: one balance change (before and after) with its ledger entry type."""

    request_id: str
    before: Balance | None
    after: Balance | None
    description: str = ""
    update_time: int | None = None
    entry_type: str = ""
    id: str = ""


class BookCrossed(ControlEvent, tag="book_crossed", kw_only=True):
    """A MARKET_DATA frame whose best bid is at or above its best ask: reported, not applied."""

    market_slug: str
    best_bid: Decimal
    best_ask: Decimal
    transact_time: int | None = None


class ReplayGap(ControlEvent, tag="replay_gap", kw_only=True):
    """After a reconnect: ``streams`` (trades, orders, positions) between ``gap_start`` and ``gap_end``
    (Unix seconds) are *not* replayed by the server. Open orders are re-fetched with the ORDER_SNAPSHOT
    whose id is ``snapshot_request_id`` (None when no order stream is subscribed)."""

    gap_start: float
    gap_end: float
    streams: list[str]
    snapshot_request_id: str | None = None
