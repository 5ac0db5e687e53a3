"""Batches for the sink tests: Massive trades and quotes with journal positions, and hostile events."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Sequence

from tickwire.events import Event, Status
from tickwire.journal.position import position
from tickwire.massive.models import EquityQuote, EquityTrade
from tickwire.massive.tables import massive_tables
from tickwire.sinks import SinkBatch

T0 = 1_700_000_000_000
STOCKS = massive_tables("stocks")
PER_RECORD = 3
"""Events per journal record in these batches (positions ``seq << 20 | idx``, idx < 3)."""


def journal_id() -> str:
    """A fresh journal id (16 lowercase hex digits, like a real journal's)."""
    return "a" + uuid.uuid4().hex[:15]  # a letter first: CSV readers keep it text


def market(n: int, start: int = 0) -> list[Event]:
    """``n`` events: trades and quotes (two tables), ``start`` numbering them."""
    out: list[Event] = []
    for i in range(start, start + n):
        if i % 3 == 2:
            out.append(
                EquityQuote(
                    symbol="MSFT", bid_price=1.0 + i, ask_price=2.0 + i, timestamp=T0 + i, sequence_number=i
                )
            )
        else:
            out.append(
                EquityTrade(
                    symbol="AAPL",
                    price=100.0 + i,
                    size=100,
                    timestamp=T0 + i,
                    sequence_number=i,
                    conditions=[12, 37],
                    id=str(i),
                )
            )
    return out


def positions_of(first: int, n: int) -> list[int]:
    """Positions of ``n`` events numbered from ``first``, :data:`PER_RECORD` to a record."""
    return [position(i // PER_RECORD, i % PER_RECORD) for i in range(first, first + n)]


def batch(journal: str, first: int, events: Sequence[Event]) -> SinkBatch:
    """Events numbered ``first``... as one batch covering their records' range exactly."""
    n = len(events)
    pos = positions_of(first, n)
    return SinkBatch(journal, pos[0], pos[-1] + 1 if n else position(first // PER_RECORD), list(events), pos)


def batches(journal: str, total: int, size: int) -> list[SinkBatch]:
    """``total`` market events in consecutive batches of ``size`` (the last one shorter)."""
    evs = market(total)
    out = [batch(journal, i, evs[i : i + size]) for i in range(0, total, size)]
    for a, b in itertools.pairwise(out):  # contiguous ranges, as the runner hands them out
        a.end = b.start
    return out


def with_control(journal: str, first: int, events: Sequence[Event]) -> SinkBatch:
    """A batch whose first event is a control event (not stored by any sink)."""
    evs = [Status(status="connected", message="hi"), *events]
    return batch(journal, first, evs)


def hostile() -> dict[str, Event]:
    """Decodable events no sink can store as they are (or only just): the poison of issue 14."""
    return {
        "size 2**63": EquityTrade(symbol="AAPL", price=1.0, size=2**63, timestamp=T0, sequence_number=1),
        "t far away": EquityTrade(
            symbol="AAPL", price=1.0, size=1, timestamp=99999999999999999, sequence_number=2
        ),
        "NUL in symbol": EquityTrade(symbol="AA\x00PL", price=1.0, size=1, timestamp=T0, sequence_number=3),
        "2 MB string": EquityTrade(
            symbol=os.urandom(1 << 20).hex(), price=1.0, size=1, timestamp=T0, sequence_number=4
        ),
    }
