"""The alert engine: evaluates rules against trades, quotes and a clock; no I/O, explicit times.

Theory of operation
-------------------
Every (rule, symbol) pair has a track. A rule's condition is evaluated on each trade or quote
of the symbol (``stale`` on :meth:`AlertEngine.check`, with the caller's ``now``). Level
conditions (move, volume, spread, stale) are *edge-triggered*: they fire when the condition
becomes true and re-arm only once it has been false again, so a price sitting beyond a level
is one alert, not one per trade. ``cross`` is an edge by nature (the previous trade was on
the other side). On top of that, every firing is *de-bounced*: a track that fired less than
``cooldown`` seconds ago (in event time) does not fire again; the suppressed alert is counted.
All times are Unix nanoseconds of the events themselves, so a replay gives the same alerts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

import msgspec

from tickwire.alerts.rules import PercentMove, PriceCross, Rule, SpreadWide, Stale, VolumeSpike
from tickwire.events import Event

__all__ = ["Alert", "AlertEngine"]

_NS = 1_000_000_000


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


class AlertEngine:
    """Evaluate ``rules``; each ``on_*``/``check`` call returns the alerts it fired (usually none)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._tracks: dict[tuple[int, str], _Track] = {}
        self._last_seen: dict[str, int] = {}
        self._started: int | None = None
        self._trade_rules = [
            (i, r) for i, r in enumerate(self.rules) if isinstance(r, PriceCross | PercentMove | VolumeSpike)
        ]
        self._quote_rules = [(i, r) for i, r in enumerate(self.rules) if isinstance(r, SpreadWide)]
        self._stale_rules = [(i, r) for i, r in enumerate(self.rules) if isinstance(r, Stale)]
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
        """Evaluate the trade rules of ``symbol`` on one trade."""
        self._seen(symbol, ts_ns)
        out: list[Alert] = []
        for i, rule in self._trade_rules:
            if not rule.matches(symbol):
                continue
            tr = self._track(i, symbol)
            if isinstance(rule, PriceCross):
                alert = self._cross(rule, tr, symbol, price, ts_ns)
            elif isinstance(rule, PercentMove):
                alert = self._move(rule, tr, symbol, price, ts_ns)
            else:
                assert isinstance(rule, VolumeSpike)
                alert = self._volume(rule, tr, symbol, size, ts_ns)
            if alert is not None:
                out.append(alert)
        return out

    def on_quote(self, symbol: str, bid: float, ask: float, ts_ns: int) -> list[Alert]:
        """Evaluate the spread rules of ``symbol`` on one quote."""
        self._seen(symbol, ts_ns)
        out: list[Alert] = []
        if bid <= 0 or ask <= 0:
            return out  # a one-sided quote has no spread
        spread = ask - bid
        bps = spread / ((ask + bid) / 2) * 1e4
        for i, rule in self._quote_rules:
            if not rule.matches(symbol):
                continue
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

    def on_event(self, ev: Event) -> list[Alert]:
        """Route a typed event: trades (``price``/``size``) and quotes (``bid_price``/``ask_price``)."""
        symbol = getattr(ev, "symbol", None) or getattr(ev, "pair", None)
        ts = getattr(ev, "time_ns", None)
        if not isinstance(symbol, str) or not isinstance(ts, int):
            return []
        price = getattr(ev, "price", None)
        if isinstance(price, int | float):
            size = getattr(ev, "size", None)
            return self.on_trade(symbol, float(price), float(size or 0), ts)
        bid, ask = getattr(ev, "bid_price", None), getattr(ev, "ask_price", None)
        if isinstance(bid, int | float) and isinstance(ask, int | float):
            return self.on_quote(symbol, float(bid), float(ask), ts)
        return []

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
            symbols = list(self._last_seen) if rule.symbol == "*" else [rule.symbol]
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
        if ts > self._last_seen.get(symbol, -1):
            self._last_seen[symbol] = ts
        for i, _ in self._stale_rules:  # activity ends staleness: re-arm
            tr = self._tracks.get((i, symbol))
            if tr is not None:
                tr.armed = True

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
