"""A simulated Polymarket US account: orders, executions, positions and balances kept consistent.

Invariants (checked by the tests against what a client receives):

* ``cash`` only changes by fills: a buy of ``q`` shares at ``px`` costs ``q * px``;
* a position's ``net`` and ``cost`` are the sums of its fills; an order's ``cum`` is the sum of
  its fills and ``leaves = quantity - cum``; a fully filled order is ``FILLED`` and leaves the
  open set, and a new order is placed so the account keeps trading;
* ``open_orders = sum(leaves * price)`` over open orders; ``buying_power = cash - open_orders``.

Every change is returned as *activities* (``("order"|"position"|"balance", slug, payload)``)
that the server turns into ORDER / POSITION / ACCOUNT_BALANCE frames, each balance change
with its before and after.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import random
from dataclasses import dataclass, field
from decimal import Decimal

from tickwire.polymarket_us.wire import (
    Amount,
    WireBalance,
    WireBalanceChange,
    WireExecution,
    WireMarketMetadata,
    WireOrder,
    WirePosition,
    WirePositionUpdate,
)
from tickwire.sim.polymarket.model import TICK, PolymarketModel

__all__ = ["Account", "Activity", "SimOrder", "SimPosition", "rfc3339"]

Payload = WireExecution | WirePositionUpdate | WireBalanceChange
Activity = tuple[str, str, Payload]
"""(kind: "order" | "position" | "balance", market slug ("" for balances), wire payload)"""

_OPEN = ("ORDER_STATE_NEW", "ORDER_STATE_PARTIALLY_FILLED")


def rfc3339(ns: int) -> str:
    """Unix ns as ``2024-01-15T10:30:00.123456789Z``."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = _dt.datetime.fromtimestamp(secs, tz=_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z"


def _usd(x: Decimal) -> Amount:
    return Amount(value=x, currency="USD")


@dataclass(slots=True)
class SimOrder:
    id: str
    slug: str
    price: Decimal
    quantity: Decimal
    create_ns: int
    cum: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    state: str = "ORDER_STATE_NEW"

    @property
    def leaves(self) -> Decimal:
        return self.quantity - self.cum

    @property
    def is_open(self) -> bool:
        return self.state in _OPEN

    def wire(self) -> WireOrder:
        return WireOrder(
            id=self.id,
            market_slug=self.slug,
            side="ORDER_SIDE_BUY",
            type="ORDER_TYPE_LIMIT",
            price=_usd(self.price),
            quantity=float(self.quantity),
            leaves_quantity=float(self.leaves),
            cum_quantity=float(self.cum),
            state=self.state,
            intent="ORDER_INTENT_BUY_LONG",
            tif="TIME_IN_FORCE_GOOD_TILL_CANCEL",
            avg_px=_usd((self.notional / self.cum).quantize(Decimal("0.000001"))) if self.cum else None,
            create_time=rfc3339(self.create_ns),
            insert_time=rfc3339(self.create_ns),
        )


@dataclass(slots=True)
class SimPosition:
    slug: str
    net: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)

    def wire(self) -> WirePosition:
        return WirePosition(
            net_position=self.net.to_integral_value(),
            net_position_decimal=self.net,
            qty_bought=self.net.to_integral_value(),
            qty_bought_decimal=self.net,
            qty_sold=Decimal(0),
            qty_available=self.net,
            cost=_usd(self.cost),
            realized=_usd(Decimal(0)),
            market_metadata=WireMarketMetadata(slug=self.slug),
        )


@dataclass(slots=True)
class Account:
    """One key's account; ``seed``-deterministic except for the times."""

    key_id: str
    model: PolymarketModel
    seed: int = 0
    cash: Decimal = Decimal("1000.00")
    orders: dict[str, SimOrder] = field(default_factory=dict)
    positions: dict[str, SimPosition] = field(default_factory=dict)
    _rng: random.Random = field(init=False)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _execs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self._rng = random.Random(f"{self.seed}:{self.key_id}:account")

    def seed_orders(self, n: int, now_ns: int) -> None:
        """Place ``n`` opening orders (no activities: they predate every connection)."""
        for _ in range(n):
            self._new_order(now_ns)

    # -- state ------------------------------------------------------------------------

    @property
    def open_orders(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.is_open]

    @property
    def open_orders_value(self) -> Decimal:
        return sum((o.leaves * o.price for o in self.open_orders), Decimal(0))

    def balance(self) -> WireBalance:
        reserved = self.open_orders_value
        return WireBalance(
            currency="USD",
            current_balance=float(self.cash),
            buying_power=float(self.cash - reserved),
            open_orders=float(reserved),
            unsettled_funds=0.0,
            available_to_withdraw=float(self.cash - reserved),
            margin_requirement=0.0,
        )

    # -- activity ---------------------------------------------------------------------

    def step(self, now_ns: int) -> list[Activity]:
        """One piece of activity: a (partial) fill of an open order, and a new order after a full fill."""
        open_orders = self.open_orders
        if not open_orders:
            return self.place(now_ns)
        order = self._rng.choice(open_orders)
        qty = min(order.leaves, Decimal(self._rng.randint(1, 4)) * Decimal("2.5"))
        out = self.fill(order.id, qty, now_ns)
        if not order.is_open:
            out += self.place(now_ns)
        return out

    def place(self, now_ns: int) -> list[Activity]:
        before = self.balance()
        order = self._new_order(now_ns)
        execution = WireExecution(
            id=f"exec-{next(self._execs)}",
            order=order.wire(),
            type="EXECUTION_TYPE_NEW",
            transact_time=rfc3339(now_ns),
            aggressor=False,
        )
        return [
            ("order", order.slug, execution),
            ("balance", "", self._balance_change(before, "Order placed", "", now_ns)),
        ]

    def fill(self, order_id: str, qty: Decimal, now_ns: int) -> list[Activity]:
        """Fill ``qty`` of an open order at its limit price; returns the activities."""
        order = self.orders[order_id]
        if not order.is_open or qty <= 0 or qty > order.leaves:
            raise ValueError(f"cannot fill {qty} of order {order_id} ({order.state}, leaves {order.leaves})")
        before_balance = self.balance()
        pos = self.positions.setdefault(order.slug, SimPosition(order.slug))
        before_pos = pos.wire()
        notional = qty * order.price
        order.cum += qty
        order.notional += notional
        order.state = "ORDER_STATE_FILLED" if order.leaves == 0 else "ORDER_STATE_PARTIALLY_FILLED"
        self.cash -= notional
        pos.net += qty
        pos.cost += notional
        n = next(self._execs)
        trade_id = f"trade-{self.key_id[:8]}-{n}"
        ts = rfc3339(now_ns)
        execution = WireExecution(
            id=f"exec-{n}",
            order=order.wire(),
            last_shares=qty,
            last_px=_usd(order.price),
            type="EXECUTION_TYPE_FILL" if order.leaves == 0 else "EXECUTION_TYPE_PARTIAL_FILL",
            transact_time=ts,
            trade_id=trade_id,
            aggressor=False,
        )
        position = WirePositionUpdate(
            before_position=before_pos,
            after_position=pos.wire(),
            update_time=ts,
            entry_type="LEDGER_ENTRY_TYPE_ORDER_EXECUTION",
            trade_id=trade_id,
            description="Order execution",
        )
        change = self._balance_change(
            before_balance, "Order execution", "LEDGER_ENTRY_TYPE_ORDER_EXECUTION", now_ns
        )
        change.id = trade_id
        return [("order", order.slug, execution), ("position", order.slug, position), ("balance", "", change)]

    def _balance_change(
        self, before: WireBalance, description: str, entry: str, now_ns: int
    ) -> WireBalanceChange:
        return WireBalanceChange(
            before_balance=before,
            after_balance=self.balance(),
            description=description,
            update_time=rfc3339(now_ns),
            entry_type=entry or None,
            account_name="sim",
            id=f"ledger-{next(self._execs)}",
        )

    def _new_order(self, now_ns: int) -> SimOrder:
        slug = self._rng.choice(self.model.markets)
        bids, _ = self.model.book(slug, 0)
        price = max(TICK, (bids[0][0] if bids else Decimal("0.5")) - TICK * self._rng.randint(1, 20))
        qty = Decimal(self._rng.randint(2, 20)) * Decimal("2.5")
        order = SimOrder(f"order-{self.key_id[:8]}-{next(self._ids)}", slug, price, qty, now_ns)
        self.orders[order.id] = order
        return order
