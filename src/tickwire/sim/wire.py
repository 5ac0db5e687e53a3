"""The Massive wire format: one ``msgspec.Struct`` per event shape, with the exact keys of polygon.md §1.5.

Field names *are* the wire keys (``as`` is spelled ``as_`` and renamed), declared in the order the
documentation shows them; optional keys default to ``None`` and are omitted when absent. The
``*_event`` builders turn model objects into these structs for a given cluster and channel kind.

Timestamp units follow the spec: Unix ms everywhere except LULD (µs, as the official example),
NOI, FMV and LV (ns).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from tickwire.sim.channels import Kind
from tickwire.sim.instruments import Instrument
from tickwire.sim.market import Band, Bar, Book, Imbalance, Quote, Trade, Value

__all__ = [
    "BUILDERS",
    "ENCODER",
    "Status",
    "WireEvent",
    "encode_statuses",
    "status_frame",
]

ENCODER = msgspec.json.Encoder()


class WireEvent(msgspec.Struct, tag_field="ev", omit_defaults=True, kw_only=True, gc=False):
    """Base of every server→client object: its ``ev`` comes first."""


class Status(WireEvent, tag="status"):
    """``{"ev":"status","status":...,"message":...}``."""

    status: str
    message: str


# --- stocks, options, futures --------------------------------------------------------------


class StockTrade(WireEvent, tag="T", kw_only=True):
    sym: str
    x: int
    i: str
    z: int
    p: float
    s: float
    c: tuple[int, ...] | None = None
    t: int
    q: int
    trfi: int | None = None
    trft: int | None = None


class OptionTrade(WireEvent, tag="T", kw_only=True):
    sym: str
    x: int
    p: float
    s: float
    c: tuple[int, ...] | None = None
    t: int
    q: int


class FuturesTrade(WireEvent, tag="T"):
    sym: str
    p: float
    s: float
    t: int
    q: int


class StockQuote(WireEvent, tag="Q", rename={"as_": "as"}):
    sym: str
    bx: int
    bp: float
    bs: float
    ax: int
    ap: float
    as_: float
    t: int
    q: int
    z: int


class OptionQuote(WireEvent, tag="Q", rename={"as_": "as"}):
    sym: str
    bx: int
    ax: int
    bp: float
    ap: float
    bs: float
    as_: float
    t: int
    q: int


class FuturesQuote(WireEvent, tag="Q", rename={"as_": "as"}):
    sym: str
    bp: float
    bs: float
    bt: int
    ap: float
    as_: float
    at: int
    t: int


class _StockAgg(WireEvent):
    sym: str
    v: float
    av: float
    op: float
    vw: float
    o: float
    c: float
    h: float
    l: float  # noqa: E741 - the wire key
    a: float
    z: int
    s: int
    e: int


class StockSecondAgg(_StockAgg, tag="A"):
    pass


class StockMinuteAgg(_StockAgg, tag="AM"):
    pass


class _IndexAgg(WireEvent):
    sym: str
    op: float
    o: float
    c: float
    h: float
    l: float  # noqa: E741
    s: int
    e: int


class IndexSecondAgg(_IndexAgg, tag="A"):
    pass


class IndexMinuteAgg(_IndexAgg, tag="AM"):
    pass


class _FuturesAgg(WireEvent):
    sym: str
    v: float
    dv: float
    o: float
    c: float
    h: float
    l: float  # noqa: E741
    n: int
    s: int
    e: int


class FuturesSecondAgg(_FuturesAgg, tag="A"):
    pass


class FuturesMinuteAgg(_FuturesAgg, tag="AM"):
    pass


class Luld(WireEvent, tag="LULD", kw_only=True):
    T: str
    h: float
    l: float  # noqa: E741
    i: tuple[int, ...]
    z: int
    t: int
    q: int


class Noi(WireEvent, tag="NOI"):
    T: str
    t: int
    at: int
    a: str
    i: int
    x: int
    o: int
    p: int
    b: float


# --- forex and crypto ----------------------------------------------------------------------


class ForexQuote(WireEvent, tag="C"):
    p: str
    x: int | str
    a: float
    b: float
    t: int


class _ForexAgg(WireEvent):
    pair: str
    o: float
    c: float
    h: float
    l: float  # noqa: E741
    v: float
    s: int
    e: int


class ForexMinuteAgg(_ForexAgg, tag="CA"):
    pass


class ForexSecondAgg(_ForexAgg, tag="CAS"):
    pass


class CryptoTrade(WireEvent, tag="XT"):
    pair: str
    p: float
    t: int
    s: float
    c: tuple[int, ...]
    i: int
    x: int
    r: int


class CryptoQuote(WireEvent, tag="XQ", rename={"as_": "as"}):
    pair: str
    bp: float
    bs: float
    ap: float
    as_: float
    t: int
    x: int
    r: int


class _CryptoAgg(WireEvent):
    pair: str
    o: float
    c: float
    h: float
    l: float  # noqa: E741
    v: float
    s: int
    e: int
    vw: float
    z: int


class CryptoMinuteAgg(_CryptoAgg, tag="XA"):
    pass


class CryptoSecondAgg(_CryptoAgg, tag="XAS"):
    pass


class CryptoBook(WireEvent, tag="XL2"):
    pair: str
    b: list[tuple[float, float]]
    a: list[tuple[float, float]]
    t: int
    x: int
    r: int


# --- indices, values -----------------------------------------------------------------------


class IndexValue(WireEvent, tag="V"):
    val: float
    T: str
    t: int


class FairMarketValue(WireEvent, tag="FMV"):
    fmv: float
    sym: str
    t: int


class LaunchpadValue(WireEvent, tag="LV"):
    val: float
    sym: str
    t: int


# --- builders ------------------------------------------------------------------------------

Builder = Callable[[Instrument, Any], WireEvent]


def _stock_trade(inst: Instrument, tr: Trade) -> WireEvent:
    if tr.trf_id:
        return StockTrade(
            sym=tr.ticker,
            x=tr.exchange,
            i=str(tr.trade_id),
            z=tr.tape,
            p=tr.price,
            s=tr.size,
            c=tr.conditions or None,
            t=tr.timestamp,
            q=tr.sequence,
            trfi=tr.trf_id,
            trft=tr.trf_timestamp,
        )
    return StockTrade(
        sym=tr.ticker,
        x=tr.exchange,
        i=str(tr.trade_id),
        z=tr.tape,
        p=tr.price,
        s=tr.size,
        c=tr.conditions or None,
        t=tr.timestamp,
        q=tr.sequence,
    )


def _option_trade(inst: Instrument, tr: Trade) -> WireEvent:
    return OptionTrade(
        sym=tr.ticker,
        x=tr.exchange,
        p=tr.price,
        s=tr.size,
        c=tr.conditions or None,
        t=tr.timestamp,
        q=tr.sequence,
    )


def _futures_trade(inst: Instrument, tr: Trade) -> WireEvent:
    return FuturesTrade(sym=tr.ticker, p=tr.price, s=tr.size, t=tr.timestamp, q=tr.sequence)


def _crypto_trade(inst: Instrument, tr: Trade) -> WireEvent:
    return CryptoTrade(
        pair=tr.ticker,
        p=tr.price,
        t=tr.timestamp,
        s=tr.size,
        c=tr.conditions,
        i=tr.trade_id,
        x=tr.exchange,
        r=tr.received,
    )


def _index_value(inst: Instrument, tr: Trade) -> WireEvent:
    return IndexValue(val=tr.price, T=tr.ticker, t=tr.timestamp)


def _stock_quote(inst: Instrument, q: Quote) -> WireEvent:
    return StockQuote(
        sym=q.ticker,
        bx=q.bid_exchange,
        bp=q.bid_price,
        bs=q.bid_size,
        ax=q.ask_exchange,
        ap=q.ask_price,
        as_=q.ask_size,
        t=q.timestamp,
        q=q.sequence,
        z=q.tape,
    )


def _option_quote(inst: Instrument, q: Quote) -> WireEvent:
    return OptionQuote(
        sym=q.ticker,
        bx=q.bid_exchange,
        ax=q.ask_exchange,
        bp=q.bid_price,
        ap=q.ask_price,
        bs=q.bid_size,
        as_=q.ask_size,
        t=q.timestamp,
        q=q.sequence,
    )


def _futures_quote(inst: Instrument, q: Quote) -> WireEvent:
    return FuturesQuote(
        sym=q.ticker,
        bp=q.bid_price,
        bs=q.bid_size,
        bt=q.timestamp - q.sequence % 3,
        ap=q.ask_price,
        as_=q.ask_size,
        at=q.timestamp - q.sequence % 2,
        t=q.timestamp,
    )


def _forex_quote(inst: Instrument, q: Quote) -> WireEvent:
    return ForexQuote(p=q.ticker, x=q.bid_exchange, a=q.ask_price, b=q.bid_price, t=q.timestamp)


def _forex_quote_quirky(inst: Instrument, q: Quote) -> WireEvent:
    """As the official example: ``x`` as a string."""
    return ForexQuote(p=q.ticker, x=str(q.bid_exchange), a=q.ask_price, b=q.bid_price, t=q.timestamp)


def _crypto_quote(inst: Instrument, q: Quote) -> WireEvent:
    return CryptoQuote(
        pair=q.ticker,
        bp=q.bid_price,
        bs=q.bid_size,
        ap=q.ask_price,
        as_=q.ask_size,
        t=q.timestamp,
        x=q.bid_exchange,
        r=q.received,
    )


def _stock_agg(cls: type[_StockAgg], prefixed: bool) -> Builder:
    def build(inst: Instrument, bar: Bar) -> WireEvent:
        return cls(
            sym=inst.prefixed if prefixed else bar.ticker,
            v=bar.volume,
            av=bar.day_volume,
            op=bar.official_open,
            vw=bar.vwap,
            o=bar.open,
            c=bar.close,
            h=bar.high,
            l=bar.low,
            a=bar.day_vwap,
            z=bar.average_size,
            s=bar.start,
            e=bar.end,
        )

    return build


def _index_agg(cls: type[_IndexAgg]) -> Builder:
    def build(inst: Instrument, bar: Bar) -> WireEvent:
        return cls(
            sym=bar.ticker,
            op=bar.official_open,
            o=bar.open,
            c=bar.close,
            h=bar.high,
            l=bar.low,
            s=bar.start,
            e=bar.end,
        )

    return build


def _futures_agg(cls: type[_FuturesAgg]) -> Builder:
    def build(inst: Instrument, bar: Bar) -> WireEvent:
        return cls(
            sym=bar.ticker,
            v=bar.volume,
            dv=round(bar.dollar_volume, 6),
            o=bar.open,
            c=bar.close,
            h=bar.high,
            l=bar.low,
            n=bar.transactions,
            s=bar.start,
            e=bar.end,
        )

    return build


def _forex_agg(cls: type[_ForexAgg]) -> Builder:
    def build(inst: Instrument, bar: Bar) -> WireEvent:
        return cls(
            pair=bar.ticker,
            o=bar.open,
            c=bar.close,
            h=bar.high,
            l=bar.low,
            v=bar.volume,
            s=bar.start,
            e=bar.end,
        )

    return build


def _crypto_agg(cls: type[_CryptoAgg]) -> Builder:
    def build(inst: Instrument, bar: Bar) -> WireEvent:
        return cls(
            pair=bar.ticker,
            o=bar.open,
            c=bar.close,
            h=bar.high,
            l=bar.low,
            v=float(bar.volume),
            s=bar.start,
            e=bar.end,
            vw=bar.vwap,
            z=bar.average_size,
        )

    return build


def _luld(inst: Instrument, band: Band) -> WireEvent:
    return Luld(
        T=band.ticker,
        h=band.high,
        l=band.low,
        i=(),
        z=band.tape,
        t=band.timestamp * 1_000 + 417,
        q=band.sequence,
    )


def _noi(inst: Instrument, imb: Imbalance) -> WireEvent:
    return Noi(
        T=imb.ticker,
        t=imb.timestamp * 1_000_000 + 123_456,
        at=imb.auction_time,
        a=imb.auction_type,
        i=imb.sequence,
        x=imb.exchange,
        o=imb.imbalance,
        p=imb.paired,
        b=imb.clearing_price,
    )


def _fmv(inst: Instrument, v: Value) -> WireEvent:
    return FairMarketValue(fmv=v.value, sym=v.ticker, t=v.timestamp * 1_000_000)


def _lv(inst: Instrument, v: Value) -> WireEvent:
    return LaunchpadValue(val=v.value, sym=v.ticker, t=v.timestamp * 1_000_000)


def _book(inst: Instrument, b: Book) -> WireEvent:
    return CryptoBook(pair=b.ticker, b=b.bids, a=b.asks, t=b.timestamp, x=b.exchange, r=b.received)


_B = dict[tuple[str, Kind], Builder]

BUILDERS: _B = {
    ("stocks", Kind.TRADE): _stock_trade,
    ("stocks", Kind.QUOTE): _stock_quote,
    ("stocks", Kind.SECOND_BAR): _stock_agg(StockSecondAgg, False),
    ("stocks", Kind.MINUTE_BAR): _stock_agg(StockMinuteAgg, False),
    ("stocks", Kind.LULD): _luld,
    ("stocks", Kind.NOI): _noi,
    ("options", Kind.TRADE): _option_trade,
    ("options", Kind.QUOTE): _option_quote,
    ("options", Kind.SECOND_BAR): _stock_agg(StockSecondAgg, False),
    ("options", Kind.MINUTE_BAR): _stock_agg(StockMinuteAgg, False),
    ("forex", Kind.QUOTE): _forex_quote,
    ("forex", Kind.SECOND_BAR): _forex_agg(ForexSecondAgg),
    ("forex", Kind.MINUTE_BAR): _forex_agg(ForexMinuteAgg),
    ("forex", Kind.LAUNCHPAD_AM): _stock_agg(StockMinuteAgg, True),
    ("crypto", Kind.TRADE): _crypto_trade,
    ("crypto", Kind.QUOTE): _crypto_quote,
    ("crypto", Kind.SECOND_BAR): _crypto_agg(CryptoSecondAgg),
    ("crypto", Kind.MINUTE_BAR): _crypto_agg(CryptoMinuteAgg),
    ("crypto", Kind.L2): _book,
    ("crypto", Kind.LAUNCHPAD_AM): _stock_agg(StockMinuteAgg, True),
    ("indices", Kind.VALUE): _index_value,
    ("indices", Kind.SECOND_BAR): _index_agg(IndexSecondAgg),
    ("indices", Kind.MINUTE_BAR): _index_agg(IndexMinuteAgg),
    ("futures", Kind.TRADE): _futures_trade,
    ("futures", Kind.QUOTE): _futures_quote,
    ("futures", Kind.SECOND_BAR): _futures_agg(FuturesSecondAgg),
    ("futures", Kind.MINUTE_BAR): _futures_agg(FuturesMinuteAgg),
}
for _family in ("stocks", "options", "forex", "crypto"):
    BUILDERS[(_family, Kind.FMV)] = _fmv
    BUILDERS[(_family, Kind.LV)] = _lv

QUIRKY_BUILDERS: _B = {**BUILDERS, ("forex", Kind.QUOTE): _forex_quote_quirky}
"""As :data:`BUILDERS`, with the type drift of the official examples (forex ``x`` as a string)."""


def encode_statuses(*statuses: tuple[str, str]) -> bytes:
    """One frame of status messages: ``[{"ev":"status","status":s,"message":m}, ...]``."""
    return ENCODER.encode([Status(status=s, message=m) for s, m in statuses])


def status_frame(status: str, message: str) -> bytes:
    """A frame holding a single status message."""
    return ENCODER.encode([Status(status=status, message=message)])
