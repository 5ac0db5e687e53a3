"""What the journal holds: the set every sink must equal, decoded once from record 0."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from tests.system.chaos.stores import TABLES, Key, Row, normalize
from tickwire.events import Event
from tickwire.journal import journal_info
from tickwire.provider import get_provider
from tickwire.record.tail import JournalChunks
from tickwire.tables import TableSpec

__all__ = ["journal_id", "journal_truth"]


def journal_id(data: Path) -> str:
    return str(journal_info(data / "journal").journal_id)


def journal_truth(data: Path) -> dict[Key, Row]:
    """Every stored event of the data directory's journal, by ``(journal id, position)``, as
    :func:`~.stores.normalize` rows."""
    jid = journal_id(data)
    reader = JournalChunks(data / "journal", 0, get_provider("massive"), "stocks")
    by_spec: dict[TableSpec, tuple[list[Event], list[int]]] = defaultdict(lambda: ([], []))
    try:
        while (chunk := reader.next()) is not None:
            for ev, pos in zip(chunk.events, chunk.positions, strict=True):
                spec = TABLES.table_for(type(ev))
                if spec is not None:
                    by_spec[spec][0].append(ev)
                    by_spec[spec][1].append(pos)
    finally:
        reader.close()
    out: dict[Key, Row] = {}
    for spec, (events, positions) in by_spec.items():
        for pos, row in zip(positions, normalize(events, spec), strict=True):
            out[(jid, pos)] = row
    return out
