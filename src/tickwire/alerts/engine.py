"""The alert engine: evaluates rules against trades, quotes and a clock; no I/O, explicit times.

Theory of operation
-------------------
The engine knows no provider. It takes prices as plain numbers (:meth:`AlertEngine.on_trade`,
:meth:`~AlertEngine.on_price`, :meth:`~AlertEngine.on_quote`), or as neutral
:class:`~tickwire.provider.Tick` values (:meth:`~AlertEngine.on_tick`), or as events through the
``ticks`` converter it was given (a provider's ``ticks``). A trade feeds the price rules (cross,
move) and the volume rule; a venue's own current price (a quote or book tick with a ``price``,
e.g. Polymarket's) feeds the price rules only; a top of book (bid and ask) feeds the spread rule.

Every (rule, symbol) pair has a track. A rule's condition is evaluated on each trade or quote
of the symbol (``stale`` on :meth:`AlertEngine.check`, with the caller's ``now``). Symbols match
case-insensitively (``aapl`` is ``AAPL``; a Polymarket slug is lower case). Level
conditions (move, volume, spread, stale) are *edge-triggered*: they fire when the condition
becomes true and re-arm only once it has been false again, so a price sitting beyond a level
is one alert, not one per trade. ``cross`` is an edge by nature (the previous trade was on
the other side). On top of that, every firing is *de-bounced*: a track that fired less than
``cooldown`` seconds ago (in event time) does not fire again; the suppressed alert is counted.
All times are Unix nanoseconds of the events themselves, so a replay gives the same alerts.

Memory is bounded: at most ``max_symbols`` symbols are watched by ``*`` rules; beyond that the
least recently seen one is forgotten (its tracks too; counted in ``evicted``). Symbols a rule
names are never forgotten.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence

import msgspec

from tickwire.alerts.rules import PercentMove, PriceCross, Rule, SpreadWide, Stale, VolumeSpike
from tickwire.errors import ConfigError
from tickwire.events import Event
from tickwire.provider import Tick

__all__ = ["Alert", "AlertEngine"]

_NS = 1_000_000_000
MAX_SYMBOLS = 5000
"""Symbols the engine keeps state for by default (the least recently seen forgotten beyond it)."""


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One firing of a rule: what, which symbol, the measured value, when (event time, Unix ns)."""

    rule: str
    kind: str
    symbol: str
    message: str
    value: float
    at_ns: int


class _Track:
    """Per (rule, symbol) state: arming, de-bounce, and the rule's own window."""

    __slots__ = (
        "armed",
        "baseline_sum",
        "first_ns",
        "last_fired",
        "prices",
        "recent",
        "recent_sum",
        "side",
        "sizes",
    )

    def __init__(self) -> None:
        self.armed = True
        self.last_fired: int | None = None
        self.side: int = 0  # cross: -1 below, 1 at/above, 0 unknown
        self.prices: deque[tuple[int, float]] = deque()  # move: (ts, price)
        self.recent: deque[tuple[int, float]] = deque()  # volume: last window
        self.sizes: deque[tuple[int, float]] = deque()  # volume: the baseline windows before it
        self.recent_sum = 0.0
        self.baseline_sum = 0.0
        self.first_ns: int | None = None


_Indexed = list[tuple[int, Rule]]


class _SymbolRules:
    """The rules that apply to one symbol, by what feeds them (worked out once per symbol)."""

    __slots__ = ("price", "spread", "volume")

    def __init__(self, price: _Indexed, volume: _Indexed, spread: _Indexed) -> None:
        self.price = price
        self.volume = volume
        self.spread = spread


class AlertEngine:
    """Evaluate ``rules``; each ``on_*``/``check`` call returns the alerts it fired (usually none).

    :param ticks: turns an event into ticks (a provider's ``ticks``, e.g.
        ``get_provider("massive").ticks``); needed by :meth:`on_event` and :meth:`on_events` only.
    """

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        ticks: Callable[[Event], Sequence[Tick]] | None = None,
        max_symbols: int = MAX_SYMBOLS,
    ) -> None:
        if max_symbols < 1:
            raise ValueError("max_symbols must be at least 1")
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.ticks = ticks
        self.max_symbols = max_symbols
        self._named = {r.symbol.casefold() for r in self.rules if r.symbol != "*"}  # never forgotten
        self.evicted = 0
        """Symbols forgotten to stay within ``max_symbols``."""
        self._tracks: dict[tuple[int, str], _Track] = {}
        self._last_seen: OrderedDict[str, int] = OrderedDict()  # least recently seen first
        self._folded: dict[str, str] = {}  # casefolded symbol -> the symbol as the stream spells it
        self._started: int | None = None
        self._price_rules = [
            (i, r) for i, r in enumerate(self.rules) if isinstance(r, PriceCross | PercentMove)
        ]
        self._volume_rules = [(i, r) for i, r in enumerate(self.rules) if isinstance(r, VolumeSpike)]
        self._quote_rules = [(i, r) for i, r in enumerate(self.rules) if isinstance(r, SpreadWide)]
        self._stale_rules = [(i, r) for i, r in enumerate(self.rules) if isinstance(r, Stale)]
        self._by_symbol: dict[str, _SymbolRules] = {}
        self.fired: dict[str, int] = {r.label: 0 for r in self.rules}
        """Alerts fired per rule label."""
        self.suppressed: dict[str, int] = {r.label: 0 for r in self.rules}
        """Alerts held back by the de-bounce, per rule label."""

    def _track(self, i: int, symbol: str) -> _Track:
        key = (i, symbol)
        tr = self._tracks.get(key)
        if tr is None:
            tr = self._tracks[key] = _Track()
        return tr

    def _rules_of(self, symbol: str) -> _SymbolRules:
        found = self._by_symbol.get(symbol)
        if found is None:
            found = self._by_symbol[symbol] = _SymbolRules(
                [(i, r) for i, r in self._price_rules if r.matches(symbol)],
                [(i, r) for i, r in self._volume_rules if r.matches(symbol)],
                [(i, r) for i, r in self._quote_rules if r.matches(symbol)],
            )
        return found

    def _emit(self, rule: Rule, tr: _Track, symbol: str, ts: int, value: float, message: str) -> Alert | None:
        """Fire unless de-bounced (fired within ``cooldown`` before ``ts``)."""
        if tr.last_fired is not None and ts - tr.last_fired < rule.cooldown * _NS:
            self.suppressed[rule.label] += 1
            return None
        tr.last_fired = ts
        self.fired[rule.label] += 1
        return Alert(rule=rule.label, kind=rule.kind, symbol=symbol, message=message, value=value, at_ns=ts)

    def _level(
        self, rule: Rule, tr: _Track, cond: bool, symbol: str, ts: int, value: float, message: str
    ) -> Alert | None:
        """Edge-trigger a level condition: fire on false -> true, re-arm on true -> false."""
        if not cond:
            tr.armed = True
            return None
        if not tr.armed:
            return None
        tr.armed = False
        return self._emit(rule, tr, symbol, ts, value, message)

    # ------------------------------------------------------------------ input

    def on_trade(self, symbol: str, price: float, size: float, ts_ns: int) -> list[Alert]:
        """Evaluate the trade rules of ``symbol`` (cross, move, volume) on one trade."""
        self._seen(symbol, ts_ns)
        rules = self._rules_of(symbol)
        out = self._prices(rules.price, symbol, price, ts_ns) if rules.price else []
        for i, rule in rules.volume:
            assert isinstance(rule, VolumeSpike)
            alert = self._volume(rule, self._track(i, symbol), symbol, size, ts_ns)
            if alert is not None:
                out.append(alert)
        return out

    def on_price(self, symbol: str, price: float, ts_ns: int) -> list[Alert]:
        """Evaluate the price rules of ``symbol`` (cross, move) on a price that is not a trade: the
        venue's current price of a market (Polymarket's), which carries no volume."""
        self._seen(symbol, ts_ns)
        rules = self._rules_of(symbol)
        return self._prices(rules.price, symbol, price, ts_ns) if rules.price else []

    def _prices(self, rules: _Indexed, symbol: str, price: float, ts: int) -> list[Alert]:
        out: list[Alert] = []
        for i, rule in rules:
            tr = self._track(i, symbol)
            if isinstance(rule, PriceCross):
                alert = self._cross(rule, tr, symbol, price, ts)
            else:
                assert isinstance(rule, PercentMove)
                alert = self._move(rule, tr, symbol, price, ts)
            if alert is not None:
                out.append(alert)
        return out

    def on_quote(self, symbol: str, bid: float, ask: float, ts_ns: int) -> list[Alert]:
        """Evaluate the spread rules of ``symbol`` on one quote (a top of book)."""
        self._seen(symbol, ts_ns)
        out: list[Alert] = []
        if bid <= 0 or ask <= 0:
            return out  # a one-sided quote has no spread
        rules = self._rules_of(symbol).spread
        if not rules:
            return out
        spread = ask - bid
        bps = spread / ((ask + bid) / 2) * 1e4
        for i, rule in rules:
            assert isinstance(rule, SpreadWide)
            wide = (rule.max is not None and spread > rule.max) or (
                rule.max_bps is not None and bps > rule.max_bps
            )
            alert = self._level(
                rule,
                self._track(i, symbol),
                wide,
                symbol,
                ts_ns,
                spread,
                f"{symbol} spread {spread:.4g} ({bps:.1f} bps) at {bid:g} x {ask:g}",
            )
            if alert is not None:
                out.append(alert)
        return out

    def on_tick(self, tick: Tick) -> list[Alert]:
        """Evaluate one tick: a trade (price and volume rules), or a quote or book (its ``price``, when
        the venue states one, for the price rules; its bid and ask for the spread rules)."""
        if tick.kind == "trade":
            if tick.price is None:
                return []
            return self.on_trade(tick.symbol, tick.price, tick.size, tick.ts_ns)
        out = [] if tick.price is None else self.on_price(tick.symbol, tick.price, tick.ts_ns)
        if tick.bid is not None and tick.ask is not None:
            out += self.on_quote(tick.symbol, tick.bid, tick.ask, tick.ts_ns)
        elif tick.price is None:
            self._seen(tick.symbol, tick.ts_ns)  # a one-sided book is activity all the same
        return out

    def on_ticks(self, ticks: Iterable[Tick]) -> list[Alert]:
        out: list[Alert] = []
        for tick in ticks:
            out += self.on_tick(tick)
        return out

    def on_event(self, ev: Event) -> list[Alert]:
        """Evaluate a typed event, through the ``ticks`` converter given to the engine."""
        to_ticks = self.ticks
        if to_ticks is None:
            raise ConfigError(
                "AlertEngine.on_event needs ticks=, the provider's event converter "
                "(e.g. get_provider('massive').ticks)"
            )
        out: list[Alert] = []
        for tick in to_ticks(ev):
            out += self.on_tick(tick)
        return out

    def on_events(self, events: Sequence[Event]) -> list[Alert]:
        out: list[Alert] = []
        for ev in events:
            out.extend(self.on_event(ev))
        return out

    def check(self, now_ns: int) -> list[Alert]:
        """Evaluate the ``stale`` rules at ``now_ns`` (call it periodically with the stream's clock)."""
        if self._started is None:
            self._started = now_ns
        out: list[Alert] = []
        for i, rule in self._stale_rules:
            assert isinstance(rule, Stale)
            if rule.symbol == "*":
                symbols = list(self._last_seen)
            else:
                symbols = [self._folded.get(rule.symbol.casefold(), rule.symbol)]
            for symbol in symbols:
                last = self._last_seen.get(symbol, self._started)
                idle = (now_ns - last) / _NS
                alert = self._level(
                    rule,
                    self._track(i, symbol),
                    idle >= rule.after,
                    symbol,
                    now_ns,
                    idle,
                    f"{symbol} stale: no trade or quote for {idle:.1f} s",
                )
                if alert is not None:
                    out.append(alert)
        return out

    # ------------------------------------------------------------------ rules

    def _seen(self, symbol: str, ts: int) -> None:
        seen = self._last_seen
        last = seen.get(symbol)
        if last is None:
            self._folded.setdefault(symbol.casefold(), symbol)
            seen[symbol] = ts
            if len(seen) > self.max_symbols + len(self._named):
                self._forget_one()
        else:
            seen.move_to_end(symbol)
            if ts > last:
                seen[symbol] = ts
        for i, _ in self._stale_rules:  # activity ends staleness: re-arm
            tr = self._tracks.get((i, symbol))
            if tr is not None:
                tr.armed = True

    def _forget_one(self) -> None:
        """Forget the least recently seen symbol that no rule names."""
        seen = self._last_seen
        for _ in range(len(self._named) + 1):
            symbol = next(iter(seen))
            if symbol.casefold() in self._named:
                seen.move_to_end(symbol)
                continue
            del seen[symbol]
            self._by_symbol.pop(symbol, None)
            if self._folded.get(symbol.casefold()) == symbol:
                del self._folded[symbol.casefold()]
            for i in range(len(self.rules)):
                self._tracks.pop((i, symbol), None)
            self.evicted += 1
            return

    def _cross(self, rule: PriceCross, tr: _Track, symbol: str, price: float, ts: int) -> Alert | None:
        side = 1 if price >= rule.level else -1
        prev, tr.side = tr.side, side
        if prev == 0 or prev == side:
            return None
        if (rule.direction == "up" and side < 0) or (rule.direction == "down" and side > 0):
            return None
        way = "up" if side > 0 else "down"
        return self._emit(rule, tr, symbol, ts, price, f"{symbol} crossed {rule.level:g} {way}: {price:g}")

    def _move(self, rule: PercentMove, tr: _Track, symbol: str, price: float, ts: int) -> Alert | None:
        prices = tr.prices
        prices.append((ts, price))
        cutoff = ts - int(rule.window * _NS)
        while len(prices) > 1 and prices[1][0] <= cutoff:  # keep the last trade at or before the cutoff
            prices.popleft()
        ref = prices[0][1]
        if ref <= 0:
            return None
        pct = (price / ref - 1.0) * 100.0
        hit = (rule.direction != "down" and pct >= rule.pct) or (rule.direction != "up" and -pct >= rule.pct)
        return self._level(
            rule,
            tr,
            hit,
            symbol,
            ts,
            pct,
            f"{symbol} moved {pct:+.2f}% in {rule.window:g} s ({ref:g} -> {price:g})",
        )

    def _volume(self, rule: VolumeSpike, tr: _Track, symbol: str, size: float, ts: int) -> Alert | None:
        if tr.first_ns is None:
            tr.first_ns = ts
        window = int(rule.window * _NS)
        tr.recent.append((ts, size))
        tr.recent_sum += size
        while tr.recent and tr.recent[0][0] <= ts - window:  # slide out of the recent window ...
            old = tr.recent.popleft()
            tr.recent_sum -= old[1]
            tr.sizes.append(old)  # ... into the baseline
            tr.baseline_sum += old[1]
        start = ts - window * (rule.baseline + 1)
        while tr.sizes and tr.sizes[0][0] <= start:
            tr.baseline_sum -= tr.sizes.popleft()[1]
        if tr.first_ns > start:
            return None  # warming up: the baseline does not cover its windows yet
        mean = tr.baseline_sum / rule.baseline
        hit = tr.recent_sum >= rule.min_volume and mean > 0 and tr.recent_sum >= rule.factor * mean
        ratio = tr.recent_sum / mean if mean > 0 else 0.0
        return self._level(
            rule,
            tr,
            hit,
            symbol,
            ts,
            tr.recent_sum,
            f"{symbol} volume {tr.recent_sum:g} in {rule.window:g} s, {ratio:.1f}x the baseline mean",
        )
