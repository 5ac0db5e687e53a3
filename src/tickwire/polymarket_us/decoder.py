"""Frames of both Polymarket US sockets → typed events. Never raises.

A camelCase frame (the current format) is decoded straight into :class:`~.wire.WireFrame`;
a legacy snake_case frame (it has ``"request_id"``) goes through :func:`~.wire.camelize`
first. The envelope's payload then becomes one event (or one per page or balance list).
A heartbeat yields nothing (it is counted); an error yields nothing here (the session turns
it into a :class:`~tickwire.events.SubscriptionRejected`); an unknown payload (RFQ, legacy
position snapshot) a :class:`~tickwire.events.RawEvent`; a malformed frame a
:class:`~tickwire.events.DecodeError`.

MARKET_DATA frames also update the decoder's :class:`~.book.Book` per market; a crossed
one is marked and followed by a :class:`~.events.BookCrossed`.
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal
from operator import attrgetter

import msgspec

from tickwire.events import DecodeError, Event, RawEvent
from tickwire.polymarket_us.book import Book
from tickwire.polymarket_us.enums import enum_name
from tickwire.polymarket_us.events import (
    AccountBalanceSnapshot,
    AccountBalanceUpdate,
    Balance,
    BookCrossed,
    Execution,
    MarketData,
    MarketDataLite,
    MarketStats,
    Order,
    OrderSnapshot,
    OrderUpdate,
    Position,
    PositionUpdate,
    PriceLevel,
    Trade,
)
from tickwire.polymarket_us.wire import (
    Amount,
    Num,
    WireBalance,
    WireExecution,
    WireFrame,
    WireOrder,
    WirePosition,
    WirePositionUpdate,
    WireStats,
    camelize,
)

__all__ = ["PARSE_ERRORS", "PolymarketDecoder", "parse_time_ns"]

PARSE_ERRORS = (msgspec.DecodeError, ValueError, TypeError, RecursionError)
"""What :meth:`PolymarketDecoder.parse` raises on a malformed frame (deep nesting: RecursionError)."""
_EVENT_ERRORS = (ValueError, TypeError, ArithmeticError, RecursionError)

_FRAME_DECODER = msgspec.json.Decoder(WireFrame)
_LEGACY_MARK = b'"request_id"'
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


_FRACTION = re.compile(r"\.([0-9]*)")  # ASCII digits only: "²".isdigit() is True
_SECONDS: dict[str, int | None] = {}  # the second part of recent times (frames share it) → Unix s
_SECONDS_MAX = 4096


def parse_time_ns(value: str | None) -> int | None:
    """An RFC 3339 time (``2024-01-15T10:30:00.123456789Z``) in Unix nanoseconds; None if absent/bad."""
    if not value:
        return None
    text = value.strip()
    frac_ns = 0
    dot = text.find(".")
    if dot >= 0:
        fraction = _FRACTION.match(text, dot)
        assert fraction is not None  # the pattern matches any "." (with zero digits or more)
        digits = fraction.group(1)
        frac_ns = int((digits + "000000000")[:9]) if digits else 0
        text = text[:dot] + text[fraction.end() :]
    seconds = _SECONDS.get(text, -1)
    if seconds == -1:
        seconds = _unix_seconds(text)
        if len(_SECONDS) >= _SECONDS_MAX:
            _SECONDS.clear()
        _SECONDS[text] = seconds
    return None if seconds is None else seconds * 1_000_000_000 + frac_ns


def _unix_seconds(text: str) -> int | None:
    """Whole Unix seconds of an ISO 8601 time without its fraction (naive: UTC); None if bad."""
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    delta = moment - _EPOCH
    return delta.days * 86_400 + delta.seconds


def _d(x: Num | None) -> Decimal | None:
    if x is None:
        return None
    return x if isinstance(x, Decimal) else Decimal(repr(x))


def _amt(a: Amount | None) -> Decimal | None:
    return None if a is None else _d(a.value)


class PolymarketDecoder:
    """Decodes frames and keeps the books; counts ``errors``, ``unknown`` and ``heartbeats``."""

    def __init__(self, *, keep_books: bool = True) -> None:
        self.keep_books = keep_books
        self.books: dict[str, Book] = {}
        self.errors = 0
        self.unknown = 0
        self.heartbeats = 0
        self.crossed = 0

    def parse(self, frame: bytes) -> WireFrame:
        """The frame's envelope, either key style; raises on malformed input."""
        if _LEGACY_MARK in frame:
            return msgspec.convert(camelize(msgspec.json.decode(frame)), WireFrame)
        return _FRAME_DECODER.decode(frame)

    def decode(self, frame: bytes) -> list[Event]:
        """A frame's events (see the module docstring). Never raises."""
        try:
            wf = self.parse(frame)
        except PARSE_ERRORS as exc:
            self.errors += 1
            return [DecodeError(error=str(exc)[:300], data=frame)]
        return self.checked_events(wf, frame)

    def checked_events(self, wf: WireFrame, frame: bytes) -> list[Event]:
        """:meth:`events`, with a payload that cannot be read (a bad time, an impossible book level)
        turned into one counted ``DecodeError``. Never raises."""
        try:
            return self.events(wf, frame)
        except _EVENT_ERRORS as exc:
            self.errors += 1
            return [DecodeError(error=f"{type(exc).__name__}: {exc}"[:300], data=frame)]

    def events(self, wf: WireFrame, frame: bytes = b"") -> list[Event]:
        """The events of a parsed frame."""
        rid = wf.request_id or ""
        if wf.heartbeat is not None:
            self.heartbeats += 1
            return []
        if wf.market_data is not None:
            return self._market_data(rid, wf)
        if wf.trade is not None:
            t = wf.trade
            maker, taker = t.maker, t.taker
            return [
                Trade(
                    request_id=rid,
                    market_slug=t.market_slug,
                    price=_amt(t.price),
                    quantity=_amt(t.quantity),
                    trade_time=parse_time_ns(t.trade_time),
                    maker_side=enum_name("ORDER_SIDE_", maker.side) if maker else "",
                    maker_intent=enum_name("ORDER_INTENT_", maker.intent) if maker else "",
                    taker_side=enum_name("ORDER_SIDE_", taker.side) if taker else "",
                    taker_intent=enum_name("ORDER_INTENT_", taker.intent) if taker else "",
                )
            ]
        if wf.market_data_lite is not None:
            x = wf.market_data_lite
            return [
                MarketDataLite(
                    request_id=rid,
                    market_slug=x.market_slug,
                    current_px=_amt(x.current_px),
                    last_trade_px=_amt(x.last_trade_px),
                    best_bid=_amt(x.best_bid),
                    best_ask=_amt(x.best_ask),
                    bid_depth=x.bid_depth,
                    ask_depth=x.ask_depth,
                    shares_traded=_d(x.shares_traded),
                    open_interest=_d(x.open_interest),
                    settlement_px=_amt(x.settlement_px),
                    long_quote=_amt(x.long_quote),
                    short_quote=_amt(x.short_quote),
                    state=enum_name("MARKET_STATE_", x.state),
                    bid_shares=_d(x.bid_shares),
                    ask_shares=_d(x.ask_shares),
                )
            ]
        snap = wf.order_subscription_snapshot or wf.orders_snapshot
        if snap is not None:
            orders = [_order(o) for o in snap.orders]
            return [OrderSnapshot(request_id=rid, orders=orders, eof=snap.eof, error=wf.error or "")]
        upd = wf.order_subscription_update or wf.order_update
        if upd is not None:
            if upd.execution is None:
                return self._unknown("orderSubscriptionUpdate", frame)
            return [OrderUpdate(request_id=rid, execution=_execution(upd.execution))]
        pos = wf.position_subscription or wf.position_subscription_update or wf.position_update
        if pos is not None:
            return [_position_update(rid, pos)]
        bal = wf.account_balances_snapshot or wf.account_balance_subscription_snapshot
        if bal is not None:
            return [AccountBalanceSnapshot(request_id=rid, balances=[_balance(b) for b in bal.balances])]
        bup = (
            wf.account_balances_update or wf.account_balance_subscription_update or wf.account_balance_update
        )
        if bup is not None and bup.balance_change is not None:
            c = bup.balance_change
            return [
                AccountBalanceUpdate(
                    request_id=rid,
                    before=_balance(c.before_balance) if c.before_balance else None,
                    after=_balance(c.after_balance) if c.after_balance else None,
                    description=c.description,
                    update_time=parse_time_ns(c.update_time),
                    entry_type=enum_name("LEDGER_ENTRY_TYPE_", c.entry_type),
                    id=c.id,
                )
            ]
        if wf.error:
            return []  # an error alone: the session reports it
        if wf.rfq_event is not None:
            return self._unknown("rfqEvent", frame)
        if wf.position_subscription_snapshot is not None:
            return self._unknown("positionSubscriptionSnapshot", frame)
        return self._unknown(None, frame)

    def _unknown(self, kind: str | None, frame: bytes) -> list[Event]:
        self.unknown += 1
        return [RawEvent(type=kind, data=frame)]

    def _market_data(self, rid: str, wf: WireFrame) -> list[Event]:
        m = wf.market_data
        assert m is not None
        bids = [PriceLevel(price=lv.px.value, qty=lv.qty) for lv in m.bids]
        offers = [PriceLevel(price=lv.px.value, qty=lv.qty) for lv in m.offers]
        book_bids = _sorted_side(bids, m.market_slug, best_first=True)
        book_offers = _sorted_side(offers, m.market_slug, best_first=False)
        best_bid = book_bids[0].price if book_bids else None
        best_ask = book_offers[0].price if book_offers else None
        cross = None
        if best_bid is not None and best_ask is not None and best_bid >= best_ask:
            cross = (best_bid, best_ask)
        crossed = cross is not None
        ev = MarketData(
            request_id=rid,
            market_slug=m.market_slug,
            bids=bids,
            offers=offers,
            state=enum_name("MARKET_STATE_", m.state),
            stats=_stats(m.stats) if m.stats is not None else None,
            transact_time=parse_time_ns(m.transact_time),
            crossed=crossed,
        )
        if cross is not None:
            self.crossed += 1
            return [
                ev,
                BookCrossed(
                    market_slug=m.market_slug,
                    best_bid=cross[0],
                    best_ask=cross[1],
                    transact_time=ev.transact_time,
                ),
            ]
        if self.keep_books:
            book = self.books.get(m.market_slug)
            if book is None:
                book = self.books[m.market_slug] = Book(m.market_slug)
            book.replace(ev, book_bids, book_offers)
        return [ev]


_MAX_QTY = Decimal(10) ** 18
_PRICE = attrgetter("price")
_QTY = attrgetter("qty")


def _sorted_side(levels: list[PriceLevel], slug: str, *, best_first: bool) -> tuple[PriceLevel, ...]:
    """One side of a book, best first (bids descending, offers ascending), after checking that
    every level is sound: prices in [0, 1], quantities in [0, 10**18), nothing infinite or NaN
    (safe to compare, sort and add up). Raises ValueError otherwise.

    Sorting by price in C (a presorted side costs n - 1 comparisons) gives both ends of the
    price range, so the check needs no Python call per level."""
    if not levels:
        return ()
    try:
        side = sorted(levels, key=_PRICE, reverse=best_first)
        lo, hi = (side[-1].price, side[0].price) if best_first else (side[0].price, side[-1].price)
        sound = lo >= 0 and hi <= 1 and min(map(_QTY, levels)) >= 0 and max(map(_QTY, levels)) < _MAX_QTY
    except ArithmeticError:  # NaN in a comparison (a lone NaN raises in the bounds check)
        sound = False
    if not sound:
        bad = next((lv for lv in levels if not _is_sound(lv)), levels[0])
        raise ValueError(f"impossible book level in {slug!r}: price {bad.price}, qty {bad.qty}")
    return tuple(side)


def _is_sound(lv: PriceLevel) -> bool:
    p, q = lv.price, lv.qty
    return p.is_finite() and q.is_finite() and 0 <= p <= 1 and 0 <= q < _MAX_QTY


def _stats(s: WireStats) -> MarketStats:
    return MarketStats(
        last_trade_px=_amt(s.last_trade_px),
        shares_traded=_d(s.shares_traded),
        open_interest=_d(s.open_interest),
        high_px=_amt(s.high_px),
        low_px=_amt(s.low_px),
        open_px=_amt(s.open_px),
        close_px=_amt(s.close_px),
        settlement_px=_amt(s.settlement_px),
        current_px=_amt(s.current_px),
        notional_traded=_amt(s.notional_traded),
        last_trade_qty=_d(s.last_trade_qty),
    )


def _order(o: WireOrder) -> Order:
    slug = o.market_slug or (o.market_metadata.slug if o.market_metadata else "")
    return Order(
        id=o.id,
        market_slug=slug,
        side=enum_name("ORDER_SIDE_", o.side),
        type=enum_name("ORDER_TYPE_", o.type),
        price=_amt(o.price),
        quantity=_d(o.quantity),
        leaves_quantity=_d(o.leaves_quantity),
        cum_quantity=_d(o.cum_quantity),
        state=enum_name("ORDER_STATE_", o.state),
        intent=enum_name("ORDER_INTENT_", o.intent),
        tif=enum_name("TIME_IN_FORCE_", o.tif),
        avg_px=_amt(o.avg_px),
        good_till_time=parse_time_ns(o.good_till_time),
        create_time=parse_time_ns(o.create_time),
        insert_time=parse_time_ns(o.insert_time),
    )


def _execution(e: WireExecution) -> Execution:
    return Execution(
        id=e.id,
        order=_order(e.order) if e.order is not None else None,
        last_shares=_d(e.last_shares),
        last_px=_amt(e.last_px),
        type=enum_name("EXECUTION_TYPE_", e.type),
        trade_id=e.trade_id,
        transact_time=parse_time_ns(e.transact_time),
        aggressor=e.aggressor,
        text=e.text,
        order_reject_reason=e.order_reject_reason,
    )


def _position(p: WirePosition) -> Position:
    # the *Decimal variants are exact; the plain ones may be rounded to whole shares
    return Position(
        net_position=_d(p.net_position_decimal if p.net_position_decimal is not None else p.net_position),
        qty_bought=_d(p.qty_bought_decimal if p.qty_bought_decimal is not None else p.qty_bought),
        qty_sold=_d(p.qty_sold_decimal if p.qty_sold_decimal is not None else p.qty_sold),
        qty_available=_d(p.qty_available_decimal if p.qty_available_decimal is not None else p.qty_available),
        cost=_amt(p.cost),
        realized=_amt(p.realized),
        avg_px=_amt(p.avg_px),
        market_slug=p.market_metadata.slug if p.market_metadata else "",
    )


def _position_update(rid: str, u: WirePositionUpdate) -> PositionUpdate:
    before = _position(u.before_position) if u.before_position is not None else None
    after = _position(u.after_position) if u.after_position is not None else None
    slug = (after.market_slug if after else "") or (before.market_slug if before else "")
    return PositionUpdate(
        request_id=rid,
        market_slug=slug,
        before=before,
        after=after,
        update_time=parse_time_ns(u.update_time),
        entry_type=enum_name("LEDGER_ENTRY_TYPE_", u.entry_type),
        trade_id=u.trade_id,
        description=u.description,
    )


def _balance(b: WireBalance) -> Balance:
    return Balance(
        currency=b.currency or "USD",
        current_balance=_d(b.current_balance),
        buying_power=_d(b.buying_power),
        open_orders=_d(b.open_orders),
        unsettled_funds=_d(b.unsettled_funds),
        available_to_withdraw=_d(b.available_to_withdraw),
        margin_requirement=_d(b.margin_requirement),
    )
