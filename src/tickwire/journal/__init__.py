"""The raw journal: every received frame, with receive time and connection epoch, append-only."""

from __future__ import annotations

from tickwire.journal.format import FRAME, META
from tickwire.journal.load import journal_provider, load_journal
from tickwire.journal.reader import (
    JournalError,
    Record,
    SegmentReport,
    VerifyReport,
    journal_meta,
    read_records,
    repair_tail,
    verify,
)
from tickwire.journal.writer import JournalStats, JournalWriter

__all__ = [
    "FRAME",
    "META",
    "JournalError",
    "JournalStats",
    "JournalWriter",
    "Record",
    "SegmentReport",
    "VerifyReport",
    "journal_meta",
    "journal_provider",
    "load_journal",
    "read_records",
    "repair_tail",
    "verify",
]
