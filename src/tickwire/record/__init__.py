"""Recording: one provider's stream → the raw journal (every frame) + sinks (typed events)."""

from __future__ import annotations

from tickwire.record.recorder import DEFAULT_CHANNELS, Recorder, RecorderStatus, load_journal

__all__ = ["DEFAULT_CHANNELS", "Recorder", "RecorderStatus", "load_journal"]
