"""The REST wire format: msgspec Structs for the Massive (Polygon.io) REST responses we read.

Attribute names follow the official ``massive`` client (``Agg.open``, ``Trade.sip_timestamp``...);
the wire names (``o``, ``h``, ``t``...) are mapped with ``msgspec.field(name=...)``, so a page
is decoded straight into typed objects. Unknown fields are ignored; every field is optional,
as in the official client, because the service omits what it does not know. Class names are the
official client's too (a test checks classes and fields against the installed ``massive``);
``PreviousClose``, ``SnapshotBar`` and ``Snapshot``, tickwire's earlier names, remain as aliases.
"""

from __future__ import annotations

import warnings

import msgspec

__all__ = [
    "Agg",
    "AggsPage",
    "ErrorBody",
    "LastQuote",
    "LastTrade",
    "MinuteSnapshot",
    "PreviousClose",
    "PreviousCloseAgg",
    "PreviousClosePage",
    "Snapshot",
    "SnapshotBar",
    "SnapshotPage",
    "TickerSnapshot",
    "Trade",
    "TradesPage",
]


class Agg(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """One aggregate bar of ``/v2/aggs/ticker/.../range/...``; ``timestamp`` is the bar's start (Unix ms)."""

    open: float | None = msgspec.field(name="o", default=None)
    high: float | None = msgspec.field(name="h", default=None)
    low: float | None = msgspec.field(name="l", default=None)
    close: float | None = msgspec.field(name="c", default=None)
    volume: float | None = msgspec.field(name="v", default=None)
    vwap: float | None = msgspec.field(name="vw", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    transactions: int | None = msgspec.field(name="n", default=None)
    otc: bool | None = None


class Trade(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """One trade of ``/v3/trades/{ticker}``; timestamps are Unix nanoseconds."""

    sip_timestamp: int | None = None
    participant_timestamp: int | None = None
    price: float | None = None
    size: float | None = None
    exchange: int | None = None
    conditions: list[int] | None = None
    id: str | None = None
    sequence_number: int | None = None
    tape: int | None = None
    trf_id: int | None = None
    trf_timestamp: int | None = None
    correction: int | None = None
    decimal_size: str | None = None


class PreviousCloseAgg(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """The previous trading day's bar (``/v2/aggs/ticker/{ticker}/prev``)."""

    ticker: str | None = msgspec.field(name="T", default=None)
    open: float | None = msgspec.field(name="o", default=None)
    high: float | None = msgspec.field(name="h", default=None)
    low: float | None = msgspec.field(name="l", default=None)
    close: float | None = msgspec.field(name="c", default=None)
    volume: float | None = msgspec.field(name="v", default=None)
    vwap: float | None = msgspec.field(name="vw", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    transactions: int | None = msgspec.field(name="n", default=None)


class MinuteSnapshot(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """The ``day``, ``prevDay`` and ``min`` bars of a ticker snapshot."""

    open: float | None = msgspec.field(name="o", default=None)
    high: float | None = msgspec.field(name="h", default=None)
    low: float | None = msgspec.field(name="l", default=None)
    close: float | None = msgspec.field(name="c", default=None)
    volume: float | None = msgspec.field(name="v", default=None)
    vwap: float | None = msgspec.field(name="vw", default=None)
    accumulated_volume: float | None = msgspec.field(name="av", default=None)
    timestamp: int | None = msgspec.field(name="t", default=None)
    transactions: int | None = msgspec.field(name="n", default=None)


class LastTrade(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """The last trade of a snapshot (``t`` in Unix ns)."""

    price: float | None = msgspec.field(name="p", default=None)
    size: float | None = msgspec.field(name="s", default=None)
    exchange: int | None = msgspec.field(name="x", default=None)
    conditions: list[int] | None = msgspec.field(name="c", default=None)
    id: str | None = msgspec.field(name="i", default=None)
    sip_timestamp: int | None = msgspec.field(name="t", default=None)

    @property
    def timestamp(self) -> int | None:
        """Deprecated: ``sip_timestamp`` (the official client's name)."""
        return _deprecated_timestamp(self.sip_timestamp)


class LastQuote(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """The last NBBO quote of a snapshot (``t`` in Unix ns)."""

    bid_price: float | None = msgspec.field(name="p", default=None)
    bid_size: float | None = msgspec.field(name="s", default=None)
    ask_price: float | None = msgspec.field(name="P", default=None)
    ask_size: float | None = msgspec.field(name="S", default=None)
    sip_timestamp: int | None = msgspec.field(name="t", default=None)

    @property
    def timestamp(self) -> int | None:
        """Deprecated: ``sip_timestamp`` (the official client's name)."""
        return _deprecated_timestamp(self.sip_timestamp)


class TickerSnapshot(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """A ticker snapshot (``/v2/snapshot/locale/us/markets/{market}/tickers/{ticker}``) for dashboards."""

    ticker: str | None = None
    todays_change: float | None = msgspec.field(name="todaysChange", default=None)
    todays_change_percent: float | None = msgspec.field(name="todaysChangePerc", default=None)
    updated: int | None = None
    day: MinuteSnapshot | None = None
    min: MinuteSnapshot | None = None
    prev_day: MinuteSnapshot | None = msgspec.field(name="prevDay", default=None)
    last_trade: LastTrade | None = msgspec.field(name="lastTrade", default=None)
    last_quote: LastQuote | None = msgspec.field(name="lastQuote", default=None)


PreviousClose = PreviousCloseAgg
"""Deprecated alias of :class:`PreviousCloseAgg`."""
SnapshotBar = MinuteSnapshot
"""Deprecated alias of :class:`MinuteSnapshot`."""
Snapshot = TickerSnapshot
"""Deprecated alias of :class:`TickerSnapshot`."""


def _deprecated_timestamp(value: int | None) -> int | None:
    warnings.warn("timestamp is deprecated: use sip_timestamp", DeprecationWarning, stacklevel=3)
    return value


class _Envelope(msgspec.Struct, kw_only=True, gc=False):
    status: str | None = None
    request_id: str | None = None
    next_url: str | None = None


class AggsPage(_Envelope, kw_only=True, gc=False):
    """A page of aggregates; ``results`` is absent when the range has no bars."""

    ticker: str | None = None
    results: list[Agg] | None = None


class TradesPage(_Envelope, kw_only=True, gc=False):
    results: list[Trade] | None = None


class PreviousClosePage(_Envelope, kw_only=True, gc=False):
    results: list[PreviousCloseAgg] | None = None


class SnapshotPage(_Envelope, kw_only=True, gc=False):
    ticker: TickerSnapshot | None = None


class ErrorBody(msgspec.Struct, kw_only=True, gc=False):
    """An error reply: ``{"status":"ERROR","error":...}`` or ``{"status":"NOT_AUTHORIZED","message":...}``."""

    status: str | None = None
    error: str | None = None
    message: str | None = None
    request_id: str | None = None
