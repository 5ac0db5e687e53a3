"""Recording: one provider's stream → the raw journal (every frame) + sinks (typed events)."""

from __future__ import annotations

from tickwire.journal.load import load_journal
from tickwire.record.recorder import Recorder, RecorderStatus

__all__ = ["Recorder", "RecorderStatus", "load_journal"]
