"""The live terminal view of a stream: per-symbol board, connection panel, recent control events."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import msgspec
from rich.cells import cell_len, set_cell_size
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tickwire.events import Connected, ControlEvent, Disconnected, Event, Reconnected, Status
from tickwire.redact import escape_terminal, json_escape_controls, mask_secrets, safe_text
from tickwire.stream.metrics import MetricsSnapshot

__all__ = ["MAX_SYMBOLS", "StreamView", "describe", "encode_jsonl", "fit"]

_ENC = msgspec.json.Encoder()

MAX_SYMBOLS = 5000
"""Symbols the board keeps (the least recently updated are dropped first): a stream of ever-new
symbols cannot grow the view without bound."""


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal cells (wide characters count twice), ``…`` marking a cut:
    a status line rewritten in place must never wrap, or each rewrite scrolls the terminal."""
    width = max(10, width)
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1) + "…"


def encode_jsonl(batch: list[Event]) -> bytes:
    """JSON lines of ``batch``; a ``Connected`` event's URL with its credentials masked, every
    control character in strings JSON-escaped (C1 and bidi ones too: safe to ``cat``)."""
    return json_escape_controls(b"\n".join(_ENC.encode(_masked(ev)) for ev in batch) + b"\n")


def _masked(ev: Event) -> Event:
    if isinstance(ev, Connected):
        url = mask_secrets(ev.url)
        if url != ev.url:
            return msgspec.structs.replace(ev, url=url)
    return ev


@dataclass
class _Row:
    """One symbol on the board: its last trade (or value), quote and bar, each from its own events."""

    last: float | None = None
    first: float | None = None
    """The first trade price seen: ``change`` is measured from it."""
    tick: int = 0
    """The direction of the last price move: 1 up, -1 down, 0 none (the colour of ``last``)."""
    size: float | None = None
    bid: float | None = None
    ask: float | None = None
    bar: str = ""
    bar_close: float | None = None
    count: int = 0

    def trade(self, price: float) -> None:
        if self.last is not None and price != self.last:
            self.tick = 1 if price > self.last else -1
        self.last = price
        if self.first is None:
            self.first = price

    def change(self) -> Text:
        if self.last is None or not self.first:
            return Text("")
        pct = (self.last - self.first) / self.first * 100
        return Text(f"{pct:+.2f}%", style="green" if pct > 0 else "red" if pct < 0 else "")


def _symbol_of(ev: Any) -> str | None:
    for name in ("symbol", "pair", "ticker"):
        v = getattr(ev, name, None)
        if isinstance(v, str):
            return v
    return None


def describe(ev: Event) -> str:
    """A one-line, human description of a control event, safe to print: the server's words
    (status messages, close reasons) with control characters escaped and URL credentials masked."""
    return safe_text(_describe(ev))


def _describe(ev: Event) -> str:
    if isinstance(ev, Status):
        return f"status {ev.status}: {ev.message}"
    if isinstance(ev, Connected):
        return f"connected to {ev.url} (connection #{ev.epoch})"
    if isinstance(ev, Reconnected):
        return f"reconnected after a {ev.gap_seconds:.2f} s gap ({ev.attempts} attempts)"
    if isinstance(ev, Disconnected):
        retry = f", retry in {ev.retry_in:.2f} s" if ev.retry_in is not None else ", not retrying"
        said = f" ({ev.message})" if ev.message else ""  # a close frame's reason: the server's words
        return f"disconnected: {ev.reason}{said}{retry}"
    fields = {k: v for k, v in ev.to_builtins().items() if k != "ev"}
    inner = ", ".join(f"{k}={v}" for k, v in fields.items() if v not in (None, "", []))
    return f"{ev.event_type}: {inner}"


@dataclass
class StreamView:
    """Accumulates events into a board that rich can render.

    Network strings reach rich as :class:`~rich.text.Text` (never parsed as markup) with control
    characters escaped; at most ``max_symbols`` symbols are kept (least recently updated dropped)."""

    title: str
    max_rows: int = 30
    max_symbols: int = MAX_SYMBOLS
    rows: OrderedDict[str, _Row] = field(default_factory=OrderedDict)
    evicted: int = 0
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
        rows = self.rows
        row = rows.get(sym)
        if row is None:
            row = rows[sym] = _Row()
            if len(rows) > self.max_symbols:
                rows.popitem(last=False)
                self.evicted += 1
        else:
            rows.move_to_end(sym)
        row.count += 1
        price = getattr(ev, "price", None)
        if isinstance(price, int | float):
            row.trade(price)
            row.size = getattr(ev, "size", None)
        bid = getattr(ev, "bid_price", None)
        if bid is not None:
            row.bid = bid
            row.ask = getattr(ev, "ask_price", None)
        close = getattr(ev, "close", None)
        if isinstance(close, int | float):  # a bar: its own columns, never shown as the last trade
            o, h, lo = getattr(ev, "open", None), getattr(ev, "high", None), getattr(ev, "low", None)
            v = getattr(ev, "volume", None)
            row.bar_close = close
            row.bar = f"o {_fmt(o)} h {_fmt(h)} l {_fmt(lo)} c {_fmt(close)}" + (
                f" v {_volume(v)}" if isinstance(v, int | float) else ""
            )
        value = getattr(ev, "value", None) or getattr(ev, "fmv", None)
        if isinstance(value, int | float) and price is None:
            row.trade(value)

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
        for col in ("symbol", "last trade", "change", "size", "bid", "ask", "last bar (o h l c v)", "events"):
            table.add_column(col, justify="left" if col in ("symbol", "last bar (o h l c v)") else "right")
        ordered = list(islice(reversed(self.rows.items()), self.max_rows))  # the most recently updated
        for sym, r in sorted(ordered, key=lambda kv: kv[0]):
            style = "green" if r.tick > 0 else "red" if r.tick < 0 else ""
            table.add_row(
                Text(escape_terminal(sym)),
                Text(_fmt(r.last), style=style),
                r.change(),
                _fmt(r.size),
                _fmt(r.bid),
                _fmt(r.ask),
                r.bar,
                f"{r.count:,}",
            )
        log = Text("\n".join(self.log) or "no control events yet", style="dim")
        title = Text(safe_text(self.title))
        return Group(Panel(header, title=title), table, Panel(log, title="connection"))


def _fmt(v: object) -> str:
    """``1,234.5``; at most 4 decimals, no trailing zeros; ``""`` for a missing value."""
    if isinstance(v, float):
        return f"{v:,.4f}".rstrip("0").rstrip(".")
    if isinstance(v, int):
        return f"{v:,}"
    return "" if v is None else escape_terminal(str(v))


def _volume(v: float) -> str:
    """``1.2M``, ``35.4k``, ``870``: a bar's volume, short."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.1f}{unit}"
    return f"{v:,.0f}"
