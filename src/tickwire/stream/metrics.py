"""Stream metrics: counters kept cheaply on the hot path, snapshotted on demand.

The reader only increments integers and remembers the last event; lag (now - event
time) is computed when a snapshot is taken, not per event.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from tickwire.events import Event, timestamp_to_ns

__all__ = ["Metrics", "MetricsSnapshot"]


class MetricsSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A point-in-time copy of a stream's metrics."""

    frames: int
    events: int
    bytes: int
    decode_errors: int
    unknown_events: int
    #: Frames refused unread for exceeding ``max_frame_size`` (each ends its connection, close 1009).
    rejected_frames: int = 0
    reconnects: int
    disconnects: int
    queue_depth: int
    queue_peak: int
    #: Bytes of frames waiting in the queue now, and the most there were (see ``queue_bytes``).
    queue_bytes: int = 0
    queue_peak_bytes: int = 0
    #: Subscriptions the server refused (plan, entitlement), each reported once and not re-sent.
    rejected_subscriptions: int = 0
    dropped: int
    paused: bool
    lag_seconds: float | None
    connected: bool
    epoch: int
    uptime: float

    def to_dict(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


class Metrics:
    """Mutable counters owned by one stream's driver."""

    __slots__ = (
        "bytes",
        "disconnects",
        "events",
        "frames",
        "last_event",
        "reconnects",
        "rejected_frames",
        "started",
    )

    def __init__(self) -> None:
        self.frames = 0
        self.events = 0
        self.bytes = 0
        self.reconnects = 0
        self.disconnects = 0
        self.rejected_frames = 0
        self.last_event: Event | None = None
        self.started = time.time()

    def lag(self, now: float | None = None) -> float | None:
        """Seconds between now and the newest event's own timestamp, if it has one."""
        ev = self.last_event
        if ev is None:
            return None
        ts = getattr(ev, "timestamp", None)
        if ts is None:
            ts = getattr(ev, "end_timestamp", None)
        if not isinstance(ts, int | float):
            return None
        ns = timestamp_to_ns(ts)
        if ns is None:
            return None
        return (time.time() if now is None else now) - ns / 1e9
