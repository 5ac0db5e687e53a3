"""Crypto order books kept from Alpaca ``orderbooks`` messages (``T: "o"``).

A message with ``r: true`` is a full snapshot (the book is replaced); any other lists changed
levels, a size of 0 removing the level. Levels are kept best first (bids high to low, asks low to
high) whatever order they came in. A message that would leave the book crossed or locked (best bid
at or above best ask) is refused: the book keeps its last good state, the event is marked
``crossed`` and followed by a :class:`~tickwire.alpaca.models.BookCrossed`.
"""

from __future__ import annotations

from collections.abc import Iterable

from tickwire.alpaca.models import BookCrossed, BookLevel, OrderBook
from tickwire.events import Event

__all__ = ["Book", "OrderBooks"]


class Book:
    """One symbol's book: price → size per side, and the levels best first."""

    __slots__ = ("_asks", "_bids", "_sorted", "symbol", "timestamp", "updates")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        self._sorted: tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]] | None = ((), ())
        self.timestamp = 0
        self.updates = 0

    def __repr__(self) -> str:
        return (
            f"Book({self.symbol!r}, bid={self.best_bid}, ask={self.best_ask}, "
            f"levels={len(self._bids)}x{len(self._asks)})"
        )

    def apply(self, ev: OrderBook) -> bool:
        """Apply one message; False (book unchanged) when it would cross the book."""
        bids = {} if ev.reset else dict(self._bids)
        asks = {} if ev.reset else dict(self._asks)
        _update(bids, ev.bids)
        _update(asks, ev.asks)
        if bids and asks and max(bids) >= min(asks):
            return False
        self._bids, self._asks = bids, asks
        self._sorted = None
        self.timestamp = ev.timestamp
        self.updates += 1
        return True

    def _levels(self) -> tuple[tuple[BookLevel, ...], tuple[BookLevel, ...]]:
        if self._sorted is None:
            self._sorted = (
                tuple(BookLevel(p, s) for p, s in sorted(self._bids.items(), reverse=True)),
                tuple(BookLevel(p, s) for p, s in sorted(self._asks.items())),
            )
        return self._sorted

    @property
    def bids(self) -> tuple[BookLevel, ...]:
        """Bids, best (highest) first."""
        return self._levels()[0]

    @property
    def asks(self) -> tuple[BookLevel, ...]:
        """Asks, best (lowest) first."""
        return self._levels()[1]

    @property
    def best_bid(self) -> float | None:
        return max(self._bids) if self._bids else None

    @property
    def best_ask(self) -> float | None:
        return min(self._asks) if self._asks else None

    @property
    def mid(self) -> float | None:
        bid, ask = self.best_bid, self.best_ask
        return None if bid is None or ask is None else (bid + ask) / 2

    @property
    def spread(self) -> float | None:
        bid, ask = self.best_bid, self.best_ask
        return None if bid is None or ask is None else ask - bid

    def snapshot(self) -> tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]:
        """``(bids, asks)`` as ``(price, size)`` pairs, best first."""
        bids, asks = self._levels()
        return tuple((lv.price, lv.size) for lv in bids), tuple((lv.price, lv.size) for lv in asks)


def _update(side: dict[float, float], levels: Iterable[BookLevel]) -> None:
    for lv in levels:
        if lv.size <= 0:
            side.pop(lv.price, None)
        else:
            side[lv.price] = lv.size


class OrderBooks(dict[str, Book]):
    """Symbol → :class:`Book`, updated from decoded events."""

    def apply_events(self, events: list[Event]) -> list[Event]:
        """``events`` with every ``OrderBook`` applied; a refused one is marked and followed by a
        :class:`BookCrossed` (the list is only rebuilt when that happens)."""
        out: list[Event] | None = None
        for n, ev in enumerate(events):
            if type(ev) is not OrderBook:
                if out is not None:
                    out.append(ev)
                continue
            book = self.get(ev.symbol)
            if book is None:
                book = self[ev.symbol] = Book(ev.symbol)
            if book.apply(ev):
                if out is not None:
                    out.append(ev)
                continue
            if out is None:
                out = events[:n]
            ev.crossed = True
            bid, ask = _would_be(book, ev)
            out.append(ev)
            out.append(BookCrossed(symbol=ev.symbol, best_bid=bid, best_ask=ask, timestamp=ev.timestamp))
        return events if out is None else out


def _would_be(book: Book, ev: OrderBook) -> tuple[float, float]:
    """The best bid and ask the refused message would have made."""
    bids = {} if ev.reset else {lv.price: lv.size for lv in book.bids}
    asks = {} if ev.reset else {lv.price: lv.size for lv in book.asks}
    _update(bids, ev.bids)
    _update(asks, ev.asks)
    return max(bids), min(asks)
