"""The live terminal view of a stream: per-symbol board, connection panel, recent control events."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tickwire.events import Connected, ControlEvent, Disconnected, Event, Reconnected, Status
from tickwire.stream.metrics import MetricsSnapshot

__all__ = ["StreamView", "describe"]


@dataclass
class _Row:
    last: float | None = None
    size: float | None = None
    bid: float | None = None
    ask: float | None = None
    bar: str = ""
    count: int = 0
    updated: float = 0.0


def _symbol_of(ev: Any) -> str | None:
    for name in ("symbol", "pair", "ticker"):
        v = getattr(ev, name, None)
        if isinstance(v, str):
            return v
    return None


def describe(ev: Event) -> str:
    """A one-line, human description of a control event."""
    if isinstance(ev, Status):
        return f"status {ev.status}: {ev.message}"
    if isinstance(ev, Connected):
        return f"connected to {ev.url} (connection #{ev.epoch})"
    if isinstance(ev, Reconnected):
        return f"reconnected after a {ev.gap_seconds:.2f} s gap ({ev.attempts} attempts)"
    if isinstance(ev, Disconnected):
        retry = f", retry in {ev.retry_in:.2f} s" if ev.retry_in is not None else ", not retrying"
        return f"disconnected: {ev.reason}{retry}"
    fields = {k: v for k, v in ev.to_builtins().items() if k != "ev"}
    inner = ", ".join(f"{k}={v}" for k, v in fields.items() if v not in (None, "", []))
    return f"{ev.event_type}: {inner}"


@dataclass
class StreamView:
    """Accumulates events into a board that rich can render."""

    title: str
    max_rows: int = 30
    rows: dict[str, _Row] = field(default_factory=dict)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=6))
    _rate_mark: tuple[float, int] = (0.0, 0)
    _rate: float = 0.0

    def add(self, ev: Event) -> None:
        if isinstance(ev, ControlEvent | Status):
            self.log.append(time.strftime("%H:%M:%S ") + describe(ev))
            return
        sym = _symbol_of(ev)
        if sym is None:
            return
        row = self.rows.get(sym)
        if row is None:
            row = self.rows[sym] = _Row()
        row.count += 1
        row.updated = time.time()
        price = getattr(ev, "price", None)
        if price is not None:
            row.last = price
            row.size = getattr(ev, "size", None)
        bid = getattr(ev, "bid_price", None)
        if bid is not None:
            row.bid = bid
            row.ask = getattr(ev, "ask_price", None)
        close = getattr(ev, "close", None)
        if close is not None:
            o, h, lo = getattr(ev, "open", None), getattr(ev, "high", None), getattr(ev, "low", None)
            row.last = close
            v = getattr(ev, "volume", None)
            row.bar = f"o {o} h {h} l {lo} c {close}" + (f" v {v:g}" if isinstance(v, int | float) else "")
        value = getattr(ev, "value", None) or getattr(ev, "fmv", None)
        if value is not None and price is None:
            row.last = value

    def render(self, m: MetricsSnapshot) -> Group:
        now = time.time()
        t0, n0 = self._rate_mark
        if now - t0 >= 1.0:
            if t0:
                self._rate = (m.events - n0) / (now - t0)
            self._rate_mark = (now, m.events)
        state = "[green]streaming[/]" if m.connected else "[yellow]connecting[/]"
        lag = f"{m.lag_seconds * 1000:.0f} ms" if m.lag_seconds is not None else "-"
        header = Text.from_markup(
            f"{state}  events {m.events:,}  {self._rate:,.0f}/s  reconnects {m.reconnects}  "
            f"queue {m.queue_depth:,}  dropped {m.dropped:,}  decode errors {m.decode_errors}  lag {lag}"
        )
        table = Table(expand=True, show_edge=False, pad_edge=False)
        for col in ("symbol", "last", "size", "bid", "ask", "last bar", "count"):
            table.add_column(
                col, justify="right" if col in ("last", "size", "bid", "ask", "count") else "left"
            )
        ordered = sorted(self.rows.items(), key=lambda kv: -kv[1].updated)[: self.max_rows]
        for sym, r in sorted(ordered, key=lambda kv: kv[0]):
            table.add_row(
                sym,
                _fmt(r.last),
                _fmt(r.size),
                _fmt(r.bid),
                _fmt(r.ask),
                r.bar,
                f"{r.count:,}",
            )
        log = Text("\n".join(self.log) or "no control events yet", style="dim")
        return Group(Panel(header, title=self.title), table, Panel(log, title="connection"))


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:,.4f}".rstrip("0").rstrip(".") if isinstance(v, float) else f"{v:,}"
