"""What the dashboard shows, kept in bounded memory and handed out as coalesced updates.

Theory of operation
-------------------
:class:`DashboardState` consumes the stream (trades -> candles through
:class:`~tickwire.bars.BarAggregator`, quotes, control events) and keeps only
bounded rings: the last ``history`` candles per symbol, the last ``tape_size`` tape rows
and alerts. Every change bumps a per-symbol revision or a sequence number.

A browser is never fed the raw stream. Each connected page has a :class:`Cursor` (what it
has seen: revisions, last candle time, last tape and alert sequence); at each push the
server asks :meth:`DashboardState.update_for` for everything newer than the cursor, as one
message. A page that falls behind simply gets a bigger (still bounded) message next time:
candles are state, not a queue, so nothing piles up for it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tickwire.bars import Bar, BarAggregator
from tickwire.events import Connected, Disconnected, Dropped, Event, Reconnected
from tickwire.stream.metrics import MetricsSnapshot

__all__ = ["ConnectionPanel", "Cursor", "DashboardState"]

_NS = 1_000_000_000


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


@dataclass
class Cursor:
    """What one page has been sent so far."""

    revs: dict[str, int] = field(default_factory=dict)
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


class _Symbol:
    """Per-symbol display state."""

    __slots__ = ("ask", "bid", "history", "last", "live", "rev", "trades")

    def __init__(self, history: int) -> None:
        self.history: deque[dict[str, Any]] = deque(maxlen=history)  # finished candles, oldest first
        self.live: dict[int, dict[str, Any]] = {}  # open candles by start second
        self.rev = 0
        self.last: float | None = None
        self.bid: float | None = None
        self.ask: float | None = None
        self.trades = 0

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
    """The dashboard's model: candles per symbol, tape, alerts and the connection panel."""

    def __init__(
        self,
        symbols: Iterable[str] = (),
        *,
        interval: float = 60.0,
        grace: float | None = None,
        history: int = 500,
        tape_size: int = 200,
        alert_size: int = 100,
        metrics: Callable[[], MetricsSnapshot] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if interval < 1:
            raise ValueError("candle interval must be at least 1 second (charts use whole seconds)")
        self.interval = interval
        # grace: how long (stream time) a candle stays open for late trades; one candle by default
        self.aggregator = BarAggregator(interval, grace=interval if grace is None else grace)
        self.history = history
        self._symbols: dict[str, _Symbol] = {}
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
        """Trades and quotes seen."""
        self.alert_count = 0

    def symbol(self, name: str) -> _Symbol:
        sym = self._symbols.get(name)
        if sym is None:
            sym = self._symbols[name] = _Symbol(self.history)
        return sym

    @property
    def symbols(self) -> list[str]:
        return list(self._symbols)

    # ------------------------------------------------------------------ input

    def on_events(self, events: Iterable[Event]) -> None:
        """Fold a batch of events in (trades, quotes, control events; others are counted only)."""
        for ev in events:
            self.events += 1
            price = getattr(ev, "price", None)
            if price is not None:
                self.market_events += 1
                self._trade(ev, float(price))
                continue
            bid = getattr(ev, "bid_price", None)
            if bid is not None:
                self.market_events += 1
                self._quote(ev, float(bid), getattr(ev, "ask_price", None))
                continue
            if isinstance(ev, Connected | Disconnected | Reconnected | Dropped):
                self._control(ev)
        if self._newest_ns:
            self._finish(self.aggregator.close_until(self._newest_ns))

    def advance(self, now_ns: int) -> None:
        """Finish the candles that ended before ``now_ns`` even if no newer trade came (a quiet market)."""
        self._finish(self.aggregator.close_until(now_ns))

    def add_alert(self, alert: dict[str, Any]) -> None:
        self._alert_seq += 1
        self.alert_count += 1
        self.alerts.append({**alert, "seq": self._alert_seq})

    def _trade(self, ev: Event, price: float) -> None:
        name = getattr(ev, "symbol", None) or getattr(ev, "pair", None)
        ts = getattr(ev, "time_ns", None)
        if not isinstance(name, str) or not isinstance(ts, int):
            return
        size = float(getattr(ev, "size", None) or 0)
        sym = self.symbol(name)
        sym.last = price
        sym.trades += 1
        sym.rev += 1
        if ts > self._newest_ns:
            self._newest_ns = ts
        bar = self.aggregator.add(name, price, size, ts)
        if bar is not None:
            sym.live[bar.start_ns // _NS] = _candle(bar, sym.rev)
        self._tape_row({"kind": "T", "sym": name, "price": price, "size": size, "t": ts // 1_000_000})

    def _quote(self, ev: Event, bid: float, ask: Any) -> None:
        name = getattr(ev, "symbol", None) or getattr(ev, "pair", None)
        ts = getattr(ev, "time_ns", None)
        if not isinstance(name, str) or not isinstance(ts, int) or not isinstance(ask, int | float):
            return
        sym = self.symbol(name)
        if sym.bid == bid and sym.ask == ask:
            return  # the tape shows quote changes only
        sym.bid, sym.ask = bid, float(ask)
        sym.rev += 1
        self._tape_row({"kind": "Q", "sym": name, "bid": bid, "ask": float(ask), "t": ts // 1_000_000})

    def _tape_row(self, row: dict[str, Any]) -> None:
        self._tape_seq += 1
        row["seq"] = self._tape_seq
        self.tape.append(row)

    def _finish(self, bars: list[Bar]) -> None:
        for bar in bars:
            sym = self.symbol(bar.symbol)
            start = bar.start_ns // _NS
            sym.live.pop(start, None)
            sym.rev += 1
            sym.history.append(_candle(bar, sym.rev))

    def _control(self, ev: Event) -> None:
        p = self.panel
        if isinstance(ev, Connected):
            p.state, p.url, p.epoch = "connected", ev.url, ev.epoch  # reason: the last disconnect's, kept
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
            p.lag_seconds = (self.clock() - self._newest_ns) / _NS
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

        The first message of a page is a full snapshot (``"type": "snapshot"``).
        """
        first = not cursor.started
        cursor.started = True
        symbols: dict[str, Any] = {}
        for name, sym in self._symbols.items():
            if cursor.revs.get(name) == sym.rev and not first:
                continue
            candles = sym.changed_since(cursor.revs.get(name, -1))
            cursor.revs[name] = sym.rev
            symbols[name] = {
                "candles": candles,
                "last": sym.last,
                "bid": sym.bid,
                "ask": sym.ask,
                "trades": sym.trades,
            }
        tape = _coalesce_quotes([row for row in self.tape if row["seq"] > cursor.tape_seq])[-max_tape:]
        if self.tape:
            cursor.tape_seq = self._tape_seq
        alerts = [a for a in self.alerts if a["seq"] > cursor.alert_seq]
        cursor.alert_seq = self._alert_seq
        return {
            "type": "snapshot" if first else "update",
            "interval": self.interval,
            "symbols": symbols,
            "tape": tape,
            "alerts": alerts,
            "conn": vars(self.panel),
        }


def _coalesce_quotes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every trade, but only the newest quote of each symbol: quotes change far more often than trades."""
    newest: dict[str, int] = {}
    for row in rows:
        if row["kind"] == "Q":
            newest[row["sym"]] = row["seq"]
    return [row for row in rows if row["kind"] == "T" or newest[row["sym"]] == row["seq"]]
