"""Dead letters: events a sink refused for their content, kept with the error so nothing is lost.

One JSON line per event in ``<data_dir>/dead-letter/<sink>.jsonl``: the sink, the journal id, the
position (``"seq:idx"`` and the packed integer), the error, the event type and the event itself.
A line is flushed and fsynced before the sink's watermark moves past the event, so a dead letter
is never lost either; re-running ``tickwire replay --into`` after fixing the cause loads them.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import msgspec

from tickwire.events import Event
from tickwire.journal.position import show_position

__all__ = ["DeadLetters"]

_ENC = msgspec.json.Encoder()
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _builtins(ev: Event) -> Any:
    try:
        return msgspec.to_builtins(ev, builtin_types=(bytes,), str_keys=True)
    except (TypeError, ValueError):  # pragma: no cover - every event type is a msgspec Struct
        return repr(ev)


class DeadLetters:
    """Appends a sink's refused events to its dead-letter file and counts them."""

    def __init__(self, directory: Path, sink_name: str) -> None:
        self.path = directory / (_UNSAFE.sub("_", sink_name).strip("_")[:80] + ".jsonl")
        self.count = 0

    def add(self, sink_name: str, journal: str, pos: int, ev: Event, error: str) -> None:
        """Keep one refused event (durably: written and fsynced before returning)."""
        line = _ENC.encode(
            {
                "sink": sink_name,
                "journal": journal,
                "position": show_position(pos),
                "pos": pos,
                "time": time.time(),
                "error": error,
                "type": type(ev).__name__,
                "event": _builtins(ev),
            }
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            view = memoryview(line + b"\n")
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        self.count += 1
