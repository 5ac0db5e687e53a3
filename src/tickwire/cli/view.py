"""The live terminal view of a stream: per-symbol board, connection panel, recent control events."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import msgspec
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tickwire.events import Connected, ControlEvent, Disconnected, Event, Reconnected, Status
from tickwire.redact import escape_terminal, json_escape_controls, mask_secrets, safe_text
from tickwire.stream.metrics import MetricsSnapshot

__all__ = ["MAX_SYMBOLS", "StreamView", "describe", "encode_jsonl"]

_ENC = msgspec.json.Encoder()

MAX_SYMBOLS = 5000
"""Symbols the board keeps (the least recently updated are dropped first): a stream of ever-new
symbols cannot grow the view without bound."""


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
    last: float | None = None
    size: float | None = None
    bid: float | None = None
    ask: float | None = None
    bar: str = ""
    count: int = 0


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
        ordered = list(islice(reversed(self.rows.items()), self.max_rows))  # the most recently updated
        for sym, r in sorted(ordered, key=lambda kv: kv[0]):
            table.add_row(
                Text(escape_terminal(sym)),
                _fmt(r.last),
                _fmt(r.size),
                _fmt(r.bid),
                _fmt(r.ask),
                r.bar,
                f"{r.count:,}",
            )
        log = Text("\n".join(self.log) or "no control events yet", style="dim")
        title = Text(safe_text(self.title))
        return Group(Panel(header, title=title), table, Panel(log, title="connection"))


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:,.4f}".rstrip("0").rstrip(".") if isinstance(v, float) else f"{v:,}"
