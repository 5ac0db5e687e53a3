"""The raw journal: every received frame, numbered, with receive time and connection epoch, append-only."""

from __future__ import annotations

from tickwire.journal.format import FRAME, GAP, META
from tickwire.journal.load import journal_provider
from tickwire.journal.lock import DataDirLock, lock_data_dir
from tickwire.journal.reader import (
    JournalError,
    JournalInfo,
    Record,
    SegmentReport,
    VerifyReport,
    journal_info,
    journal_meta,
    read_records,
    repair_tail,
    resolve_journal_dir,
    verify,
)
from tickwire.journal.tail import TailReader
from tickwire.journal.writer import JournalStats, JournalWriter

__all__ = [
    "FRAME",
    "GAP",
    "META",
    "DataDirLock",
    "JournalError",
    "JournalInfo",
    "JournalStats",
    "JournalWriter",
    "Record",
    "SegmentReport",
    "TailReader",
    "VerifyReport",
    "journal_info",
    "journal_meta",
    "journal_provider",
    "lock_data_dir",
    "read_records",
    "repair_tail",
    "resolve_journal_dir",
    "verify",
]
