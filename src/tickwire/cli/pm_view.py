"""The live terminal board of ``tickwire stream --provider polymarket``: one row per market.

Best bid/ask, mid (coloured by its last move), spread, depth, the last trade and counts, kept from
the client's order books and the trade events; control events go to the connection panel.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tickwire.cli.view import describe
from tickwire.events import ControlEvent, Status
from tickwire.redact import escape_terminal, safe_text
from tickwire.stream.metrics import MetricsSnapshot

__all__ = ["PolymarketView"]

_COLUMNS = ("market", "bid", "ask", "mid", "spread", "depth bid / ask", "last trade", "trades", "updates")


@dataclass
class _Market:
    bid: Decimal | None = None
    ask: Decimal | None = None
    mid: Decimal | None = None
    tick: int = 0
    depth: str = ""
    trade: str = ""
    trades: int = 0
    updates: int = 0


@dataclass
class PolymarketView:
    """Accumulates Polymarket US events into a board that rich renders (venue strings escaped)."""

    title: str
    max_rows: int = 30
    rows: OrderedDict[str, _Market] = field(default_factory=OrderedDict)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=6))

    def _row(self, slug: str) -> _Market:
        row = self.rows.get(slug)
        if row is None:
            row = self.rows[slug] = _Market()
            if len(self.rows) > 5000:
                self.rows.popitem(last=False)
        return row

    def add(self, client: Any, ev: Any) -> None:
        if isinstance(ev, ControlEvent | Status):
            self.log.append(time.strftime("%H:%M:%S ") + describe(ev))
            return
        slug = getattr(ev, "market_slug", None)
        if not isinstance(slug, str):
            return
        row = self._row(slug)
        kind = getattr(ev, "event_type", "")
        if kind == "trade":
            row.trades += 1
            side = str(getattr(ev, "taker_side", "")).removeprefix("ORDER_SIDE_").lower()
            row.trade = f"{getattr(ev, 'quantity', '')} @ {getattr(ev, 'price', '')} {side}".strip()
            return
        row.updates += 1
        book = client.book(slug) if kind == "market_data" else None
        if book is not None:
            row.bid, row.ask = book.best_bid, book.best_ask
            mid = book.mid
            row.depth = f"{_num(book.depth('bid'))} / {_num(book.depth('ask'))}"
        else:  # the lite prices: best bid/ask only
            row.bid = getattr(ev, "best_bid", row.bid)
            row.ask = getattr(ev, "best_ask", row.ask)
            mid = (row.bid + row.ask) / 2 if row.bid is not None and row.ask is not None else None
        if mid is not None and row.mid is not None and mid != row.mid:
            row.tick = 1 if mid > row.mid else -1
        row.mid = mid if mid is not None else row.mid

    def render(self, m: MetricsSnapshot) -> Group:
        state = "[green]streaming[/]" if m.connected else "[yellow]connecting[/]"
        header = Text.from_markup(
            f"{state}  events {m.events:,}  reconnects {m.reconnects}  "
            f"dropped {m.dropped:,}  decode errors {m.decode_errors}"
        )
        table = Table(expand=True, show_edge=False, pad_edge=False)
        for col in _COLUMNS:
            table.add_column(col, justify="left" if col in ("market", "last trade") else "right")
        for slug, r in sorted(list(self.rows.items())[-self.max_rows :]):
            spread = r.ask - r.bid if r.ask is not None and r.bid is not None else None
            style = "green" if r.tick > 0 else "red" if r.tick < 0 else ""
            table.add_row(
                Text(escape_terminal(slug)),
                _num(r.bid),
                _num(r.ask),
                Text(_num(r.mid), style=style),
                _num(spread),
                r.depth,
                Text(escape_terminal(r.trade)),
                f"{r.trades:,}",
                f"{r.updates:,}",
            )
        log = Text("\n".join(self.log) or "no control events yet", style="dim")
        return Group(Panel(header, title=Text(safe_text(self.title))), table, Panel(log, title="connection"))


def _num(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return f"{v.normalize():,f}" if v == v.to_integral_value() else f"{v:,}"
    return escape_terminal(str(v))
