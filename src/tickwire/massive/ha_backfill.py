"""The failover backfill of ``tickwire record --ha`` on Massive: bars and trades over REST.

A new HA leader (:mod:`tickwire.ha.recording`) fetches the window it may have missed: second and
minute bars for ``A.<SYM>``/``AM.<SYM>`` channels (``/v2/aggs``, as the reconnect gap filler of
:mod:`tickwire.massive.backfill` does) and trades for ``T.<SYM>`` channels (``/v3/trades``).
Wildcards are not backfilled (the symbols are unknown). Each REST row becomes the event the live
channel delivers (:class:`EquityAgg`, :class:`EquityAggMin`, :class:`EquityTrade`), so the rows in
NATS look like live ones. Trades are ordered by ``(time, sequence number)`` (several share a
millisecond) and published at their sequence number; bars by their start.
"""

from __future__ import annotations

from collections.abc import Sequence

from tickwire.credentials import Secret
from tickwire.events import Event
from tickwire.ha.backfill import Backfill
from tickwire.massive.backfill import fetch_bars, rest_bar
from tickwire.massive.models import EquityAgg, EquityTrade
from tickwire.massive.rest.client import DEFAULT_BASE_URL, AsyncRestClient
from tickwire.massive.rest.models import Trade

__all__ = ["massive_ha_backfill", "rest_trade"]

_BAR_MARKETS = ("stocks", "options", "indices")
_TRADE_MARKETS = ("stocks", "options")


def rest_trade(symbol: str, row: Trade) -> EquityTrade:
    """One ``/v3/trades`` row as the stream's ``T`` event (times from ns to the stream's ms)."""
    size = row.size
    whole = size is not None and float(size).is_integer()
    return EquityTrade(
        symbol=symbol,
        exchange=row.exchange,
        id=row.id,
        tape=row.tape,
        price=row.price,
        size=int(size) if size is not None and whole else None,
        fractional_shares=row.decimal_size if row.decimal_size is not None or whole else str(size),
        conditions=row.conditions or None,
        timestamp=row.sip_timestamp // 1_000_000 if row.sip_timestamp is not None else None,
        sequence_number=row.sequence_number,
        trf_id=row.trf_id,
        trf_timestamp=row.trf_timestamp // 1_000_000 if row.trf_timestamp is not None else None,
    )


def _key(ev: Event) -> tuple[int, ...] | None:
    if type(ev) is EquityTrade:
        if ev.timestamp is None or ev.sequence_number is None:
            return None
        return (ev.timestamp, ev.sequence_number)
    if isinstance(ev, EquityAgg) and ev.start_timestamp is not None:
        return (ev.start_timestamp,)
    return None


def _position(ev: Event) -> int:
    if type(ev) is EquityTrade:
        return ev.sequence_number or 0
    return ev.start_timestamp or 0 if isinstance(ev, EquityAgg) else 0


def massive_ha_backfill(
    market: str, channels: Sequence[str], rest_url: str | None, api_key: str | None
) -> Backfill | None:
    """The failover backfill of the ``A``/``AM``/``T`` channels naming a symbol, or None when
    there are none to fetch in ``market``."""
    bars: list[tuple[str, str]] = []
    trades: list[str] = []
    for ch in channels:
        kind, _, sym = ch.partition(".")
        if not sym or sym == "*":
            continue
        if kind in ("A", "AM") and market in _BAR_MARKETS:
            bars.append((kind, sym))
        elif kind == "T" and market in _TRADE_MARKETS:
            trades.append(sym)
    if not bars and not trades:
        return None
    key = Secret(api_key or "")
    base = rest_url or DEFAULT_BASE_URL

    async def fetch(from_ms: int, to_ms: int) -> list[Event]:
        out: list[Event] = []
        async with AsyncRestClient(key, base_url=base, dotenv_path=None, max_retries=2) as rest:
            for kind, sym in bars:
                span = 1_000 if kind == "A" else 60_000
                for row in await fetch_bars(rest, kind, sym, from_ms // span * span, to_ms):
                    if row.timestamp is not None and row.timestamp + span <= to_ms:  # complete bars
                        out.append(rest_bar(kind, sym, row))
            for sym in trades:
                lo, hi = from_ms * 1_000_000, to_ms * 1_000_000
                async for t in rest.list_trades(sym, timestamp_gte=lo, timestamp_lt=hi):
                    out.append(rest_trade(sym, t))
        return out

    return Backfill(fetch=fetch, key=_key, position=_position)
