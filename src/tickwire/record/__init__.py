"""Recording: one provider's stream → the raw journal (every frame) → every sink, exactly once."""

from __future__ import annotations

from tickwire.record.load import bring_up_to_date, load_journal
from tickwire.record.recorder import Recorder, RecorderStatus, SinkOutcome
from tickwire.record.runner import SinkCursor, SinkHealth

__all__ = [
    "Recorder",
    "RecorderStatus",
    "SinkCursor",
    "SinkHealth",
    "SinkOutcome",
    "bring_up_to_date",
    "load_journal",
]
