"""The Polymarket US frames the simulator sends, built from the market model and the market tape.

:class:`MarketFrames` encodes books (``marketData``), lite prices (``marketDataLite``) and trades
for a model step, camelCase with enum names or, with ``legacy``, the seed's snake_case with enum
numbers. It keeps the *tape* the frames report: each market's last price, volume, high and low
(updated by :meth:`MarketFrames.record_trades`) and its state (``set_market_state``).
:func:`activity_frame` wraps an account activity (order execution, position, balance change)
for a subscription of the matching type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import msgspec

from tickwire.polymarket_us.enums import SubscriptionType
from tickwire.polymarket_us.wire import (
    Amount,
    LevelPrice,
    WireBalancesUpdate,
    WireExecution,
    WireFrame,
    WireLevel,
    WireMarketData,
    WireMarketDataLite,
    WireOrderUpdate,
    WirePositionUpdate,
    WireStats,
    WireTrade,
    WireTradeSide,
    to_legacy,
)
from tickwire.sim.polymarket.account import rfc3339
from tickwire.sim.polymarket.model import PolymarketModel, SimTrade

__all__ = ["HEARTBEAT", "MarketFrames", "activity_frame"]

HEARTBEAT = b'{"heartbeat":{}}'

_ENC = msgspec.json.Encoder()
_OPEN = "MARKET_STATE_OPEN"


class MarketFrames:
    """Encodes the markets socket's frames for a model step; keeps the tape they report."""

    def __init__(self, model: PolymarketModel, step_time_ns: Callable[[int], int], *, legacy: bool) -> None:
        self.model = model
        self.step_time_ns = step_time_ns
        self.legacy = legacy
        self.stats: dict[str, dict[str, Decimal]] = {}
        """slug → ``last``, ``volume``, ``high``, ``low`` of the trades sent so far."""
        self.states: dict[str, str] = {}
        """slug → ``MARKET_STATE_...`` (default open)."""

    def encode(self, frame: WireFrame) -> bytes:
        if self.legacy:
            return _ENC.encode(to_legacy(msgspec.to_builtins(frame)))
        return _ENC.encode(frame)

    def set_market_state(self, slug: str, state: str) -> None:
        self.states[slug] = state if state.startswith("MARKET_STATE_") else "MARKET_STATE_" + state.upper()

    def record_trades(self, slug: str, trades: Iterable[SimTrade]) -> None:
        """Trades about to be sent: the tape's last price, volume, high and low follow them."""
        st = self.stats.setdefault(slug, {})
        for t in trades:
            st["last"] = t.price
            st["volume"] = st.get("volume", Decimal(0)) + t.qty
            st["high"] = max(st.get("high", t.price), t.price)
            st["low"] = min(st.get("low", t.price), t.price)

    def market_data(self, rid: str, slug: str, step: int) -> bytes:
        """The full book of ``slug`` at ``step`` (with the tape's stats)."""
        bids, offers = self.model.book(slug, step)
        stats = self.stats.get(slug, {})
        volume = stats.get("volume", Decimal(0))
        frame = WireFrame(
            request_id=rid,
            subscription_type=SubscriptionType.MARKET_DATA.value,
            market_data=WireMarketData(
                market_slug=slug,
                bids=[WireLevel(px=LevelPrice(value=p, currency="USD"), qty=q) for p, q in bids],
                offers=[WireLevel(px=LevelPrice(value=p, currency="USD"), qty=q) for p, q in offers],
                state=self.states.get(slug, _OPEN),
                stats=WireStats(
                    last_trade_px=_usd(stats["last"]) if "last" in stats else None,
                    shares_traded=volume,
                    open_interest=volume / 2,
                    high_px=_usd(stats["high"]) if "high" in stats else None,
                    low_px=_usd(stats["low"]) if "low" in stats else None,
                    current_px=_usd(self.model.mid(slug, step)),
                ),
                transact_time=rfc3339(self.step_time_ns(step)),
            ),
        )
        return self.encode(frame)

    def lite(self, rid: str, slug: str, step: int) -> bytes:
        """The lite prices of ``slug`` at ``step``."""
        bids, offers = self.model.book(slug, step)
        stats = self.stats.get(slug, {})
        volume = stats.get("volume", Decimal(0))
        frame = WireFrame(
            request_id=rid,
            subscription_type=SubscriptionType.MARKET_DATA_LITE.value,
            market_data_lite=WireMarketDataLite(
                market_slug=slug,
                current_px=_usd(self.model.mid(slug, step)),
                last_trade_px=_usd(stats["last"]) if "last" in stats else None,
                best_bid=_usd(bids[0][0]) if bids else None,
                best_ask=_usd(offers[0][0]) if offers else None,
                bid_depth=len(bids),
                ask_depth=len(offers),
                shares_traded=volume,
                open_interest=volume / 2,
                state=self.states.get(slug, _OPEN),
                bid_shares=two_significant(sum((q for _, q in bids), Decimal(0))),
                ask_shares=two_significant(sum((q for _, q in offers), Decimal(0))),
            ),
        )
        return self.encode(frame)

    def trade(self, rid: str, trade: SimTrade) -> bytes:
        """One print, maker and taker sides from the aggressor's direction."""
        buy = WireTradeSide(side="ORDER_SIDE_BUY", intent="ORDER_INTENT_BUY_LONG")
        sell = WireTradeSide(side="ORDER_SIDE_SELL", intent="ORDER_INTENT_SELL_LONG")
        frame = WireFrame(
            request_id=rid,
            subscription_type=SubscriptionType.TRADE.value,
            trade=WireTrade(
                market_slug=trade.slug,
                price=_usd(trade.price),
                quantity=_usd(trade.qty),
                trade_time=rfc3339(self.step_time_ns(trade.step) + trade.seq * 1000),
                maker=sell if trade.taker_buys else buy,
                taker=buy if trade.taker_buys else sell,
            ),
        )
        return self.encode(frame)


def activity_frame(rid: str, stype: SubscriptionType, kind: str, payload: Any) -> WireFrame | None:
    """An account activity as a frame of subscription ``rid``, or ``None`` if its type does not carry it."""
    if kind == "order" and stype is SubscriptionType.ORDER and isinstance(payload, WireExecution):
        return WireFrame(
            request_id=rid,
            subscription_type=stype.value,
            order_subscription_update=WireOrderUpdate(execution=payload),
        )
    if kind == "position" and stype is SubscriptionType.POSITION and isinstance(payload, WirePositionUpdate):
        return WireFrame(request_id=rid, subscription_type=stype.value, position_subscription=payload)
    if kind == "balance" and stype is SubscriptionType.ACCOUNT_BALANCE:
        return WireFrame(
            request_id=rid,
            subscription_type=stype.value,
            account_balances_update=WireBalancesUpdate(balance_change=payload),
        )
    return None


def two_significant(x: Decimal) -> Decimal:
    """Rounded down to two significant figures (how ``bidShares``/``askShares`` are sent)."""
    if x <= 0:
        return Decimal(0)
    q = Decimal(1).scaleb(x.adjusted() - 1)
    return (x / q).to_integral_value(rounding="ROUND_FLOOR") * q


def _usd(x: Decimal) -> Amount:
    return Amount(value=x, currency="USD")
