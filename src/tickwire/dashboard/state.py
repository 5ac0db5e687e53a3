"""What the dashboard shows, kept in bounded memory and handed out as coalesced updates.

Theory of operation
-------------------
:class:`DashboardState` knows no provider: it reads events through the ``ticks`` converter it
is given (a provider's ``ticks``) and folds the neutral ticks in. Trades make candles (through
:class:`~tickwire.bars.BarAggregator`); so does a venue's own current price where it states one
(Polymarket's, on its book and lite ticks), without volume. Quotes and books set the best
bid/ask, books the ladder (the best ``ladder_depth`` levels a side); control events the
connection panel. Only bounded rings are kept: the last ``history`` candles per symbol, the last
``tape_size`` tape rows and alerts, and at most ``max_symbols`` symbols besides the ones named at
the start (a stream of ever-new symbols evicts the least recently updated; counted in
``evicted``). Every change takes the next revision of one state-wide counter, so a symbol evicted
and seen again never reuses a revision a page already has; a page is told which symbols left.

A browser is never fed the raw stream. Each connected page has a :class:`Cursor` (what it
has seen: revisions, last candle time, last tape and alert sequence); at each push the
server asks :meth:`DashboardState.update_for` for everything newer than the cursor, as one
message. A page that falls behind simply gets a bigger (still bounded) message next time:
candles and books are state, not a queue, so nothing piles up for it.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tickwire.bars import Bar, BarAggregator
from tickwire.errors import ConfigError
from tickwire.events import Connected, Disconnected, Dropped, Event, Reconnected
from tickwire.provider import Tick
from tickwire.redact import mask_secrets
from tickwire.stream.metrics import MetricsSnapshot

__all__ = ["MAX_SYMBOLS", "ConnectionPanel", "Cursor", "DashboardState"]

MAX_SYMBOLS = 5000
"""Symbols tracked by default besides the ones named at the start (least recently updated evicted)."""

_NS = 1_000_000_000
_PRECISION_SAMPLES = 64  # prices of a symbol looked at to choose its display decimals
Levels = tuple[tuple[float, float], ...]


@dataclass
class ConnectionPanel:
    """The connection as the page shows it: state, rates, lag, reconnects and gaps."""

    state: str = "connecting"
    url: str = ""
    reason: str = ""
    epoch: int = 0
    reconnects: int = 0  # successful resumptions (Reconnected events)
    disconnects: int = 0
    gaps: int = 0
    gap_seconds: float = 0.0
    last_gap: float | None = None
    dropped: int = 0
    events: int = 0
    events_per_second: float = 0.0
    lag_seconds: float | None = None
    queue_depth: int = 0
    decode_errors: int = 0
    market_events: int = 0
    """Trades, quotes and book updates seen (the page's "live" badge waits for the first)."""


@dataclass
class Cursor:
    """What one page has been sent so far."""

    revs: dict[str, int] = field(default_factory=dict)
    born: dict[str, int] = field(default_factory=dict)  # which incarnation of the symbol the page has
    book_revs: dict[str, int] = field(default_factory=dict)
    evicted: int = 0  # the state's eviction count when this page last caught up on them
    tape_seq: int = 0
    alert_seq: int = 0
    started: bool = False


def _candle(bar: Bar, rev: int) -> dict[str, Any]:
    """A bar in lightweight-charts' shape (``time`` in Unix seconds), stamped with the revision setting it."""
    return {
        "rev": rev,
        "time": bar.start_ns // _NS,
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "volume": bar.volume,
        "trades": bar.trades,
    }


def _decimals(price: float) -> int:
    """The decimals ``price`` needs on screen: 2 to 6 (``190.5`` 2, ``0.555`` 3, ``1.0851`` 4)."""
    text = f"{price:.6f}".rstrip("0")
    return min(6, max(2, len(text) - text.index(".") - 1))


class _Symbol:
    """Per-symbol display state."""

    __slots__ = (
        "ask",
        "asks",
        "bid",
        "bids",
        "book_rev",
        "born",
        "decimals",
        "history",
        "last",
        "live",
        "rev",
        "samples",
        "trades",
    )

    def __init__(self, history: int, born: int) -> None:
        self.born = born  # the state's revision when this symbol (re)appeared
        self.history: deque[dict[str, Any]] = deque(maxlen=history)  # finished candles, oldest first
        self.live: dict[int, dict[str, Any]] = {}  # open candles by start second
        self.rev = born
        self.last: float | None = None
        self.bid: float | None = None
        self.ask: float | None = None
        self.trades = 0
        self.bids: Levels = ()
        self.asks: Levels = ()
        self.book_rev = 0  # 0: no book seen
        self.decimals = 2
        self.samples = 0

    def sample(self, price: float) -> None:
        """Widen the display decimals to fit ``price`` (the first prices of a symbol only)."""
        if self.samples < _PRECISION_SAMPLES:
            self.samples += 1
            d = _decimals(price)
            if d > self.decimals:
                self.decimals = d

    def changed_since(self, rev: int) -> list[dict[str, Any]]:
        """The candles set after revision ``rev`` (finished and open), oldest first."""
        changed: list[dict[str, Any]] = []
        for c in reversed(self.history):  # finished in order: revisions grow left to right
            if c["rev"] <= rev:
                break
            changed.append(c)
        changed.extend(c for c in self.live.values() if c["rev"] > rev)
        changed.sort(key=lambda c: c["time"])
        return changed


class DashboardState:
    """The dashboard's model: candles per symbol, books, tape, alerts and the connection panel.

    :param ticks: turns an event into ticks (a provider's ``ticks``); :meth:`on_events` needs it,
        :meth:`on_ticks` does not.
    :param ladder_depth: book levels kept (and shown) per side.
    :param max_symbols: symbols tracked besides ``symbols`` (which are never evicted); beyond it the
        least recently updated one is dropped.
    """

    def __init__(
        self,
        symbols: Iterable[str] = (),
        *,
        ticks: Callable[[Event], Sequence[Tick]] | None = None,
        interval: float = 60.0,
        grace: float | None = None,
        history: int = 500,
        tape_size: int = 200,
        alert_size: int = 100,
        ladder_depth: int = 10,
        max_symbols: int = MAX_SYMBOLS,
        metrics: Callable[[], MetricsSnapshot] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if interval < 1:
            raise ValueError("candle interval must be at least 1 second (charts use whole seconds)")
        if ladder_depth < 1:
            raise ValueError("ladder_depth must be at least 1 level")
        if max_symbols < 1:
            raise ValueError("max_symbols must be at least 1")
        self.ticks = ticks
        self.interval = interval
        # grace: how long (stream time) a candle stays open for late trades; one candle by default
        self.aggregator = BarAggregator(interval, grace=interval if grace is None else grace)
        self.history = history
        self.ladder_depth = ladder_depth
        self.max_symbols = max_symbols
        self._rev = 0  # the state-wide revision counter
        self._symbols: dict[str, _Symbol] = {}
        self._pinned = set(symbols)
        self._recent: OrderedDict[str, None] = (
            OrderedDict()
        )  # evictable symbols, least recently updated first
        self.evicted = 0
        """Symbols dropped to stay within ``max_symbols``."""
        for s in symbols:
            self.symbol(s)
        self.tape: deque[dict[str, Any]] = deque(maxlen=tape_size)
        self.alerts: deque[dict[str, Any]] = deque(maxlen=alert_size)
        self._tape_seq = 0
        self._alert_seq = 0
        self.panel = ConnectionPanel()
        self._metrics = metrics
        self.clock = clock
        self._rate_sample: tuple[float, int] | None = None
        self._newest_ns = 0
        self.events = 0
        """Events seen (all kinds)."""
        self.market_events = 0
        """Ticks (trades, quotes, books) folded in."""
        self.alert_count = 0

    def symbol(self, name: str) -> _Symbol:
        """The state of ``name``, created if new; marks it the most recently updated."""
        sym = self._symbols.get(name)
        if sym is not None:
            if name in self._recent:
                self._recent.move_to_end(name)
            return sym
        sym = self._symbols[name] = _Symbol(self.history, self._bump())
        if name not in self._pinned:
            recent = self._recent
            recent[name] = None
            if len(recent) > self.max_symbols:
                gone, _ = recent.popitem(last=False)
                del self._symbols[gone]
                self.evicted += 1
        return sym

    @property
    def symbols(self) -> list[str]:
        return list(self._symbols)

    @property
    def symbol_count(self) -> int:
        return len(self._symbols)

    def _bump(self) -> int:
        """The next revision (of the one state-wide counter)."""
        self._rev += 1
        return self._rev

    # ------------------------------------------------------------------ input

    def on_events(self, events: Iterable[Event]) -> list[Tick]:
        """Fold a batch of events in (market events as their ticks, control events into the panel;
        others are counted only); returns the ticks, for the alert rules."""
        to_ticks = self.ticks
        if to_ticks is None:
            raise ConfigError(
                "DashboardState.on_events needs ticks=, the provider's event converter "
                "(e.g. get_provider('massive').ticks)"
            )
        out: list[Tick] = []
        for ev in events:
            self.events += 1
            got = to_ticks(ev)
            if got:
                for tick in got:
                    self._tick(tick)
                out.extend(got)
            elif isinstance(ev, Connected | Disconnected | Reconnected | Dropped):
                self._control(ev)
        if self._newest_ns:
            self._finish(self.aggregator.close_until(self._newest_ns))
        return out

    def on_ticks(self, ticks: Iterable[Tick]) -> None:
        """Fold ticks in directly (from any source: a replay, a test, another process)."""
        for tick in ticks:
            self._tick(tick)
        if self._newest_ns:
            self._finish(self.aggregator.close_until(self._newest_ns))

    def advance(self, now_ns: int) -> None:
        """Finish the candles that ended before ``now_ns`` even if no newer trade came (a quiet market)."""
        self._finish(self.aggregator.close_until(now_ns))

    def add_alert(self, alert: dict[str, Any]) -> None:
        self._alert_seq += 1
        self.alert_count += 1
        self.alerts.append({**alert, "seq": self._alert_seq})

    def _tick(self, tick: Tick) -> None:
        self.market_events += 1
        self.panel.market_events = self.market_events
        sym = self.symbol(tick.symbol)
        if tick.kind == "trade":
            if tick.price is not None:
                self._price(sym, tick.symbol, tick.price, tick.size, tick.ts_ns)
                sym.trades += 1
                self._tape_row(
                    {
                        "kind": "T",
                        "sym": tick.symbol,
                        "price": tick.price,
                        "size": tick.size,
                        "t": tick.ts_ns // 1_000_000,
                    }
                )
            return
        if tick.price is not None:  # the venue's current price: charted, no volume, not on the tape
            self._price(sym, tick.symbol, tick.price, 0.0, tick.ts_ns)
        if tick.kind == "book":
            self._book(sym, tick)
        quoted = tick.kind == "book" or tick.bid is not None or tick.ask is not None  # an empty book clears
        if quoted and (tick.bid != sym.bid or tick.ask != sym.ask):
            sym.bid, sym.ask = tick.bid, tick.ask
            sym.rev = self._bump()
            if sym.samples < _PRECISION_SAMPLES:
                for p in (tick.bid, tick.ask):
                    if p is not None:
                        sym.sample(p)
            self._tape_row(
                {
                    "kind": "Q",
                    "sym": tick.symbol,
                    "bid": tick.bid,
                    "ask": tick.ask,
                    "t": tick.ts_ns // 1_000_000,
                }
            )

    def _price(self, sym: _Symbol, name: str, price: float, size: float, ts: int) -> None:
        """One price point into the symbol's candles (a trade, or a venue price with ``size`` 0)."""
        sym.last = price
        sym.rev = self._bump()
        sym.sample(price)
        if ts > self._newest_ns:
            self._newest_ns = ts
        bar = self.aggregator.add(name, price, size, ts)
        if bar is not None:
            sym.live[bar.start_ns // _NS] = _candle(bar, sym.rev)

    def _book(self, sym: _Symbol, tick: Tick) -> None:
        depth = self.ladder_depth
        bids, asks = tick.bids[:depth], tick.asks[:depth]
        if sym.book_rev and bids == sym.bids and asks == sym.asks:
            return
        sym.bids, sym.asks = bids, asks
        sym.rev = self._bump()
        sym.book_rev = sym.rev
        if sym.samples < _PRECISION_SAMPLES:
            for level in bids + asks:
                sym.sample(level[0])
        if tick.ts_ns > self._newest_ns:
            self._newest_ns = tick.ts_ns

    def _tape_row(self, row: dict[str, Any]) -> None:
        self._tape_seq += 1
        row["seq"] = self._tape_seq
        self.tape.append(row)

    def _finish(self, bars: list[Bar]) -> None:
        for bar in bars:
            sym = self._symbols.get(bar.symbol)
            if sym is None:
                continue  # evicted while its candle was open
            start = bar.start_ns // _NS
            sym.live.pop(start, None)
            sym.rev = self._bump()
            sym.history.append(_candle(bar, sym.rev))

    def _control(self, ev: Event) -> None:
        p = self.panel
        if isinstance(ev, Connected):
            # the URL with its credentials masked (a key in the query); reason: the last disconnect's, kept
            p.state, p.url, p.epoch = "connected", mask_secrets(ev.url), ev.epoch
        elif isinstance(ev, Disconnected):
            p.disconnects += 1
            p.state = "reconnecting" if ev.will_reconnect else "disconnected"
            p.reason = ev.reason
        elif isinstance(ev, Reconnected):
            p.state, p.epoch = "connected", ev.epoch
            p.reconnects += 1
            p.gaps += 1
            p.gap_seconds += ev.gap_seconds
            p.last_gap = ev.gap_seconds
        elif isinstance(ev, Dropped):
            p.dropped = ev.total

    # ------------------------------------------------------------------ output

    def refresh_panel(self, now: float | None = None) -> ConnectionPanel:
        """Update the panel's gauges from the client's metrics (events/s over the last sample)."""
        p = self.panel
        if self._metrics is None:
            p.events = self.events
        else:
            m = self._metrics()
            p.events, p.queue_depth, p.decode_errors = m.events, m.queue_depth, m.decode_errors
            p.dropped = max(p.dropped, m.dropped)
        if self._newest_ns:  # on the stream's own clock (the simulator's may run fast)
            p.lag_seconds = max(0.0, (self.clock() - self._newest_ns) / _NS)  # never negative: ms rounding
        now = time.monotonic() if now is None else now
        sample = self._rate_sample
        if sample is None:
            self._rate_sample = (now, p.events)
        elif now - sample[0] >= 0.5:
            p.events_per_second = (p.events - sample[1]) / (now - sample[0])
            self._rate_sample = (now, p.events)
        return p

    def update_for(self, cursor: Cursor, *, max_tape: int = 50) -> dict[str, Any]:
        """Everything newer than ``cursor`` as one message (and advance the cursor).

        The first message of a page is a full snapshot (``"type": "snapshot"``); ``removed`` names the
        symbols the page has that are no longer tracked (or came back anew: they follow in full).
        """
        first = not cursor.started
        cursor.started = True
        removed: list[str] = []
        if cursor.evicted != self.evicted:
            cursor.evicted = self.evicted
            for name in [n for n in cursor.revs if n not in self._symbols]:
                removed.append(name)
                self._forget(cursor, name)
        symbols: dict[str, Any] = {}
        for name, sym in self._symbols.items():
            if cursor.born.get(name, sym.born) != sym.born:  # evicted and seen again since
                removed.append(name)
                self._forget(cursor, name)
            if cursor.revs.get(name) == sym.rev and not first:
                continue
            candles = sym.changed_since(cursor.revs.get(name, -1))
            cursor.revs[name] = sym.rev
            cursor.born[name] = sym.born
            entry: dict[str, Any] = {
                "candles": candles,
                "last": sym.last,
                "bid": sym.bid,
                "ask": sym.ask,
                "trades": sym.trades,
                "decimals": sym.decimals,
            }
            if sym.book_rev and cursor.book_revs.get(name) != sym.book_rev:
                cursor.book_revs[name] = sym.book_rev
                entry["book"] = {"bids": sym.bids, "asks": sym.asks}
            symbols[name] = entry
        tape = _coalesce_quotes([row for row in self.tape if row["seq"] > cursor.tape_seq])[-max_tape:]
        if self.tape:
            cursor.tape_seq = self._tape_seq
        alerts = [a for a in self.alerts if a["seq"] > cursor.alert_seq]
        cursor.alert_seq = self._alert_seq
        return {
            "type": "snapshot" if first else "update",
            "interval": self.interval,
            "removed": removed,
            "symbols": symbols,
            "tape": tape,
            "alerts": alerts,
            "conn": vars(self.panel),
        }

    @staticmethod
    def _forget(cursor: Cursor, name: str) -> None:
        cursor.revs.pop(name, None)
        cursor.born.pop(name, None)
        cursor.book_revs.pop(name, None)


def _coalesce_quotes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every trade, but only the newest quote of each symbol: quotes change far more often than trades."""
    newest: dict[str, int] = {}
    for row in rows:
        if row["kind"] == "Q":
            newest[row["sym"]] = row["seq"]
    return [row for row in rows if row["kind"] == "T" or newest[row["sym"]] == row["seq"]]
