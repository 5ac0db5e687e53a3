"""A deterministic, seeded market: any window of any ticker can be regenerated at any time.

Theory of operation
-------------------
Everything the model says about a ticker in a UTC second is a pure function of
``(seed, ticker, second)`` and the model's configuration (:class:`Rates`, the instrument), built
top-down from three cached layers, each drawn from its own seeded RNG:

* the **day plan** (one per ticker per UTC day): a per-minute anchor walk (geometric random walk,
  bridged from this day's opening level to the next day's, so the price path is continuous across
  midnight), the number of prints and the volume (in lots) of every minute, and their running
  sums. Prints follow the cluster's trading sessions (:mod:`tickwire.sim.calendar`: US equity
  pre-market, regular and after-hours sessions with a U-shaped volume, NYSE holidays, 24/5 forex,
  24/7 crypto): a closed minute has none, and the level moves less while closed. It is cheap (a
  few thousand draws), which is what makes the day fields exact: ``av`` (day volume) is a prefix
  sum of planned minute volumes, not a replay of the day;
* the **minute plan**: a Brownian bridge between two anchors gives the level of each second,
  and the minute's prints and lots are split over its seconds;
* the **second**: its prints (trades; index values; forex quotes) with millisecond times, prices
  around the level (bid/ask bounce), sizes that partition the planned lots exactly, exchanges,
  conditions, sequence numbers. Quotes and the other feeds (LULD, NOI, FMV, LV, L2) of a second
  come from further RNGs of their own, so asking for trades never changes them.

Bars are computed from exactly those prints (second bars from a second, minute bars by merging
second bars), only for intervals that have prints, so a bar served later by a REST endpoint
equals the bar that was streamed. The day VWAP ``a`` uses the planned per-second levels as the
price of each planned lot (within the bid/ask bounce of the true day VWAP, and exactly
reproducible); ``op`` is the day's opening level.

All times are Unix milliseconds unless a name says otherwise.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from itertools import accumulate
from typing import Generic, Literal, TypeVar

import msgspec

from tickwire.sim.calendar import minute_factors, profile_of
from tickwire.sim.instruments import Instrument, Universe, default_universe

__all__ = [
    "Band",
    "Bar",
    "Book",
    "Imbalance",
    "MarketModel",
    "Quote",
    "Rates",
    "Trade",
    "Value",
    "window_seconds",
]

SECOND_MS = 1_000
MINUTE_MS = 60_000
DAY_MS = 86_400_000
_MINUTES = 1_440
_SEQ_PER_SECOND = 1_000_000
_MASK = (1 << 64) - 1

# RNG stream tags: each layer and each feed draws from its own stream.
_DAY, _MINUTE, _SECOND, _QUOTES, _LULD, _NOI, _FMV, _LV, _L2, _OPEN = range(1, 11)
_CLOSED_VOLATILITY = 0.25
"""How much the level moves in a closed minute, relative to an open one (overnight drift)."""
_ALWAYS = (1.0,) * _MINUTES

# (exchange id, weight): FINRA TRF, Nasdaq, Arca, NYSE, EDGX, BZX, IEX, MEMX, EDGA, PSX
_STOCK_VENUES = ((4, 35), (12, 15), (11, 10), (10, 8), (8, 6), (19, 6), (15, 5), (21, 5), (7, 3), (17, 2))
_STOCK_QUOTE_VENUES = (12, 11, 10, 8, 19, 15, 21, 7, 17, 18, 2, 3, 9)
_OPTION_VENUES = (300, 301, 302, 303, 304, 307, 308, 309, 312, 313, 316, 322, 323, 325)
_CRYPTO_VENUES = ((1, 40), (2, 15), (6, 15), (23, 30))
_FOREX_VENUE = 48
_TRF_IDS = (201, 202, 203)
_STOCK_VENUE_IDS = tuple(v for v, _ in _STOCK_VENUES)
_CRYPTO_VENUE_IDS = tuple(v for v, _ in _CRYPTO_VENUES)
_ODD_LOT, _ISO, _FORM_T, _AUTO_ELECTRONIC = (37,), (14, 41), (12,), (209,)
_SELL, _BUY = (1,), (2,)

try:
    from zoneinfo import ZoneInfo

    _ET: timezone | ZoneInfo = ZoneInfo("America/New_York")
except Exception:  # pragma: no cover - tzdata missing
    _ET = timezone(timedelta(hours=-5))


@dataclass(frozen=True, slots=True)
class Rates:
    """How busy the market is. Per-ticker figures are scaled by the instrument's ``activity``."""

    trades_per_second: float = 2.0
    """Mean trades per second per ticker (stocks, options, crypto, futures)."""
    quotes_per_trade: float = 2.0
    """Mean quotes per trade (Q, XQ)."""
    forex_quotes_per_second: float = 2.0
    """Mean forex quotes (C) per second per pair; forex bars count these."""
    index_values_per_second: float = 1.0
    """Mean index values (V) per second per index."""
    luld_interval: int = 60
    """Seconds between LULD band messages per ticker."""
    noi_interval: int = 30
    """Seconds between imbalance (NOI) messages per ticker."""


class Trade(msgspec.Struct, frozen=True, gc=False):
    """A print: a trade, an index value (``size`` 0) or, for forex, the bid of a quote (``size`` 1)."""

    ticker: str
    timestamp: int
    price: float
    size: float
    exchange: int = 0
    conditions: tuple[int, ...] = ()
    sequence: int = 0
    trade_id: int = 0
    tape: int = 0
    trf_id: int = 0
    trf_timestamp: int = 0
    received: int = 0


class Quote(msgspec.Struct, frozen=True, gc=False):
    """A top-of-book quote (NBBO for stocks; sizes in round lots for stocks, as on the wire)."""

    ticker: str
    timestamp: int
    bid_price: float
    bid_size: float
    ask_price: float
    ask_size: float
    bid_exchange: int = 0
    ask_exchange: int = 0
    sequence: int = 0
    tape: int = 0
    received: int = 0


class Bar(msgspec.Struct, frozen=True, gc=False):
    """An aggregate over ``[start, end)`` computed from the prints in it.

    ``day_volume`` (``av``), ``day_vwap`` (``a``) and ``official_open`` (``op``) are the day fields
    as of the bar's end.
    """

    ticker: str
    start: int
    end: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float
    transactions: int
    dollar_volume: float
    day_volume: float = 0
    day_vwap: float = 0.0
    official_open: float = 0.0

    @property
    def average_size(self) -> int:
        """Average print size, as the wire's ``z``."""
        return int(self.volume // self.transactions) if self.transactions else 0


class Band(msgspec.Struct, frozen=True, gc=False):
    """A Limit Up-Limit Down band."""

    ticker: str
    timestamp: int
    high: float
    low: float
    sequence: int
    tape: int


class Imbalance(msgspec.Struct, frozen=True, gc=False):
    """A net order imbalance (NOI) ahead of an auction."""

    ticker: str
    timestamp: int
    auction_time: int
    auction_type: str
    sequence: int
    exchange: int
    imbalance: int
    paired: int
    clearing_price: float


class Value(msgspec.Struct, frozen=True, gc=False):
    """A single value at a time: fair market value (FMV) or launchpad value (LV)."""

    ticker: str
    timestamp: int
    value: float


class Book(msgspec.Struct, frozen=True, gc=False):
    """A level-2 book snapshot: ``[price, size]`` levels, best first."""

    ticker: str
    timestamp: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    exchange: int
    received: int


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Cache(Generic[K, V]):
    """A bounded insertion-ordered cache: the oldest entries go first.

    Bounded by entry count and by total ``weight`` (e.g. the number of prints held), so a busy
    market cannot make it grow without limit.
    """

    __slots__ = ("_data", "_max", "_max_weight", "_weight")

    def __init__(self, maxsize: int, max_weight: int | None = None) -> None:
        self._data: dict[K, tuple[V, int]] = {}
        self._max = maxsize
        self._max_weight = max_weight
        self._weight = 0

    def get(self, key: K) -> V | None:
        got = self._data.get(key)
        return None if got is None else got[0]

    def put(self, key: K, value: V, weight: int = 1) -> V:
        data = self._data
        limit = self._max_weight
        while data and (len(data) >= self._max or (limit is not None and self._weight + weight > limit)):
            try:
                _, old_weight = data.pop(next(iter(data)))
            except (RuntimeError, StopIteration, KeyError):  # resized by another thread meanwhile
                break
            self._weight -= old_weight
        data[key] = (value, weight)
        self._weight += weight
        return value


@dataclass(slots=True)
class _DayPlan:
    anchors: list[float]  # level at the start of each minute (1441 values)
    counts: list[int]  # prints per minute
    lots: list[int]  # volume per minute, in lots
    cum_lots: list[int]  # lots before each minute (1441 values)
    cum_dollar: list[float]  # planned dollar volume before each minute (1441 values)
    official_open: float


@dataclass(slots=True)
class _MinutePlan:
    levels: list[float]  # level of each second
    counts: list[int]
    lots: list[int]
    cum_lots: list[int]  # 61 values
    cum_dollar: list[float]  # 61 values


@dataclass(slots=True)
class _Second:
    times: list[int]
    prints: list[Trade]
    quotes: list[Quote] | None  # forex: the quotes the prints come from


_EMPTY_TIMES: list[int] = []


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0.0:
        return 0
    if lam < 30.0:
        limit = math.exp(-lam)
        k, p = 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    wsum = sum(weights)
    if total <= 0 or wsum <= 0.0:
        return [0] * len(weights)
    raw = [w * total / wsum for w in weights]
    out = [int(r) for r in raw]
    rest = total - sum(out)
    if rest > 0:
        order = sorted(range(len(raw)), key=lambda i: out[i] - raw[i])
        for i in order[:rest]:
            out[i] += 1
    return out


def _partition(total: int, parts: int, rng: random.Random) -> list[int]:
    """Split ``total`` into ``parts`` positive integers with random weights (``parts <= total``)."""
    if parts <= 1:
        return [total] if parts == 1 else []
    extra = total - parts
    if extra == 0:
        return [1] * parts
    rand = rng.random
    weights = [rand() ** 2 for _ in range(parts)]
    scale = extra / sum(weights)
    out = [1 + int(w * scale) for w in weights]
    out[int(rand() * parts)] += total - sum(out)
    return out


class MarketModel:
    """The deterministic market. Same ``seed``, ``rates`` and universe → same data, forever.

    The public window functions (:meth:`trades`, :meth:`quotes`, :meth:`bars`, ...) take a cluster,
    a ticker and a half-open window ``[start_ms, end_ms)``. The per-second functions are what the
    streaming server uses. Not thread-safe for concurrent writers; build a second model with the
    same seed to compute the same data elsewhere. ``cache_prints`` bounds the prints (and quotes)
    kept in memory; anything evicted is simply regenerated, identically, when asked for again.
    ``sessions=False`` trades every cluster around the clock at a flat rate (no calendar).
    """

    def __init__(
        self,
        seed: int = 0,
        rates: Rates | None = None,
        universe: Universe | None = None,
        *,
        cache_prints: int = 400_000,
        sessions: bool = True,
    ) -> None:
        self.seed = seed
        self.sessions = sessions
        self.rates = rates if rates is not None else Rates()
        self.universe = universe if universe is not None else default_universe()
        self._days: _Cache[tuple[str, str, int], _DayPlan] = _Cache(max(64, 4 * len(self.universe)))
        self._minutes: _Cache[tuple[str, str, int], _MinutePlan] = _Cache(4_096)
        self._seconds: _Cache[tuple[str, str, int], _Second] = _Cache(20_000, cache_prints)
        self._quotes: _Cache[tuple[str, str, int], tuple[list[int], list[Quote]]] = _Cache(
            20_000, cache_prints
        )
        self._second_bars: _Cache[tuple[str, str, int], tuple[Bar | None]] = _Cache(50_000)
        self._minute_bars: _Cache[tuple[str, str, int], tuple[Bar | None]] = _Cache(20_000)
        self._stock_venue_cum = list(accumulate(w for _, w in _STOCK_VENUES))
        self._crypto_venue_cum = list(accumulate(w for _, w in _CRYPTO_VENUES))

    # ------------------------------------------------------------------ public window API

    def instrument(self, cluster: str, ticker: str) -> Instrument:
        """The instrument for ``ticker`` in ``cluster``; ``KeyError`` if the universe lacks it."""
        inst = self.universe.get(_family(cluster), ticker)
        if inst is None:
            raise KeyError(f"{ticker!r} is not a simulated {cluster} ticker")
        return inst

    def trades(self, cluster: str, ticker: str, start_ms: int, end_ms: int) -> list[Trade]:
        """The prints in ``[start_ms, end_ms)``: trades; index values; forex quote bids."""
        inst = self.instrument(cluster, ticker)
        out: list[Trade] = []
        for second in range(start_ms // SECOND_MS, -(-end_ms // SECOND_MS)):
            sec = self.second(inst, second)
            out.extend(sec.prints[bisect_left(sec.times, start_ms) : bisect_left(sec.times, end_ms)])
        return out

    def quotes(self, cluster: str, ticker: str, start_ms: int, end_ms: int) -> list[Quote]:
        """The quotes in ``[start_ms, end_ms)`` (Q, XQ, futures Q, forex C)."""
        inst = self.instrument(cluster, ticker)
        out: list[Quote] = []
        for second in range(start_ms // SECOND_MS, -(-end_ms // SECOND_MS)):
            times, quotes = self.second_quotes(inst, second)
            out.extend(quotes[bisect_left(times, start_ms) : bisect_left(times, end_ms)])
        return out

    def bars(
        self,
        cluster: str,
        ticker: str,
        start_ms: int,
        end_ms: int,
        span: Literal["second", "minute"] = "minute",
    ) -> list[Bar]:
        """The bars starting in ``[start_ms, end_ms)``; intervals without prints have no bar."""
        inst = self.instrument(cluster, ticker)
        out: list[Bar] = []
        if span == "second":
            for second in range(-(-start_ms // SECOND_MS), -(-end_ms // SECOND_MS)):
                bar = self.second_bar(inst, second)
                if bar is not None:
                    out.append(bar)
        elif span == "minute":
            for minute in range(-(-start_ms // MINUTE_MS), -(-end_ms // MINUTE_MS)):
                mbar = self.minute_bar(inst, minute)
                if mbar is not None:
                    out.append(mbar)
        else:
            raise ValueError(f"span must be 'second' or 'minute', not {span!r}")
        return out

    # ------------------------------------------------------------------ per-second building blocks

    def second(self, inst: Instrument, second: int) -> _Second:
        """The prints of one UTC second (cached), with their times."""
        key = (inst.cluster, inst.ticker, second)
        sec = self._seconds.get(key)
        if sec is None:
            sec = self._make_second(inst, second)
            self._seconds.put(key, sec, 1 + len(sec.prints))
        return sec

    def second_bar(self, inst: Instrument, second: int) -> Bar | None:
        """The bar of one second (``A``/``XAS``/``CAS``), ``None`` without prints."""
        key = (inst.cluster, inst.ticker, second)
        cached = self._second_bars.get(key)
        if cached is not None:
            return cached[0]
        prints = self.second(inst, second).prints
        bar = (
            self._bar_of_second(inst, second, prints, self._minute_plan(inst, second // 60))
            if prints
            else None
        )
        self._second_bars.put(key, (bar,))
        return bar

    def minute_bar(self, inst: Instrument, minute: int) -> Bar | None:
        """The bar of one minute (``AM``/``XA``/``CA``), merged from its second bars."""
        key = (inst.cluster, inst.ticker, minute)
        cached = self._minute_bars.get(key)
        if cached is not None:
            return cached[0]
        first = minute * 60
        bars = [b for s in range(first, first + 60) if (b := self.second_bar(inst, s)) is not None]
        bar = self._merge(inst, bars, minute * MINUTE_MS, (minute + 1) * MINUTE_MS) if bars else None
        self._minute_bars.put(key, (bar,))
        return bar

    def second_quotes(self, inst: Instrument, second: int) -> tuple[list[int], list[Quote]]:
        """The quotes of one second and their times (forex: the quotes behind the prints)."""
        if inst.cluster == "forex":
            sec = self.second(inst, second)
            return sec.times, sec.quotes or []
        if inst.cluster == "indices":
            return _EMPTY_TIMES, []
        key = (inst.cluster, inst.ticker, second)
        got = self._quotes.get(key)
        if got is None:
            got = self._make_quotes(inst, second)
            self._quotes.put(key, got, 1 + len(got[1]))
        return got

    def level(self, inst: Instrument, second: int) -> float:
        """The model's price level (mid) during a second."""
        return self._minute_plan(inst, second // 60).levels[second % 60]

    def factor(self, inst: Instrument, second: int) -> float:
        """How busy the instrument's market is in this second (0: closed; 1: a regular session's mean)."""
        return self._factors(inst, second // 86_400)[second // 60 % _MINUTES]

    def _factors(self, inst: Instrument, day: int) -> tuple[float, ...]:
        return minute_factors(profile_of(inst.cluster), day) if self.sessions else _ALWAYS

    def luld(self, inst: Instrument, second: int) -> Band | None:
        """The LULD band published in this second, if any (every ``rates.luld_interval`` s per ticker,
        while the market is open)."""
        interval = max(1, self.rates.luld_interval)
        if (second + inst.key) % interval or not self.factor(inst, second):
            return None
        ref = self.level(inst, second)
        pct = 0.05 if ref >= 3.0 else 0.20
        t = second * SECOND_MS + inst.key % 997
        return Band(
            inst.ticker,
            t,
            round(ref * (1 + pct), 2),
            round(max(0.01, ref * (1 - pct)), 2),
            (second % 86_400) * _SEQ_PER_SECOND + _SEQ_PER_SECOND - 1,
            inst.tape,
        )

    def imbalance(self, inst: Instrument, second: int) -> Imbalance | None:
        """The imbalance message published in this second, if any (every ``rates.noi_interval`` s,
        while the market is open)."""
        interval = max(1, self.rates.noi_interval)
        if (second + inst.key // 7) % interval or not self.factor(inst, second):
            return None
        rng = self._rng(inst, _NOI, second)
        et = datetime.fromtimestamp(second, tz=UTC).astimezone(_ET)
        hhmm = et.hour * 100 + et.minute
        auction_time, auction_type = (1600, "C") if 930 <= hhmm < 1600 else (930, "O")
        level = self.level(inst, second)
        return Imbalance(
            inst.ticker,
            second * SECOND_MS + rng.randrange(1000),
            auction_time,
            auction_type,
            (second % 86_400) * 10 + rng.randrange(10),
            inst.listing_exchange or 12,
            rng.randrange(1, 500) * 100,
            rng.randrange(1, 5000) * 100,
            round(level * (1 + rng.uniform(-0.002, 0.002)), 2),
        )

    def fair_value(self, inst: Instrument, second: int) -> Value:
        """The fair market value (FMV) published once per second."""
        rng = self._rng(inst, _FMV, second)
        value = self.level(inst, second) * (1 + rng.gauss(0, inst.volatility / 20))
        return Value(inst.prefixed, second * SECOND_MS + rng.randrange(1000), round(value, inst.decimals + 2))

    def launchpad_value(self, inst: Instrument, second: int) -> Value:
        """The launchpad value (LV) published once per second."""
        rng = self._rng(inst, _LV, second)
        value = self.level(inst, second) * (1 + rng.gauss(0, inst.volatility / 20))
        return Value(inst.prefixed, second * SECOND_MS + rng.randrange(1000), round(value, inst.decimals + 2))

    def book(self, inst: Instrument, second: int, depth: int = 10) -> Book:
        """A crypto level-2 snapshot (XL2) published once per second."""
        rng = self._rng(inst, _L2, second)
        mid = round(self.level(inst, second) / inst.tick)
        h = max(1, inst.half_spread)
        scale = inst.size_scale
        mean = inst.mean_lots

        def side(sign: int) -> list[tuple[float, float]]:
            return [
                (
                    round((mid + sign * (h + i)) * inst.tick, inst.decimals),
                    round(rng.uniform(0.1, 3.0) * mean * (1 + i / 4) / scale, 8),
                )
                for i in range(depth)
            ]

        t = second * SECOND_MS + rng.randrange(1000)
        exchange = _CRYPTO_VENUES[rng.randrange(len(_CRYPTO_VENUES))][0]
        return Book(inst.ticker, t, side(-1), side(1), exchange, t + rng.randrange(1, 40))

    # ------------------------------------------------------------------ plans

    def _rng(self, inst: Instrument, tag: int, n: int) -> random.Random:
        x = _splitmix((self.seed & _MASK) ^ inst.key)
        x = _splitmix(x ^ tag)
        return random.Random(_splitmix(x ^ (n & _MASK)))

    def _rate(self, inst: Instrument) -> float:
        r = self.rates
        if inst.cluster == "forex":
            base = r.forex_quotes_per_second
        elif inst.cluster == "indices":
            base = r.index_values_per_second
        else:
            base = r.trades_per_second
        return base * inst.activity

    def _opening_level(self, inst: Instrument, day: int) -> float:
        """The level at 00:00 UTC of ``day``: around the instrument's price, drawn per day, so each day
        plan can bridge to the next one's without computing it."""
        return inst.price * math.exp(self._rng(inst, _OPEN, day).gauss(0.0, 0.02))

    def _day_plan(self, inst: Instrument, day: int) -> _DayPlan:
        key = (inst.cluster, inst.ticker, day)
        plan = self._days.get(key)
        if plan is not None:
            return plan
        rng = self._rng(inst, _DAY, day)
        gauss, lognorm = rng.gauss, rng.lognormvariate
        factors = self._factors(inst, day)
        counts: list[int] = []
        lots: list[int] = []
        steps: list[float] = []
        lam = self._rate(inst) * 60.0
        sigma = inst.volatility
        extra_lots = max(inst.mean_lots - 1.0, 0.0)
        per_print = inst.cluster == "forex"
        for m in range(_MINUTES):
            f = factors[m]
            steps.append(gauss(0.0, sigma if f else sigma * _CLOSED_VOLATILITY))
            n = _poisson(rng, lam * f * lognorm(0.0, 0.35))
            counts.append(n)
            if not inst.sized:
                lots.append(0)
            elif per_print or n == 0:
                lots.append(n)
            else:
                lots.append(n + round(n * extra_lots * lognorm(-0.08, 0.4)))
        # a geometric walk bridged from this day's opening level to the next day's: continuous
        x0 = math.log(self._opening_level(inst, day))
        x1 = math.log(self._opening_level(inst, day + 1))
        walk = [0.0, *accumulate(steps)]
        pull = (x1 - x0 - walk[-1]) / _MINUTES
        anchors = [math.exp(x0 + w + pull * m) for m, w in enumerate(walk)]
        unit = inst.lot / inst.size_scale
        cum_lots = [0, *accumulate(lots)]
        dollars = (lots[m] * unit * (anchors[m] + anchors[m + 1]) / 2 for m in range(_MINUTES))
        cum_dollar = [0.0, *accumulate(dollars)]
        first = next((m for m, f in enumerate(factors) if f >= 0.5), 0)  # the regular session's open
        official_open = round(round(anchors[first] / inst.tick) * inst.tick, inst.decimals)
        return self._days.put(key, _DayPlan(anchors, counts, lots, cum_lots, cum_dollar, official_open))

    def _minute_plan(self, inst: Instrument, minute: int) -> _MinutePlan:
        key = (inst.cluster, inst.ticker, minute)
        plan = self._minutes.get(key)
        if plan is not None:
            return plan
        day, m = divmod(minute, _MINUTES)
        dp = self._day_plan(inst, day)
        rng = self._rng(inst, _MINUTE, minute)
        x0, x1 = math.log(dp.anchors[m]), math.log(dp.anchors[m + 1])
        step = inst.volatility / math.sqrt(60.0)
        gauss = rng.gauss
        walk = [0.0, *accumulate(gauss(0.0, step) for _ in range(60))]
        end = walk[60]
        drift = x1 - x0
        levels = [math.exp(x0 + (drift - end) * k / 60.0 + walk[k]) for k in range(60)]
        counts = _allocate(dp.counts[m], [rng.expovariate(1.0) for _ in range(60)])
        total_lots, total_prints = dp.lots[m], dp.counts[m]
        if total_lots > total_prints:
            lognorm = rng.lognormvariate
            extra = _allocate(total_lots - total_prints, [c * lognorm(0.0, 0.5) for c in counts])
            lots = [c + e for c, e in zip(counts, extra, strict=True)]
        elif total_lots:
            lots = list(counts)
        else:
            lots = [0] * 60
        unit = inst.lot / inst.size_scale
        cum_lots = [0, *accumulate(lots)]
        cum_dollar = [0.0, *accumulate(lots[k] * unit * levels[k] for k in range(60))]
        return self._minutes.put(key, _MinutePlan(levels, counts, lots, cum_lots, cum_dollar))

    # ------------------------------------------------------------------ seconds

    def _make_second(self, inst: Instrument, second: int) -> _Second:
        minute, k = divmod(second, 60)
        mp = self._minute_plan(inst, minute)
        n = mp.counts[k]
        if n == 0:
            return _Second(_EMPTY_TIMES, [], [] if inst.cluster == "forex" else None)
        rng = self._rng(inst, _SECOND, second)
        tick, decimals = inst.tick, inst.decimals
        mid = max(round(mp.levels[k] / tick), inst.half_spread + 1)
        h = inst.half_spread
        t0 = second * SECOND_MS
        times = sorted(t0 + int(rng.random() * 1000) for _ in range(n))
        seq0 = (second % 86_400) * _SEQ_PER_SECOND
        quotes: list[Quote] | None = None
        cluster = inst.cluster
        prints: list[Trade]
        if cluster == "indices":
            prints = [
                Trade(
                    inst.ticker, t, round((mid + rng.randint(-1, 1)) * tick, decimals), 0, sequence=seq0 + i
                )
                for i, t in enumerate(times)
            ]
        elif cluster == "forex":
            quotes = []
            prints = []
            for i, t in enumerate(times):
                m = mid + rng.randint(-1, 1)
                bid = round((m - h) * tick, decimals)
                ask = round((m + h + rng.randint(0, 1)) * tick, decimals)
                quotes.append(Quote(inst.ticker, t, bid, 0, ask, 0, _FOREX_VENUE, _FOREX_VENUE, seq0 + i))
                prints.append(Trade(inst.ticker, t, bid, 1, _FOREX_VENUE, sequence=seq0 + i))
        else:
            prints = self._make_trades(inst, rng, second, times, mid, _partition(mp.lots[k], n, rng))
            times = [p.timestamp for p in prints]
        return _Second(times, prints, quotes)

    @staticmethod
    def _price(r: float, mid: int, h: int) -> int:
        """A print price in ticks from one uniform draw: at the bid, at the ask, or inside."""
        if h <= 0:
            return mid
        if r < 0.45:
            return mid - h
        if r < 0.9:
            return mid + h
        return mid - h + 1 + int((r - 0.9) * 10.0 * (2 * h - 1)) if h > 1 else mid

    def _make_trades(
        self, inst: Instrument, rng: random.Random, second: int, times: list[int], mid: int, lots: list[int]
    ) -> list[Trade]:
        tick, decimals, h, ticker = inst.tick, inst.decimals, inst.half_spread, inst.ticker
        seq = (second % 86_400) * _SEQ_PER_SECOND
        rand = rng.random
        price_of = self._price
        out: list[Trade] = []
        append = out.append
        cluster = inst.cluster
        if cluster == "stocks":
            lot, tape = inst.lot, inst.tape
            venues = rng.choices(_STOCK_VENUE_IDS, cum_weights=self._stock_venue_cum, k=len(times))
            for t, n_lots, x in zip(times, lots, venues, strict=True):
                price = round(price_of(rand(), mid, h) * tick, decimals)
                if lot == 100 and n_lots == 1 and rand() < 0.3:
                    odd = 1 + int(rand() * 99)
                    sizes: tuple[int, ...] = (odd, 100 - odd)
                else:
                    sizes = (n_lots * lot,)
                for size in sizes:
                    r = rand()
                    if size < lot:
                        cond: tuple[int, ...] = _ODD_LOT
                    elif r < 0.12:
                        cond = _ISO
                    elif r < 0.16:
                        cond = _FORM_T
                    else:
                        cond = ()
                    if x == 4:
                        trf = _TRF_IDS[int(r * 1000) % 3]
                        append(Trade(ticker, t, price, size, x, cond, seq, seq, tape, trf, t - int(r * 3)))
                    else:
                        append(Trade(ticker, t, price, size, x, cond, seq, seq, tape))
                    seq += 1
        elif cluster == "options":
            n_venues = len(_OPTION_VENUES)
            for t, n_lots in zip(times, lots, strict=True):
                r = rand()
                price = round(price_of(r, mid, h) * tick, decimals)
                append(
                    Trade(
                        ticker,
                        t,
                        price,
                        n_lots,
                        _OPTION_VENUES[int(rand() * n_venues)],
                        _AUTO_ELECTRONIC,
                        seq,
                    )
                )
                seq += 1
        elif cluster == "crypto":
            venues = rng.choices(_CRYPTO_VENUE_IDS, cum_weights=self._crypto_venue_cum, k=len(times))
            scale = inst.size_scale
            for t, units, x in zip(times, lots, venues, strict=True):
                ticks = price_of(rand(), mid, h)
                side = _BUY if ticks >= mid else _SELL
                price = round(ticks * tick, decimals)
                received = t + 1 + int(rand() * 40)
                append(Trade(ticker, t, price, round(units / scale, 8), x, side, seq, seq, received=received))
                seq += 1
        else:  # futures
            for t, n_lots in zip(times, lots, strict=True):
                price = round(price_of(rand(), mid, h) * tick, decimals)
                append(Trade(ticker, t, price, n_lots, sequence=seq))
                seq += 1
        return out

    def _make_quotes(self, inst: Instrument, second: int) -> tuple[list[int], list[Quote]]:
        rng = self._rng(inst, _QUOTES, second)
        n = _poisson(rng, self._rate(inst) * self.rates.quotes_per_trade * self.factor(inst, second))
        if n == 0:
            return _EMPTY_TIMES, []
        tick, decimals = inst.tick, inst.decimals
        h = max(1, inst.half_spread)
        mid = max(round(self.level(inst, second) / tick), h + 1)
        t0 = second * SECOND_MS
        times = sorted(t0 + int(rng.random() * 1000) for _ in range(n))
        seq0 = (second % 86_400) * _SEQ_PER_SECOND
        cluster, ticker = inst.cluster, inst.ticker
        out: list[Quote] = []
        for i, t in enumerate(times):
            m = mid + rng.randint(-1, 1)
            bid = round((m - h) * tick, decimals)
            ask = round((m + h) * tick, decimals)
            if cluster == "stocks":
                venues = _STOCK_QUOTE_VENUES
                bx, ax = venues[rng.randrange(len(venues))], venues[rng.randrange(len(venues))]
                out.append(
                    Quote(
                        ticker,
                        t,
                        bid,
                        rng.randint(1, 20),
                        ask,
                        rng.randint(1, 20),
                        bx,
                        ax,
                        seq0 + i,
                        inst.tape,
                    )
                )
            elif cluster == "options":
                bx = _OPTION_VENUES[rng.randrange(len(_OPTION_VENUES))]
                ax = _OPTION_VENUES[rng.randrange(len(_OPTION_VENUES))]
                out.append(
                    Quote(ticker, t, bid, rng.randint(1, 200), ask, rng.randint(1, 200), bx, ax, seq0 + i)
                )
            elif cluster == "crypto":
                x = _CRYPTO_VENUES[rng.randrange(len(_CRYPTO_VENUES))][0]
                scale, mean = inst.size_scale, inst.mean_lots
                bs = round(rng.uniform(0.05, 3.0) * mean / scale, 8)
                as_ = round(rng.uniform(0.05, 3.0) * mean / scale, 8)
                out.append(Quote(ticker, t, bid, bs, ask, as_, x, x, seq0 + i, 0, t + rng.randrange(1, 40)))
            else:  # futures
                out.append(
                    Quote(ticker, t, bid, rng.randint(1, 60), ask, rng.randint(1, 60), sequence=seq0 + i)
                )
        return times, out

    # ------------------------------------------------------------------ bars

    def _day_fields(
        self, inst: Instrument, minute: int, upto: int, mp: _MinutePlan
    ) -> tuple[float, float, float]:
        """``av``, ``a`` and ``op`` as of the end of second ``upto`` (0-59) of ``minute``."""
        day, m = divmod(minute, _MINUTES)
        dp = self._day_plan(inst, day)
        lots = dp.cum_lots[m] + mp.cum_lots[upto + 1]
        dollars = dp.cum_dollar[m] + mp.cum_dollar[upto + 1]
        unit = inst.lot / inst.size_scale
        volume: float = lots * inst.lot if inst.size_scale == 1 else round(lots * unit, 8)
        vwap = round(dollars / (lots * unit), inst.decimals + 2) if lots else dp.official_open
        return volume, vwap, dp.official_open

    def _bar_of_second(
        self, inst: Instrument, second: int, prints: list[Trade], mp: _MinutePlan
    ) -> Bar | None:
        if not prints:
            return None
        prices = [p.price for p in prints]
        if inst.sized:
            sizes = [p.size for p in prints]
            volume: float = sum(sizes)
            if inst.size_scale != 1:
                volume = round(volume, 8)
            dollars = math.fsum(p * s for p, s in zip(prices, sizes, strict=True))
            vwap = round(dollars / volume, inst.decimals + 2) if volume else prices[-1]
        else:
            volume, dollars = 0, 0.0
            vwap = round(math.fsum(prices) / len(prices), inst.decimals + 2)
        minute, k = divmod(second, 60)
        av, a, op = self._day_fields(inst, minute, k, mp)
        start = second * SECOND_MS
        return Bar(
            inst.ticker,
            start,
            start + SECOND_MS,
            prices[0],
            max(prices),
            min(prices),
            prices[-1],
            volume,
            vwap,
            len(prints),
            dollars,
            av,
            a,
            op,
        )

    def _merge(self, inst: Instrument, bars: list[Bar], start: int, end: int) -> Bar:
        volume: float = sum(b.volume for b in bars)
        if inst.size_scale != 1:
            volume = round(volume, 8)
        dollars = math.fsum(b.dollar_volume for b in bars)
        n = sum(b.transactions for b in bars)
        if volume:
            vwap = round(dollars / volume, inst.decimals + 2)
        else:
            vwap = round(math.fsum(b.vwap * b.transactions for b in bars) / n, inst.decimals + 2)
        minute = start // MINUTE_MS
        av, a, op = self._day_fields(inst, minute, 59, self._minute_plan(inst, minute))
        return Bar(
            inst.ticker,
            start,
            end,
            bars[0].open,
            max(b.high for b in bars),
            min(b.low for b in bars),
            bars[-1].close,
            volume,
            vwap,
            n,
            dollars,
            av,
            a,
            op,
        )


def _family(cluster: str) -> str:
    """``futures/cme`` → ``futures``; other clusters unchanged."""
    return "futures" if cluster.startswith("futures") else cluster


def window_seconds(start_ms: int, end_ms: int) -> range:
    """The UTC seconds overlapping the window ``(start_ms, end_ms]``."""
    return range((start_ms + 1) // SECOND_MS, end_ms // SECOND_MS + 1)
