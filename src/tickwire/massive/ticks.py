"""Massive events as provider-neutral :class:`~tickwire.provider.Tick` values (dashboard, alerts).

Trades (``T``, ``XT``, futures ``T``) become ``trade`` ticks, quotes (``Q``, ``C``, ``XQ``,
futures ``Q``) ``quote`` ticks, crypto ``XL2`` books ``book`` ticks; every other event (bars,
values, status and control events) none. An event without a ticker, a time or a price gives no
tick: it cannot be placed on a chart. Called once per event, so the converter is picked by the
event's exact class from a dict (a subclass is resolved once through its MRO and remembered).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tickwire.events import Event, timestamp_to_ns
from tickwire.massive.models import (
    CryptoQuote,
    CryptoTrade,
    EquityQuote,
    EquityTrade,
    ForexQuote,
    FuturesQuote,
    FuturesTrade,
    Level2Book,
)
from tickwire.provider import Tick

__all__ = ["ticks"]

_NONE: tuple[Tick, ...] = ()
Convert = Callable[[Any], Sequence[Tick]]


def _trade(symbol: str | None, ts: int | None, price: float | None, size: float | None) -> Sequence[Tick]:
    if symbol is None or ts is None or price is None:
        return _NONE
    return (Tick(kind="trade", symbol=symbol, ts_ns=ts, price=float(price), size=float(size or 0)),)


def _quote(symbol: str | None, ts: int | None, bid: float | None, ask: float | None) -> Sequence[Tick]:
    if symbol is None or ts is None or (bid is None and ask is None):
        return _NONE
    return (
        Tick(
            kind="quote",
            symbol=symbol,
            ts_ns=ts,
            bid=None if bid is None else float(bid),
            ask=None if ask is None else float(ask),
        ),
    )


def _equity_trade(ev: EquityTrade) -> Sequence[Tick]:
    return _trade(ev.symbol, timestamp_to_ns(ev.timestamp), ev.price, ev.size)


def _crypto_trade(ev: CryptoTrade) -> Sequence[Tick]:
    return _trade(ev.pair, timestamp_to_ns(ev.timestamp), ev.price, ev.size)


def _futures_trade(ev: FuturesTrade) -> Sequence[Tick]:
    return _trade(ev.symbol, timestamp_to_ns(ev.timestamp), ev.price, ev.size)


def _equity_quote(ev: EquityQuote) -> Sequence[Tick]:
    return _quote(ev.symbol, timestamp_to_ns(ev.timestamp), ev.bid_price, ev.ask_price)


def _forex_quote(ev: ForexQuote) -> Sequence[Tick]:
    return _quote(ev.pair, timestamp_to_ns(ev.timestamp), ev.bid_price, ev.ask_price)


def _crypto_quote(ev: CryptoQuote) -> Sequence[Tick]:
    return _quote(ev.pair, timestamp_to_ns(ev.timestamp), ev.bid_price, ev.ask_price)


def _futures_quote(ev: FuturesQuote) -> Sequence[Tick]:
    return _quote(ev.symbol, timestamp_to_ns(ev.sip_timestamp), ev.bid_price, ev.ask_price)


def _levels(raw: list[list[float]] | None, *, best_high: bool) -> tuple[tuple[float, float], ...]:
    """``[[price, size, ...], ...]`` as ``(price, size)`` pairs, best first; short entries skipped."""
    if not raw:
        return ()
    pairs = [(float(lv[0]), float(lv[1])) for lv in raw if len(lv) >= 2]
    pairs.sort(reverse=best_high)
    return tuple(pairs)


def _book(ev: Level2Book) -> Sequence[Tick]:
    ts = timestamp_to_ns(ev.timestamp)
    if ev.pair is None or ts is None:
        return _NONE
    bids = _levels(ev.bid_prices, best_high=True)
    asks = _levels(ev.ask_prices, best_high=False)
    return (
        Tick(
            kind="book",
            symbol=ev.pair,
            ts_ns=ts,
            bid=bids[0][0] if bids else None,
            ask=asks[0][0] if asks else None,
            bids=bids,
            asks=asks,
        ),
    )


def _nothing(ev: Any) -> Sequence[Tick]:
    return _NONE


_BY_TYPE: dict[type, Convert] = {
    EquityTrade: _equity_trade,
    CryptoTrade: _crypto_trade,
    FuturesTrade: _futures_trade,
    EquityQuote: _equity_quote,
    ForexQuote: _forex_quote,
    CryptoQuote: _crypto_quote,
    FuturesQuote: _futures_quote,
    Level2Book: _book,
}
_KNOWN = tuple(_BY_TYPE)


def _resolve(cls: type) -> Convert:
    """The converter of a class not in the table: its nearest known base's, or none; remembered."""
    convert = next((_BY_TYPE[base] for base in cls.__mro__ if base in _KNOWN), _nothing)
    _BY_TYPE[cls] = convert
    return convert


def ticks(ev: Event) -> Sequence[Tick]:
    """The ticks of one Massive event: one trade, quote or book tick, or none."""
    convert = _BY_TYPE.get(type(ev))
    if convert is None:
        convert = _resolve(type(ev))
    return convert(ev)
