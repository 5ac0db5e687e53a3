"""Massive (Polygon.io) wire models: one ``msgspec.Struct`` per event type of every cluster.

Class and attribute names are the official ``massive`` client's (``EquityTrade.price``,
``ForexQuote.pair``, ``Imbalance.time_stamp``...), so code written for that client ports
by changing an import. Wire names (``sym``, ``p``, ``t``...) map through
``msgspec.field(name=...)``; every field is optional because the wire omits keys.

A msgspec tag (the wire ``ev``) belongs to one class, so where the official client uses
one model for several ``ev`` values there is a subclass per value: ``EquityAggMin``
(``AM``) is an ``EquityAgg`` (``A``); ``ForexAgg``, ``CryptoAgg``... derive from ``CurrencyAgg``.
The same ``ev`` means different things on different clusters (``A`` is an equity,
index or futures aggregate); the channel catalogue (:mod:`tickwire.massive.catalog`) says
which class serves which ``(cluster, ev)``, and the decoder builds one tagged union per
cluster from it.

Timestamps are kept exactly as sent (the wire mixes ms, µs and ns); ``time_ns`` and
``datetime`` normalise them on access, inferring the unit from the magnitude.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import ClassVar

import msgspec

from tickwire.events import Event, timestamp_to_ns

__all__ = [
    "CryptoAgg",
    "CryptoAggSec",
    "CryptoQuote",
    "CryptoTrade",
    "CurrencyAgg",
    "EquityAgg",
    "EquityAggMin",
    "EquityQuote",
    "EquityTrade",
    "FairMarketValue",
    "ForexAgg",
    "ForexAggSec",
    "ForexQuote",
    "FuturesAgg",
    "FuturesAggMin",
    "FuturesQuote",
    "FuturesTrade",
    "Imbalance",
    "IndexAgg",
    "IndexAggMin",
    "IndexValue",
    "LaunchpadValue",
    "Level2Book",
    "LimitUpLimitDown",
    "MassiveEvent",
]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_UNSET = msgspec.UNSET


class MassiveEvent(Event, omit_defaults=True, repr_omit_defaults=True, kw_only=True):
    """Base of every Massive market-data event.

    ``omit_defaults`` makes encoding leave out ``None`` fields, so an encoded event looks
    like the wire frame it came from.

    *Trip-wire fields.* Some events name their ticker differently (``T`` on LULD, NOI
    and ``V``; ``sym`` elsewhere; ``p`` rather than ``pair`` on forex ``C``). A class
    declares the key it does *not* expect as a private field of type
    ``msgspec.UnsetType``: absent (the normal case) it costs nothing; present, no value
    can decode into it, so the fast decode fails and the decoder's slow path moves the
    value to the expected key (see ``_wire_aliases``) instead of silently leaving the
    ticker ``None``.
    """

    _time_attr: ClassVar[str] = "timestamp"
    _wire_aliases: ClassVar[Mapping[str, str]] = {}  # unexpected wire key -> expected wire key

    @property
    def time_ns(self) -> int | None:
        """The event's time in Unix nanoseconds (unit inferred from magnitude), or ``None``."""
        return timestamp_to_ns(getattr(self, self._time_attr))

    @property
    def datetime(self) -> _dt.datetime | None:
        """The event's time as an aware UTC ``datetime`` (µs precision), or ``None``."""
        ns = self.time_ns
        if ns is None:
            return None
        return _EPOCH + _dt.timedelta(microseconds=ns // 1000)


class _SymEvent(MassiveEvent, kw_only=True):
    """An event whose ticker is ``sym`` on the wire; a stray ``T`` trips the slow path."""

    _wire_aliases: ClassVar[Mapping[str, str]] = {"T": "sym"}


class _TickerTEvent(MassiveEvent, kw_only=True):
    """An event whose ticker is ``T`` on the wire; a stray ``sym`` trips the slow path."""

    _wire_aliases: ClassVar[Mapping[str, str]] = {"sym": "T"}


# --- stocks and options ---------------------------------------------------------------


class EquityTrade(_SymEvent, tag="T", kw_only=True):
    """``T``: a stock or option trade. Options trades carry only sym, x, p, s, c, t, q.

    The fields are declared in the order the server sends them (``sym, i, x, p, s, c, t, q, z``, as
    in Polygon's captured examples): msgspec looks each key up from where the last one matched, so
    a frame in declaration order decodes with one comparison per key (about 9 % fewer instructions
    per trade than the documented schema order, the busiest stream's whole decode)."""

    symbol: str | None = msgspec.field(name="sym", default=None)
    id: int | str | None = msgspec.field(name="i", default=None)
    exchange: int | None = msgspec.field(name="x", default=None)
    price: float | None = msgspec.field(name="p", default=None)
    size: int | None = msgspec.field(name="s", default=None)
    fractional_shares: str | None = msgspec.field(name="ds", default=None)
    conditions: list[int] | None = msgspec.field(name="c", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    sequence_number: int | None = msgspec.field(name="q", default=None)
    tape: int | None = msgspec.field(name="z", default=None)
    trf_id: int | None = msgspec.field(name="trfi", default=None)
    trf_timestamp: int | None = msgspec.field(name="trft", default=None)
    _alt_T: msgspec.UnsetType = msgspec.field(name="T", default=_UNSET)

    _column_order: ClassVar[tuple[str, ...]] = (
        "symbol", "exchange", "id", "tape", "price", "size", "fractional_shares", "conditions",
        "timestamp", "sequence_number", "trf_id", "trf_timestamp",
    )  # fmt: skip
    """Tables keep the column order they had (massive's field order), whatever the declaration's."""


class EquityQuote(_SymEvent, tag="Q", kw_only=True):
    """``Q``: a stock NBBO or option quote. Sizes are in round lots of 100 for stocks."""

    symbol: str | None = msgspec.field(name="sym", default=None)
    bid_exchange_id: int | None = msgspec.field(name="bx", default=None)
    bid_price: float | None = msgspec.field(name="bp", default=None)
    bid_size: int | None = msgspec.field(name="bs", default=None)
    ask_exchange_id: int | None = msgspec.field(name="ax", default=None)
    ask_price: float | None = msgspec.field(name="ap", default=None)
    ask_size: int | None = msgspec.field(name="as", default=None)
    condition: int | None = msgspec.field(name="c", default=None)
    indicators: list[int] | None = msgspec.field(name="i", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    tape: int | None = msgspec.field(name="z", default=None)
    sequence_number: int | None = msgspec.field(name="q", default=None)
    trf_id: int | None = msgspec.field(name="trfi", default=None)
    trf_timestamp: int | None = msgspec.field(name="trft", default=None)
    _alt_T: msgspec.UnsetType = msgspec.field(name="T", default=_UNSET)


class EquityAgg(_SymEvent, tag="A", kw_only=True):
    """``A``: a per-second aggregate (stocks, options); base of every equity-style bar.

    Volumes are ``int | float`` because launchpad ``AM`` bars of crypto are fractional.
    ``time_ns`` is the bar's start; ``end_ns`` its end.
    """

    _time_attr: ClassVar[str] = "start_timestamp"

    symbol: str | None = msgspec.field(name="sym", default=None)
    volume: int | float | None = msgspec.field(name="v", default=None)
    accumulated_volume: int | float | None = msgspec.field(name="av", default=None)
    official_open_price: float | None = msgspec.field(name="op", default=None)
    vwap: float | None = msgspec.field(name="vw", default=None)
    open: float | None = msgspec.field(name="o", default=None)
    close: float | None = msgspec.field(name="c", default=None)
    high: float | None = msgspec.field(name="h", default=None)
    low: float | None = msgspec.field(name="l", default=None)
    aggregate_vwap: float | None = msgspec.field(name="a", default=None)
    average_size: int | float | None = msgspec.field(name="z", default=None)
    start_timestamp: int | None = msgspec.field(name="s", default=None)
    end_timestamp: int | None = msgspec.field(name="e", default=None)
    otc: bool | None = None
    fractional_volume: str | None = msgspec.field(name="dv", default=None)
    fractional_accumulated_volume: str | None = msgspec.field(name="dav", default=None)
    _alt_T: msgspec.UnsetType = msgspec.field(name="T", default=_UNSET)

    @property
    def end_ns(self) -> int | None:
        """The bar's end in Unix nanoseconds, or ``None``."""
        return timestamp_to_ns(self.end_timestamp)


class EquityAggMin(EquityAgg, tag="AM", kw_only=True):
    """``AM``: a per-minute aggregate (stocks, options, and launchpad ``AM`` on any cluster)."""


class LimitUpLimitDown(_TickerTEvent, tag="LULD", kw_only=True):
    """``LULD``: limit-up/limit-down price bands. The ticker is ``T`` and ``t`` is often µs."""

    symbol: str | None = msgspec.field(name="T", default=None)
    high_price: float | None = msgspec.field(name="h", default=None)
    low_price: float | None = msgspec.field(name="l", default=None)
    indicators: list[int] | None = msgspec.field(name="i", default=None)
    tape: int | None = msgspec.field(name="z", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    sequence_number: int | None = msgspec.field(name="q", default=None)
    _alt_sym: msgspec.UnsetType = msgspec.field(name="sym", default=_UNSET)


class Imbalance(_TickerTEvent, tag="NOI", kw_only=True):
    """``NOI``: a net order imbalance. ``auction_time`` is HHMM in New York time (930 = 9:30).

    ``auction_type``: O early open, M core open, H reopen, C close, P extreme closing,
    R regulatory closing.
    """

    _time_attr: ClassVar[str] = "time_stamp"

    symbol: str | None = msgspec.field(name="T", default=None)
    time_stamp: int | None = msgspec.field(name="t", default=None)
    auction_time: int | None = msgspec.field(name="at", default=None)
    auction_type: str | None = msgspec.field(name="a", default=None)
    symbol_sequence: int | None = msgspec.field(name="i", default=None)
    exchange_id: int | None = msgspec.field(name="x", default=None)
    imbalance_quantity: int | None = msgspec.field(name="o", default=None)
    paired_quantity: int | None = msgspec.field(name="p", default=None)
    book_clearing_price: float | None = msgspec.field(name="b", default=None)
    _alt_sym: msgspec.UnsetType = msgspec.field(name="sym", default=_UNSET)


# --- forex and crypto -----------------------------------------------------------------


class ForexQuote(MassiveEvent, tag="C", kw_only=True):
    """``C``: a forex quote. The pair is ``p`` on the wire (a stray ``pair`` is moved there)."""

    _wire_aliases: ClassVar[Mapping[str, str]] = {"pair": "p"}

    pair: str | None = msgspec.field(name="p", default=None)
    exchange_id: int | None = msgspec.field(name="x", default=None)
    ask_price: float | None = msgspec.field(name="a", default=None)
    bid_price: float | None = msgspec.field(name="b", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    _alt_pair: msgspec.UnsetType = msgspec.field(name="pair", default=_UNSET)

    @property
    def symbol(self) -> str | None:
        """The pair (``EUR/USD``): the uniform ticker accessor."""
        return self.pair


class CurrencyAgg(MassiveEvent, kw_only=True):
    """Base of forex and crypto aggregates (``CA``, ``CAS``, ``XA``, ``XAS``).

    ``time_ns`` is the bar's start; ``end_ns`` its end. ``volume`` is ``int | float``:
    crypto volumes are fractional.
    """

    _time_attr: ClassVar[str] = "start_timestamp"

    pair: str | None = None
    open: float | None = msgspec.field(name="o", default=None)
    close: float | None = msgspec.field(name="c", default=None)
    high: float | None = msgspec.field(name="h", default=None)
    low: float | None = msgspec.field(name="l", default=None)
    volume: int | float | None = msgspec.field(name="v", default=None)
    vwap: float | None = msgspec.field(name="vw", default=None)
    start_timestamp: int | None = msgspec.field(name="s", default=None)
    end_timestamp: int | None = msgspec.field(name="e", default=None)
    avg_trade_size: int | float | None = msgspec.field(name="z", default=None)

    @property
    def symbol(self) -> str | None:
        """The pair (``EUR/USD``, ``BTC-USD``): the uniform ticker accessor."""
        return self.pair

    @property
    def end_ns(self) -> int | None:
        """The bar's end in Unix nanoseconds, or ``None``."""
        return timestamp_to_ns(self.end_timestamp)


class ForexAgg(CurrencyAgg, tag="CA", kw_only=True):
    """``CA``: a per-minute forex aggregate."""


class ForexAggSec(CurrencyAgg, tag="CAS", kw_only=True):
    """``CAS``: a per-second forex aggregate."""


class CryptoAgg(CurrencyAgg, tag="XA", kw_only=True):
    """``XA``: a per-minute crypto aggregate."""


class CryptoAggSec(CurrencyAgg, tag="XAS", kw_only=True):
    """``XAS``: a per-second crypto aggregate."""


class CryptoTrade(MassiveEvent, tag="XT", kw_only=True):
    """``XT``: a crypto trade. ``conditions``: 0 or empty none, 1 sell side, 2 buy side."""

    pair: str | None = None
    exchange: int | None = msgspec.field(name="x", default=None)
    id: int | str | None = msgspec.field(name="i", default=None)
    price: float | None = msgspec.field(name="p", default=None)
    size: float | None = msgspec.field(name="s", default=None)
    conditions: list[int] | None = msgspec.field(name="c", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    received_timestamp: int | None = msgspec.field(name="r", default=None)

    @property
    def symbol(self) -> str | None:
        """The pair (``BTC-USD``): the uniform ticker accessor."""
        return self.pair


class CryptoQuote(MassiveEvent, tag="XQ", kw_only=True):
    """``XQ``: a crypto quote."""

    pair: str | None = None
    bid_price: float | None = msgspec.field(name="bp", default=None)
    bid_size: float | None = msgspec.field(name="bs", default=None)
    ask_price: float | None = msgspec.field(name="ap", default=None)
    ask_size: float | None = msgspec.field(name="as", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    exchange_id: int | None = msgspec.field(name="x", default=None)
    received_timestamp: int | None = msgspec.field(name="r", default=None)

    @property
    def symbol(self) -> str | None:
        """The pair (``BTC-USD``): the uniform ticker accessor."""
        return self.pair


class Level2Book(MassiveEvent, tag="XL2", kw_only=True):
    """``XL2`` (deprecated since 2024-07-01): a crypto book snapshot, levels ``[price, size]``."""

    pair: str | None = None
    bid_prices: list[list[float]] | None = msgspec.field(name="b", default=None)
    ask_prices: list[list[float]] | None = msgspec.field(name="a", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    exchange_id: int | None = msgspec.field(name="x", default=None)
    received_timestamp: int | None = msgspec.field(name="r", default=None)

    @property
    def symbol(self) -> str | None:
        """The pair (``BTC-USD``): the uniform ticker accessor."""
        return self.pair


# --- indices, values ------------------------------------------------------------------


class IndexAgg(EquityAgg, tag="A", kw_only=True):
    """``A`` on the indices cluster: a per-second index aggregate (no volume fields)."""


class IndexAggMin(IndexAgg, tag="AM", kw_only=True):
    """``AM`` on the indices cluster: a per-minute index aggregate."""


class IndexValue(_TickerTEvent, tag="V", kw_only=True):
    """``V``: an index value. The ticker (``I:SPX``) is ``T`` on the wire."""

    value: float | None = msgspec.field(name="val", default=None)
    ticker: str | None = msgspec.field(name="T", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    _alt_sym: msgspec.UnsetType = msgspec.field(name="sym", default=_UNSET)

    @property
    def symbol(self) -> str | None:
        """The ticker: the uniform ticker accessor."""
        return self.ticker


class FairMarketValue(_SymEvent, tag="FMV", kw_only=True):
    """``FMV`` (business host): Massive's fair market value of ``ticker``."""

    fmv: float | None = None
    ticker: str | None = msgspec.field(name="sym", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    _alt_T: msgspec.UnsetType = msgspec.field(name="T", default=_UNSET)

    @property
    def symbol(self) -> str | None:
        """The ticker (class-prefixed: ``X:BTC-USD``, ``C:EURUSD``...): the uniform accessor."""
        return self.ticker


class LaunchpadValue(_SymEvent, tag="LV", kw_only=True):
    """``LV`` (launchpad host): a value of ``symbol`` (class-prefixed)."""

    value: float | None = msgspec.field(name="val", default=None)
    symbol: str | None = msgspec.field(name="sym", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    _alt_T: msgspec.UnsetType = msgspec.field(name="T", default=_UNSET)


# --- futures (beta) -------------------------------------------------------------------


class FuturesTrade(_SymEvent, tag="T", kw_only=True):
    """``T`` on a futures cluster: a futures trade."""

    symbol: str | None = msgspec.field(name="sym", default=None)
    price: float | None = msgspec.field(name="p", default=None)
    size: int | None = msgspec.field(name="s", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    sequence_number: int | None = msgspec.field(name="q", default=None)
    _alt_T: msgspec.UnsetType = msgspec.field(name="T", default=_UNSET)


class FuturesQuote(_SymEvent, tag="Q", kw_only=True):
    """``Q`` on a futures cluster: a futures quote, with per-side timestamps."""

    _time_attr: ClassVar[str] = "sip_timestamp"

    symbol: str | None = msgspec.field(name="sym", default=None)
    bid_price: float | None = msgspec.field(name="bp", default=None)
    bid_size: int | None = msgspec.field(name="bs", default=None)
    bid_timestamp: int | None = msgspec.field(name="bt", default=None)
    ask_price: float | None = msgspec.field(name="ap", default=None)
    ask_size: int | None = msgspec.field(name="as", default=None)
    ask_timestamp: int | None = msgspec.field(name="at", default=None)
    sip_timestamp: int | None = msgspec.field(name="t", default=None)
    _alt_T: msgspec.UnsetType = msgspec.field(name="T", default=_UNSET)


class FuturesAgg(_SymEvent, tag="A", kw_only=True):
    """``A`` on a futures cluster: a per-second futures aggregate. ``total_value`` is dollar volume."""

    _time_attr: ClassVar[str] = "start_timestamp"

    symbol: str | None = msgspec.field(name="sym", default=None)
    volume: int | None = msgspec.field(name="v", default=None)
    total_value: int | float | None = msgspec.field(name="dv", default=None)
    open: float | None = msgspec.field(name="o", default=None)
    close: float | None = msgspec.field(name="c", default=None)
    high: float | None = msgspec.field(name="h", default=None)
    low: float | None = msgspec.field(name="l", default=None)
    transactions: int | None = msgspec.field(name="n", default=None)
    start_timestamp: int | None = msgspec.field(name="s", default=None)
    end_timestamp: int | None = msgspec.field(name="e", default=None)
    _alt_T: msgspec.UnsetType = msgspec.field(name="T", default=_UNSET)

    @property
    def end_ns(self) -> int | None:
        """The bar's end in Unix nanoseconds, or ``None``."""
        return timestamp_to_ns(self.end_timestamp)


class FuturesAggMin(FuturesAgg, tag="AM", kw_only=True):
    """``AM`` on a futures cluster: a per-minute futures aggregate."""
