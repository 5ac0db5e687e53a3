"""The normalized row schema of the sinks: :mod:`tickwire.rows` (kept there, outside this package, so
that commands without the storage extra can use it too)."""

from __future__ import annotations

from tickwire.rows import (
    event_from_row,
    event_rows,
    events_from_payload,
    invertible,
    read_payload,
    row_json,
    rows_payload,
)

__all__ = [
    "event_from_row",
    "event_rows",
    "events_from_payload",
    "invertible",
    "read_payload",
    "row_json",
    "rows_payload",
]
