"""The order book of one Polymarket US market, kept from MARKET_DATA frames.

Each MARKET_DATA frame carries the whole top of book (no deltas, no sequence numbers),
so :meth:`Book.apply` replaces both sides. Levels are kept best first (bids descending,
offers ascending) whatever order they arrived in. A crossed or locked frame (best bid at
or above best ask) is refused: the book keeps its last good state and the caller
reports the frame (:class:`~.events.BookCrossed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from operator import attrgetter
from typing import Literal

from tickwire.polymarket_us.events import MarketData, MarketStats, PriceLevel

__all__ = ["Book", "is_crossed"]

Side = Literal["bid", "offer", "ask"]


_PRICE = attrgetter("price")


def is_crossed(bids: Sequence[PriceLevel], offers: Sequence[PriceLevel]) -> bool:
    """Whether the best bid is at or above the best ask (either side empty: never crossed)."""
    if not bids or not offers:
        return False
    return bool(max(map(_PRICE, bids)) >= min(map(_PRICE, offers)))


class Book:
    """Best-first bids and offers of one market, with its state and stats."""

    __slots__ = ("bids", "market_slug", "offers", "state", "stats", "transact_time", "updates")

    def __init__(self, market_slug: str) -> None:
        self.market_slug = market_slug
        self.bids: tuple[PriceLevel, ...] = ()
        self.offers: tuple[PriceLevel, ...] = ()
        self.state = ""
        self.stats: MarketStats | None = None
        self.transact_time: int | None = None
        self.updates = 0

    def __repr__(self) -> str:
        return (
            f"Book({self.market_slug!r}, bid={self.best_bid}, ask={self.best_ask}, "
            f"levels={len(self.bids)}x{len(self.offers)}, state={self.state or '?'})"
        )

    def apply(self, md: MarketData) -> bool:
        """Replace the book with ``md``'s; False (book unchanged) when ``md`` is crossed."""
        if is_crossed(md.bids, md.offers):
            return False
        self.replace(
            md, tuple(sorted(md.bids, key=_PRICE, reverse=True)), tuple(sorted(md.offers, key=_PRICE))
        )
        return True

    def replace(self, md: MarketData, bids: tuple[PriceLevel, ...], offers: tuple[PriceLevel, ...]) -> None:
        """:meth:`apply` for a caller that has already sorted ``md``'s sides best first and found
        them uncrossed (the decoder does both while checking the levels)."""
        self.bids = bids
        self.offers = offers
        if md.state:
            self.state = md.state
        if md.stats is not None:
            self.stats = md.stats
        self.transact_time = md.transact_time
        self.updates += 1

    # -- queries -------------------------------------------------------------------------

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.offers[0].price if self.offers else None

    @property
    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid, self.best_ask
        return None if bid is None or ask is None else (bid + ask) / 2

    @property
    def spread(self) -> Decimal | None:
        bid, ask = self.best_bid, self.best_ask
        return None if bid is None or ask is None else ask - bid

    @property
    def crossed(self) -> bool:
        return is_crossed(self.bids, self.offers)

    def levels(self, side: Side) -> tuple[PriceLevel, ...]:
        """One side's levels, best first (``"bid"``, or ``"offer"``/``"ask"``)."""
        if side == "bid":
            return self.bids
        if side in ("offer", "ask"):
            return self.offers
        raise ValueError(f"side must be 'bid' or 'offer'/'ask', not {side!r}")

    def depth(self, side: Side, levels: int | None = None) -> Decimal:
        """Shares resting on the best ``levels`` levels of a side (all levels by default)."""
        lv = self.levels(side)
        return sum((x.qty for x in (lv if levels is None else lv[:levels])), Decimal(0))

    def depth_within(self, side: Side, price: Decimal) -> Decimal:
        """Shares resting at prices at least as good as ``price`` (bids >= price, offers <= price)."""
        if side == "bid":
            return sum((x.qty for x in self.bids if x.price >= price), Decimal(0))
        return sum((x.qty for x in self.levels(side) if x.price <= price), Decimal(0))

    def qty_at(self, side: Side, price: Decimal) -> Decimal:
        """Shares resting at exactly ``price`` on a side (0 if no level there)."""
        return sum((x.qty for x in self.levels(side) if x.price == price), Decimal(0))

    def snapshot(self) -> tuple[tuple[tuple[Decimal, Decimal], ...], tuple[tuple[Decimal, Decimal], ...]]:
        """``(bids, offers)`` as ``(price, qty)`` pairs, best first: easy to compare and print."""
        return (
            tuple((x.price, x.qty) for x in self.bids),
            tuple((x.price, x.qty) for x in self.offers),
        )
