"""Polymarket US events as provider-neutral :class:`~tickwire.provider.Tick` values (dashboard, alerts).

* ``Trade`` -> a ``trade`` tick (price, quantity);
* ``MarketData`` -> a ``book`` tick: the levels best first (bids high to low, offers low to high;
  the event keeps the wire's order), the best bid/ask, and as ``price`` the market's current price
  (``stats.current_px``) when the frame states one. A crossed frame gives none: it is reported by
  ``BookCrossed`` and the book keeps its last good state, as :class:`~tickwire.polymarket_us.book.Book`;
* ``MarketDataLite`` -> a ``quote`` tick: best bid/ask and the current price as ``price``.

A ``price`` on a quote or book tick is the venue's own current price of the market, not a trade:
charts and price rules may follow it, volume rules do not. Amounts are exact ``Decimal`` in the
events and floats here (display and rules only). MARKET_DATA_LITE carries no time, so its tick
is stamped with the receive time, as is any frame the server sent without one. Private-socket and
control events give no ticks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from tickwire.events import Event
from tickwire.polymarket_us.events import MarketData, MarketDataLite, PriceLevel, Trade
from tickwire.provider import Tick

__all__ = ["ticks"]

_NONE: tuple[Tick, ...] = ()
Convert = Callable[[Any], Sequence[Tick]]
_now: Callable[[], int] = time.time_ns


def _f(x: Decimal | None) -> float | None:
    """A finite amount as a float; None for a missing (or NaN/infinite) one."""
    return None if x is None or not x.is_finite() else float(x)


def _side(levels: list[PriceLevel], *, best_high: bool) -> tuple[tuple[float, float], ...]:
    pairs = [(float(lv.price), float(lv.qty)) for lv in levels]
    pairs.sort(reverse=best_high)
    return tuple(pairs)


def _trade(ev: Trade) -> Sequence[Tick]:
    price = _f(ev.price)
    if price is None:
        return _NONE
    ts = ev.trade_time if ev.trade_time is not None else _now()
    size = _f(ev.quantity) or 0.0
    return (Tick(kind="trade", symbol=ev.market_slug, ts_ns=ts, price=price, size=size),)


def _book(ev: MarketData) -> Sequence[Tick]:
    if ev.crossed:
        return _NONE
    bids = _side(ev.bids, best_high=True)
    asks = _side(ev.offers, best_high=False)
    stats = ev.stats
    return (
        Tick(
            kind="book",
            symbol=ev.market_slug,
            ts_ns=ev.transact_time if ev.transact_time is not None else _now(),
            price=None if stats is None else _f(stats.current_px),
            bid=bids[0][0] if bids else None,
            ask=asks[0][0] if asks else None,
            bids=bids,
            asks=asks,
        ),
    )


def _lite(ev: MarketDataLite) -> Sequence[Tick]:
    if ev.best_bid is None and ev.best_ask is None and ev.current_px is None:
        return _NONE
    return (
        Tick(
            kind="quote",
            symbol=ev.market_slug,
            ts_ns=_now(),
            price=_f(ev.current_px),
            bid=_f(ev.best_bid),
            ask=_f(ev.best_ask),
        ),
    )


def _nothing(ev: Any) -> Sequence[Tick]:
    return _NONE


_BY_TYPE: dict[type, Convert] = {Trade: _trade, MarketData: _book, MarketDataLite: _lite}
_KNOWN = tuple(_BY_TYPE)


def _resolve(cls: type) -> Convert:
    """The converter of a class not in the table: its nearest known base's, or none; remembered."""
    convert = next((_BY_TYPE[base] for base in cls.__mro__ if base in _KNOWN), _nothing)
    _BY_TYPE[cls] = convert
    return convert


def ticks(ev: Event) -> Sequence[Tick]:
    """The ticks of one Polymarket US event: one trade, book or quote tick, or none."""
    convert = _BY_TYPE.get(type(ev))
    if convert is None:
        convert = _resolve(type(ev))
    return convert(ev)
