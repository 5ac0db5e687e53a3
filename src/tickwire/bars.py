"""Trade → bar aggregation (OHLC, volume, VWAP, trade count) over fixed, epoch-aligned intervals.

Theory of operation
-------------------
Each trade belongs to the bar ``[start, start + interval)`` that contains its time. A bar stays
*open* (updatable) until :meth:`BarAggregator.close_until` is told that the clock has passed its
end plus ``grace``; it is then returned once with ``final=True`` and forgotten. A trade for a bar
that has already been finalised is *late*: it is counted in :attr:`BarAggregator.late` and
ignored, never silently folded into a newer bar. So ``grace`` is how long a bar waits for
stragglers, and every trade that arrives within it updates the older bar it belongs to.

The figures are computed exactly as the simulator's ``A``/``AM`` bars (and Massive's): the VWAP's
dollar volume is the correctly rounded sum (``math.fsum``) of ``price * size`` per second, summed
again over the seconds of the bar; a bar of unsized prints (index values) averages prices the same
way. ``vwap_digits`` and ``volume_digits`` round like the simulator does (``decimals + 2`` for the
VWAP of an instrument quoted with ``decimals`` places; 8 places for fractional crypto volume).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable

import msgspec

__all__ = ["Bar", "BarAggregator"]

_NS = 1_000_000_000


class Bar(msgspec.Struct, kw_only=True, gc=False):
    """An aggregate over ``[start_ns, end_ns)``; ``final`` once no trade can change it any more."""

    symbol: str
    start_ns: int
    end_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float
    trades: int
    final: bool = False

    @property
    def start_ms(self) -> int:
        """The start in Unix milliseconds (the wire's ``s``)."""
        return self.start_ns // 1_000_000

    @property
    def end_ms(self) -> int:
        """The end in Unix milliseconds (the wire's ``e``)."""
        return self.end_ns // 1_000_000


class _Open:
    """The running state of one open bar."""

    __slots__ = (
        "close",
        "dollars",
        "first_ns",
        "high",
        "last_ns",
        "low",
        "open",
        "seconds",
        "trades",
        "volume",
    )

    def __init__(self, price: float, ts_ns: int) -> None:
        self.open = self.high = self.low = self.close = price
        self.first_ns = self.last_ns = ts_ns
        self.volume = 0.0
        self.dollars = 0.0  # running sum, for the interim VWAP
        self.trades = 0
        # per UTC second: [dollar products], [unsized prices] — for the exact final VWAP
        self.seconds: dict[int, tuple[list[float], list[float]]] = {}


class BarAggregator:
    """Aggregates trades of many symbols into bars of ``interval`` seconds (1 → ``A``, 60 → ``AM``).

    ``add`` returns the updated bar (not final) for live display; ``close_until`` and ``flush``
    return the finished bars. Not thread-safe: feed it from one task.
    """

    def __init__(
        self,
        interval: float = 60.0,
        *,
        grace: float = 0.0,
        vwap_digits: int | None = None,
        volume_digits: int | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive seconds, not {interval!r}")
        if grace < 0:
            raise ValueError(f"grace must be >= 0 seconds, not {grace!r}")
        self.interval_ns = round(interval * _NS)
        if self.interval_ns <= 0:
            raise ValueError(f"interval {interval!r} is shorter than a nanosecond")
        self.grace_ns = round(grace * _NS)
        self.vwap_digits = vwap_digits
        self.volume_digits = volume_digits
        self._open: dict[str, dict[int, _Open]] = {}
        self._heap: list[tuple[int, str, int]] = []  # (end_ns, symbol, start_ns) of open bars
        self._watermark = -(1 << 62)  # bars ending at or before this are final
        self.trades = 0
        """Trades accepted."""
        self.late = 0
        """Trades that arrived after their bar was finalised (ignored)."""
        self.finalised = 0
        """Bars returned with ``final=True``."""

    # ------------------------------------------------------------------ input

    def add(self, symbol: str, price: float, size: float, ts_ns: int) -> Bar | None:
        """Fold one trade in; the bar it updated, or ``None`` if its bar is already final (counted)."""
        interval = self.interval_ns
        start = ts_ns - ts_ns % interval
        end = start + interval
        if end <= self._watermark:
            self.late += 1
            return None
        bars = self._open.get(symbol)
        if bars is None:
            bars = self._open[symbol] = {}
        st = bars.get(start)
        if st is None:
            st = bars[start] = _Open(price, ts_ns)
            heapq.heappush(self._heap, (end, symbol, start))
        else:
            if ts_ns < st.first_ns:
                st.first_ns, st.open = ts_ns, price
            if ts_ns >= st.last_ns:
                st.last_ns, st.close = ts_ns, price
            if price > st.high:
                st.high = price
            elif price < st.low:
                st.low = price
        st.volume += size
        st.dollars += price * size
        st.trades += 1
        sec = ts_ns // _NS
        bucket = st.seconds.get(sec)
        if bucket is None:
            bucket = st.seconds[sec] = ([], [])
        if size:
            bucket[0].append(price * size)
        else:
            bucket[1].append(price)
        self.trades += 1
        return self._bar(symbol, start, st, final=False)

    def add_trade(self, event: object) -> Bar | None:
        """Fold in a trade event (``EquityTrade``, ``CryptoTrade``...); ``None`` if it lacks fields."""
        symbol = getattr(event, "symbol", None) or getattr(event, "pair", None)
        price = getattr(event, "price", None)
        ts_ns = getattr(event, "time_ns", None)
        if symbol is None or price is None or ts_ns is None:
            return None
        size = getattr(event, "size", None) or 0
        return self.add(symbol, float(price), float(size), ts_ns)

    def add_many(self, events: Iterable[object]) -> list[Bar]:
        """Fold in a batch of trade events; the bars they updated (latest state, each bar once)."""
        touched: dict[tuple[str, int], Bar] = {}
        for ev in events:
            bar = self.add_trade(ev)
            if bar is not None:
                touched[bar.symbol, bar.start_ns] = bar
        return list(touched.values())

    # ------------------------------------------------------------------ output

    def current(self, symbol: str) -> Bar | None:
        """The latest open bar of ``symbol`` (not final), or ``None``."""
        bars = self._open.get(symbol)
        if not bars:
            return None
        start = max(bars)
        return self._bar(symbol, start, bars[start], final=False)

    def open_bars(self) -> list[Bar]:
        """Every open bar, oldest first."""
        return [
            self._bar(sym, start, st, final=False)
            for _, sym, start in sorted(self._heap)
            if (st := self._open.get(sym, {}).get(start)) is not None
        ]

    def close_until(self, now_ns: int) -> list[Bar]:
        """Finalise the bars ending at or before ``now_ns - grace``; returned with ``final=True``."""
        limit = now_ns - self.grace_ns
        if limit > self._watermark:
            self._watermark = limit
        return self._pop_until(limit)

    def flush(self) -> list[Bar]:
        """Finalise every open bar (shutdown); trades for them afterwards count as late."""
        out = self._pop_until(1 << 62)
        if out:
            self._watermark = max(self._watermark, max(b.end_ns for b in out))
        return out

    def _pop_until(self, limit: int) -> list[Bar]:
        heap, opened = self._heap, self._open
        out: list[Bar] = []
        while heap and heap[0][0] <= limit:
            _, symbol, start = heapq.heappop(heap)
            bars = opened[symbol]
            st = bars.pop(start)
            if not bars:
                del opened[symbol]
            out.append(self._bar(symbol, start, st, final=True))
        self.finalised += len(out)
        return out

    def _bar(self, symbol: str, start: int, st: _Open, *, final: bool) -> Bar:
        volume = st.volume
        if self.volume_digits is not None:
            volume = round(volume, self.volume_digits)
        if final:
            vwap = self._exact_vwap(st, volume)
        elif volume:
            vwap = st.dollars / st.volume
        else:
            vwap = st.close
        if self.vwap_digits is not None:
            vwap = round(vwap, self.vwap_digits)
        return Bar(
            symbol=symbol,
            start_ns=start,
            end_ns=start + self.interval_ns,
            open=st.open,
            high=st.high,
            low=st.low,
            close=st.close,
            volume=volume,
            vwap=vwap,
            trades=st.trades,
            final=final,
        )

    def _exact_vwap(self, st: _Open, volume: float) -> float:
        """VWAP as the simulator computes it: per-second exact sums, merged; unrounded."""
        buckets = [st.seconds[s] for s in sorted(st.seconds)]
        if volume:
            return math.fsum(math.fsum(b[0]) for b in buckets) / volume
        digits = self.vwap_digits
        if len(buckets) == 1:
            prices = buckets[0][1]
            return math.fsum(prices) / len(prices) if prices else st.close
        # unsized prints (index values): per-second means (rounded like a streamed bar), weighted
        total, n = [], 0
        for _, prices in buckets:
            if prices:
                mean = math.fsum(prices) / len(prices)
                if digits is not None:
                    mean = round(mean, digits)
                total.append(mean * len(prices))
                n += len(prices)
        return math.fsum(total) / n if n else st.close
