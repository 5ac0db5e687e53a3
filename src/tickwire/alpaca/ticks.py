"""Alpaca events as provider-neutral :class:`~tickwire.provider.Tick` values (dashboard, alerts).

Trades become ``trade`` ticks, quotes ``quote`` ticks, crypto order-book snapshots (``reset``)
``book`` ticks with their levels best first; an order-book update gives none (one event without
the book before it cannot say what the book is: the client's ``books`` can), nor a crossed one;
every other event (bars, statuses, news, control events) none. The converter is picked by the
event's exact class (a subclass resolved once through its MRO).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tickwire.alpaca.models import BookLevel, OrderBook, Quote, Trade
from tickwire.events import Event
from tickwire.provider import Tick

__all__ = ["ticks"]

_NONE: tuple[Tick, ...] = ()
Convert = Callable[[Any], Sequence[Tick]]


def _trade(ev: Trade) -> Sequence[Tick]:
    if not ev.symbol or not ev.timestamp:
        return _NONE
    return (Tick(kind="trade", symbol=ev.symbol, ts_ns=ev.timestamp, price=ev.price, size=ev.size),)


def _quote(ev: Quote) -> Sequence[Tick]:
    if not ev.symbol or not ev.timestamp:
        return _NONE
    return (
        Tick(
            kind="quote",
            symbol=ev.symbol,
            ts_ns=ev.timestamp,
            bid=ev.bid_price or None,
            ask=ev.ask_price or None,
        ),
    )


def _side(levels: list[BookLevel], *, best_high: bool) -> tuple[tuple[float, float], ...]:
    pairs = [(lv.price, lv.size) for lv in levels if lv.size > 0]
    pairs.sort(reverse=best_high)
    return tuple(pairs)


def _book(ev: OrderBook) -> Sequence[Tick]:
    if ev.crossed or not ev.symbol or not ev.timestamp or not ev.reset:
        return _NONE
    bids = _side(ev.bids, best_high=True)
    asks = _side(ev.asks, best_high=False)
    return (
        Tick(
            kind="book",
            symbol=ev.symbol,
            ts_ns=ev.timestamp,
            bid=bids[0][0] if bids else None,
            ask=asks[0][0] if asks else None,
            bids=bids,
            asks=asks,
        ),
    )


def _nothing(ev: Any) -> Sequence[Tick]:
    return _NONE


_BY_TYPE: dict[type, Convert] = {Trade: _trade, Quote: _quote, OrderBook: _book}
_KNOWN = tuple(_BY_TYPE)


def _resolve(cls: type) -> Convert:
    convert = next((_BY_TYPE[base] for base in cls.__mro__ if base in _KNOWN), _nothing)
    _BY_TYPE[cls] = convert
    return convert


def ticks(ev: Event) -> Sequence[Tick]:
    """The ticks of one Alpaca event: one trade, quote or book tick, or none."""
    convert = _BY_TYPE.get(type(ev))
    if convert is None:
        convert = _resolve(type(ev))
    return convert(ev)
