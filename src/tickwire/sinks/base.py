"""The sink contract: what a destination for recorded events must do so nothing is lost or doubled.

Theory of operation
-------------------
The journal is the source of truth. A sink is fed from it (by :mod:`tickwire.record.runner`) in
:class:`SinkBatch` es: a range ``[start, end)`` of journal positions (see
:mod:`tickwire.journal.position`) and the stored events in it, each with its position. A sink keeps
its **watermark** per journal, "I hold every event of this journal before position P", and
stores it *atomically with the rows* (the same transaction, the same ``MULTI``, the file rename), so
after any crash :meth:`Sink.watermark` says exactly where to resume and a replay writes each event
once. Rows carry their journal id and position (``_journal``, ``_pos``): the natural key.

A write that fails is retried by the runner with backoff when :meth:`Sink.is_data_error` says the
connection or server failed; when it says the *data* was refused (a value out of range, a NUL in a
string, a message over the server's limit) the runner splits the batch to find the poison events,
sends them to the dead-letter file and goes on.

A sink may state the batch it writes best at as a class attribute ``batch_events`` (an int; see
:func:`batch_events`): the runner then hands it batches of up to that many events when it has them
(catching up, or a feed faster than the sink), never fewer than its own batch size. DuckDB asks for
more than the runner's default: a transaction of at least a row group (122,880 rows) per table is
written straight to the database file instead of through its write-ahead log.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tickwire.errors import DataRefused
from tickwire.events import Event
from tickwire.redact import mask_secrets

if TYPE_CHECKING:
    from tickwire.tables import TableRegistry, TableSpec

__all__ = [
    "JOURNAL_COLUMN",
    "POS_COLUMN",
    "DataRefused",
    "Sink",
    "SinkBatch",
    "batch_events",
    "by_table",
    "mask_url",
    "unwritten",
]

JOURNAL_COLUMN = "_journal"
"""The column holding a row's journal id (text)."""
POS_COLUMN = "_pos"
"""The column holding a row's journal position (BIGINT); with :data:`JOURNAL_COLUMN` the natural key."""


@dataclass(slots=True)
class SinkBatch:
    """Journal ``journal``'s positions ``[start, end)``: ``events`` (the stored ones, in order) and
    ``positions`` (one per event, strictly increasing, all in the range). ``end`` is the sink's
    watermark once the batch is written; a batch with no events only moves the watermark."""

    journal: str
    start: int
    end: int
    events: list[Event] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.events)

    def split(self, at: int) -> tuple[SinkBatch, SinkBatch]:
        """The batch cut before its event ``at`` (0 < at < len): two batches covering the same range."""
        cut = self.positions[at]
        return (
            SinkBatch(self.journal, self.start, cut, self.events[:at], self.positions[:at]),
            SinkBatch(self.journal, cut, self.end, self.events[at:], self.positions[at:]),
        )


@runtime_checkable
class Sink(Protocol):
    """A destination for recorded events that keeps a watermark per journal (see the module doc)."""

    name: str
    """What the sink is called in status lines and logs (URLs masked: no credentials)."""

    async def open(self) -> None:
        """Connect and create what is missing (tables, streams, directories); raises if it cannot."""
        ...

    async def watermark(self, journal: str) -> int:
        """The position up to which (exclusive) this sink durably holds ``journal``'s events; 0 if none."""
        ...

    async def write(self, batch: SinkBatch) -> None:
        """Store the batch's events and set the watermark to ``batch.end`` atomically (a buffering
        sink: when the buffered rows are committed). Events before the stored watermark are not
        written again, so a re-delivered or replayed batch never makes a second row."""
        ...

    async def flush(self) -> None:
        """Commit what is buffered (a rolling file sink's open file); a no-op for the others."""
        ...

    async def close(self) -> None:
        """Flush and release the connection; safe to call after a failed ``open``."""
        ...

    def is_data_error(self, exc: BaseException) -> bool:
        """True when ``write`` failed because of the batch's content (split it, dead-letter the bad
        events); False when the connection or server failed (retry the same batch later)."""
        ...


def batch_events(sink: Sink, default: int) -> int:
    """The most events the runner puts in one batch for ``sink``: its own ``batch_events`` hint,
    when it states one larger than ``default``, else ``default``."""
    hint = getattr(sink, "batch_events", None)
    return max(default, hint) if isinstance(hint, int) and not isinstance(hint, bool) else default


def unwritten(batch: SinkBatch, watermark: int) -> SinkBatch:
    """The part of ``batch`` a sink holding everything before ``watermark`` still lacks (the same
    batch when it starts at or after it; an empty batch at ``batch.end`` when it is all old)."""
    if watermark <= batch.start:
        return batch
    start = min(watermark, batch.end)
    i = bisect_left(batch.positions, start)
    return SinkBatch(batch.journal, start, batch.end, batch.events[i:], batch.positions[i:])


def by_table(tables: TableRegistry, batch: SinkBatch) -> dict[TableSpec, tuple[list[Event], list[int]]]:
    """The batch's stored events per table, each with its positions (order kept); events whose class
    is not stored (control events) are skipped."""
    by_class: dict[type[Event], tuple[list[Event], list[int]] | None] = {}
    for ev, pos in zip(batch.events, batch.positions, strict=True):
        cls = type(ev)
        try:
            group = by_class[cls]
        except KeyError:  # keyed by class: hashing a TableSpec per event would cost more than the rest
            group = by_class[cls] = None if tables.table_for(cls) is None else ([], [])
        if group is not None:
            group[0].append(ev)
            group[1].append(pos)
    out: dict[TableSpec, tuple[list[Event], list[int]]] = {}
    for cls, found in by_class.items():
        if found is None:
            continue
        spec = tables.table_for(cls)
        assert spec is not None
        have = out.get(spec)
        if have is None:
            out[spec] = found
        else:  # two classes in one table: merged in journal order
            merged = sorted(zip(have[1] + found[1], have[0] + found[0], strict=True), key=lambda pe: pe[0])
            out[spec] = ([e for _, e in merged], [p for p, _ in merged])
    return out


def mask_url(text: str) -> str:
    """``postgres://user:secret@host`` → ``postgres://user:****@host``, query secrets too (anywhere
    in ``text``; see :func:`tickwire.redact.mask_secrets`)."""
    return mask_secrets(text)
