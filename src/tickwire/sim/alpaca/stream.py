"""What one Alpaca feed publishes in a window of market time, from the seeded market model.

Theory of operation
-------------------
A :class:`FeedStream` keeps the end of the last window it published; each tick asks it for the
items of ``[last end, now)`` (``now`` minus the feed's delay on ``delayed_sip``) for the
(channel, symbol) pairs some connection wants, and it returns them as :class:`~.wire.Piece`
objects in time order:

* ``trades`` and ``quotes``: the model's prints and quotes of the window (stock trades may be
  followed by a ``corrections`` or ``cancelErrors`` item, drawn per trade id at the configured
  rates, so the same trade is always corrected or not);
* ``bars``: at each minute mark, the bar of the minute that ended; ``updatedBars``: at the :30
  mark, the previous minute's bar again (the simulator has no late prints, so the update carries
  the final values); ``dailyBars``: at each minute mark, the day so far (open, close, volume and
  VWAP are the model's day fields; high, low and trade count cover the minutes this stream has
  computed, the simulator does not replay a whole day);
* ``lulds`` and ``imbalances``: the model's bands and imbalance messages of each second;
* ``orderbooks`` (crypto): per symbol the book the stream last published; each tick that
  reaches a new second sends the changes from it (a removed level with size 0), and a new
  subscriber gets that same book whole (``r: true``) first, so applying snapshot then updates
  always gives the model's book.

News (:class:`NewsDesk`) comes every ``news_interval`` seconds of market time, one article per
interval, a pure function of the seed and the interval's number.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tickwire.sim.alpaca import build, wire
from tickwire.sim.alpaca.feeds import FAKEPACA, Feed, alpaca_symbol
from tickwire.sim.instruments import Instrument
from tickwire.sim.market import DAY_MS, MINUTE_MS, SECOND_MS, Bar, Book, MarketModel

__all__ = ["ALL", "FeedStream", "NewsDesk", "Wanted", "matches"]

ALL = None
"""A channel subscribed with ``"*"``: every symbol."""
Wanted = Mapping[str, frozenset[str] | None]
"""Channel → the symbols wanted (``None``: all of them)."""

_FOLLOW_TRADES = {"corrections": "trades", "cancelErrors": "trades"}
_MINUTES_PER_DAY = 1_440


def matches(piece: wire.Piece, subs: Mapping[str, frozenset[str]]) -> bool:
    """Whether a connection with ``subs`` (channel → symbols, ``*`` for all) gets ``piece``."""
    wanted = subs.get(_FOLLOW_TRADES.get(piece.channel, piece.channel))
    if not wanted:
        return False
    if "*" in wanted:
        return True
    return any(s in wanted for s in piece.symbols)


@dataclass(slots=True)
class _DayRange:
    high: float
    low: float
    trades: int = 0
    minutes: set[int] = field(default_factory=set)


class FeedStream:
    """The items one feed publishes, window by window (see the module doc)."""

    def __init__(
        self,
        feed: Feed,
        model: MarketModel,
        *,
        delay_ms: int = 0,
        max_catchup_ms: int = 2_000,
        correction_rate: float = 0.0,
        cancel_rate: float = 0.0,
    ) -> None:
        self.feed = feed
        self.model = model
        self.delay_ms = delay_ms if feed.delayed else 0
        self.max_catchup_ms = max_catchup_ms
        self.correction_rate = correction_rate
        self.cancel_rate = cancel_rate
        self.instruments: dict[str, Instrument] = {}
        for inst in model.universe.instruments(feed.cluster) if feed.cluster else ():
            is_fake = inst.ticker == FAKEPACA
            if is_fake == (feed.name == "test"):
                self.instruments[alpaca_symbol(feed.cluster, inst.ticker)] = inst
        self.last_ms: int | None = None
        self.last_trades: dict[str, wire.Trade] = {}
        self._books: dict[str, tuple[int, Book]] = {}
        self._days: dict[tuple[str, int], _DayRange] = {}

    @property
    def symbols(self) -> list[str]:
        """The symbols this feed has data for (others may be subscribed, they stay silent)."""
        return list(self.instruments)

    def feed_time(self, now_ms: int) -> int:
        """The market time this feed is at when the market clock reads ``now_ms``."""
        return now_ms - self.delay_ms

    def skip(self, now_ms: int) -> None:
        """Publish nothing up to ``now_ms`` (nobody listens, or data is paused)."""
        self.last_ms = self.feed_time(now_ms)

    def collect(self, now_ms: int, wanted: Wanted) -> list[wire.Piece]:
        """The items of the window since the last call, for the ``wanted`` pairs, in time order."""
        end = self.feed_time(now_ms)
        start = end if self.last_ms is None else max(self.last_ms, end - self.max_catchup_ms)
        self.last_ms = end
        if end <= start:
            return []
        pieces: list[wire.Piece] = []
        for channel, symbols in wanted.items():
            targets = self._targets(symbols)
            if channel == "trades":
                for inst in targets:
                    self._trades(inst, start, end, pieces)
            elif channel == "quotes":
                for inst in targets:
                    for q in self.model.quotes(inst.cluster, inst.ticker, start, end):
                        pieces.append(self._piece("quotes", build.quote_item(self.feed, q), q.timestamp))
            elif channel in ("bars", "dailyBars"):
                for inst in targets:
                    self._minute_marks(channel, inst, start, end, pieces)
            elif channel == "updatedBars":
                for inst in targets:
                    self._updated_bars(inst, start, end, pieces)
            elif channel in ("lulds", "imbalances"):
                for inst in targets:
                    self._per_second(channel, inst, start, end, pieces)
            elif channel == "orderbooks":
                for inst in targets:
                    self._book_update(inst, end, pieces)
        pieces.sort(key=lambda p: p.time_ns)
        return pieces

    def snapshot(self, symbol: str, now_ms: int) -> wire.Piece | None:
        """The whole book of ``symbol`` as last published (``r: true``), for a new subscriber."""
        inst = self.instruments.get(symbol)
        if inst is None or self.feed.asset_class != "crypto":
            return None
        _, book = self._book(inst, self.feed_time(now_ms))
        item = build.book_item(symbol, book, None)
        assert item is not None
        return wire.Piece("orderbooks", (symbol,), item, book.timestamp * 1_000_000)

    def book(self, symbol: str) -> Book | None:
        """The book of ``symbol`` as last published (``None`` before anyone subscribed)."""
        got = self._books.get(symbol)
        return got[1] if got is not None else None

    # ------------------------------------------------------------------ channels

    def _targets(self, symbols: frozenset[str] | None) -> Iterable[Instrument]:
        if symbols is None:
            return self.instruments.values()
        return [self.instruments[s] for s in sorted(symbols) if s in self.instruments]

    def _piece(self, channel: str, item: wire.Item, ms: int) -> wire.Piece:
        t = getattr(item, "t", None)
        time_ns = t.ns if isinstance(t, wire.WireTime) else ms * 1_000_000
        symbol = getattr(item, "S", "")
        return wire.Piece(channel, (symbol,), item, time_ns)

    def _trades(self, inst: Instrument, start: int, end: int, out: list[wire.Piece]) -> None:
        for tr in self.model.trades(inst.cluster, inst.ticker, start, end):
            item = build.trade_item(self.feed, tr)
            out.append(self._piece("trades", item, tr.timestamp))
            if isinstance(item, wire.Trade):
                self.last_trades[item.S] = item
                follow = self._follow_up(inst, item)
                if follow is not None:
                    out.append(follow)

    def _follow_up(self, inst: Instrument, item: wire.Trade) -> wire.Piece | None:
        """The correction or cancel drawn for this trade id, if any."""
        if not self.correction_rate and not self.cancel_rate:
            return None
        draw = random.Random(self.model.seed * 1_000_003 + item.i).random()
        if draw < self.correction_rate:
            return self.correction(inst, item)
        if draw < self.correction_rate + self.cancel_rate:
            return wire.Piece("cancelErrors", (item.S,), build.cancel_item(item), item.t.ns)
        return None

    def correction(self, inst: Instrument, item: wire.Trade) -> wire.Piece:
        """A correction of ``item`` (one tick up)."""
        fixed = build.correction_item(self.feed, item, inst.tick, inst.decimals)
        return wire.Piece("corrections", (item.S,), fixed, item.t.ns)

    def _minute_marks(
        self, channel: str, inst: Instrument, start: int, end: int, out: list[wire.Piece]
    ) -> None:
        """At each minute mark in ``(start, end]``: the ended minute's bar (or the day so far)."""
        for mark in range(start // MINUTE_MS + 1, end // MINUTE_MS + 1):
            bar = self.model.minute_bar(inst, mark - 1)
            if bar is None:
                continue
            if channel == "bars":
                item: wire.Bar = build.bar_item(self.feed, bar)
            else:
                item = self._daily(inst, mark - 1, bar)
            out.append(wire.Piece(channel, (item.S,), item, mark * MINUTE_MS * 1_000_000))

    def _daily(self, inst: Instrument, minute: int, bar: Bar) -> wire.DailyBar:
        day = minute // _MINUTES_PER_DAY
        symbol = alpaca_symbol(inst.cluster, inst.ticker)
        rng = self._days.get((symbol, day))
        if rng is None:
            rng = self._days[(symbol, day)] = _DayRange(bar.official_open, bar.official_open)
        if minute not in rng.minutes:
            rng.minutes.add(minute)
            rng.high = max(rng.high, bar.high)
            rng.low = min(rng.low, bar.low)
            rng.trades += bar.transactions
        return wire.DailyBar(
            symbol,
            bar.official_open,
            rng.high,
            rng.low,
            bar.close,
            bar.day_volume,
            rng.trades,
            bar.day_vwap,
            wire.WireTime(day * DAY_MS * 1_000_000),
        )

    def _updated_bars(self, inst: Instrument, start: int, end: int, out: list[wire.Piece]) -> None:
        half = MINUTE_MS // 2
        for mark in range((start - half) // MINUTE_MS + 1, (end - half) // MINUTE_MS + 1):
            bar = self.model.minute_bar(inst, mark - 1)
            if bar is not None:
                item = build.bar_item(self.feed, bar, wire.UpdatedBar)
                out.append(wire.Piece("updatedBars", (item.S,), item, (mark * MINUTE_MS + half) * 1_000_000))

    def _per_second(
        self, channel: str, inst: Instrument, start: int, end: int, out: list[wire.Piece]
    ) -> None:
        for second in range(-(-start // SECOND_MS), -(-end // SECOND_MS)):
            if channel == "lulds":
                band = self.model.luld(inst, second)
                if band is not None:
                    out.append(self._piece(channel, build.luld_item(band), band.timestamp))
            else:
                imb = self.model.imbalance(inst, second)
                if imb is not None:
                    out.append(self._piece(channel, build.imbalance_item(imb, inst.tape), imb.timestamp))

    def _book(self, inst: Instrument, feed_ms: int) -> tuple[int, Book]:
        symbol = alpaca_symbol(inst.cluster, inst.ticker)
        got = self._books.get(symbol)
        if got is None:
            second = (feed_ms - 1) // SECOND_MS
            got = self._books[symbol] = (second, self.model.book(inst, second))
        return got

    def _book_update(self, inst: Instrument, end: int, out: list[wire.Piece]) -> None:
        symbol = alpaca_symbol(inst.cluster, inst.ticker)
        got = self._books.get(symbol)
        second = (end - 1) // SECOND_MS
        if got is None:  # nobody has a snapshot yet: this book is the one they will get
            self._books[symbol] = (second, self.model.book(inst, second))
            return
        if got[0] >= second:
            return
        book = self.model.book(inst, second)
        self._books[symbol] = (second, book)
        item = build.book_item(symbol, book, got[1])
        if item is not None:
            out.append(wire.Piece("orderbooks", (symbol,), item, book.timestamp * 1_000_000))


_HEADLINES = (
    "{s} shares move after analyst update",
    "{s} announces quarterly dividend",
    "{s} to present at investor conference",
    "Options traders eye {s} ahead of earnings",
    "{s} and {o} in focus as sector rotates",
)


class NewsDesk:
    """One deterministic article every ``interval_ms`` of market time (see the module doc)."""

    def __init__(self, seed: int, symbols: list[str], interval_ms: int | None) -> None:
        self.seed = seed
        self.symbols = sorted(symbols) or ["AAPL"]
        self.interval_ms = interval_ms
        self.last_ms: int | None = None
        self._extra = 0

    def skip(self, now_ms: int) -> None:
        self.last_ms = now_ms

    def collect(self, now_ms: int, wanted: frozenset[str] | None) -> list[wire.Piece]:
        start = now_ms if self.last_ms is None else self.last_ms
        self.last_ms = now_ms
        step = self.interval_ms
        if not step or now_ms <= start:
            return []
        out = []
        for n in range(start // step + 1, now_ms // step + 1):
            piece = self.article(n, n * step * 1_000_000)
            if wanted is None or any(s in wanted for s in piece.symbols):
                out.append(piece)
        return out

    def article(self, n: int, time_ns: int) -> wire.Piece:
        """Article number ``n`` (published at ``time_ns``): same seed, same article."""
        rng = random.Random(self.seed * 7_919 + n)
        first, other = rng.sample(self.symbols, 2) if len(self.symbols) > 1 else (self.symbols[0],) * 2
        symbols = [first] if rng.random() < 0.6 else sorted({first, other})
        headline = rng.choice(_HEADLINES).format(s=first, o=other)
        return self.make(n, headline, symbols, time_ns)

    def publish(self, headline: str, symbols: list[str], time_ns: int) -> wire.Piece:
        """An extra article (a fault/test hook), numbered apart from the scheduled ones."""
        self._extra += 1
        return self.make(10_000_000_000 + self._extra, headline, symbols, time_ns)

    @staticmethod
    def make(n: int, headline: str, symbols: list[str], time_ns: int) -> wire.Piece:
        t = wire.WireTime(time_ns)
        item = wire.News(
            n,
            headline,
            f"{headline}. (simulated)",
            "tickwire simulator",
            t,
            t,
            f"https://news.invalid/articles/{n}",
            f"<p>{headline}.</p>",
            symbols,
            "benzinga",
        )
        return wire.Piece("news", tuple(symbols), item, time_ns)
