"""An in-memory sink that keeps the contract strictly and can be made to fail, for recorder tests.

It stores rows by (journal, position) and its watermark per journal, applies a batch atomically
(all or nothing), and counts any position written twice, so a test can assert "exactly once".
``store`` may be shared by several sink objects: a sink restarted by a new recorder keeps its data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from tickwire.events import Event
from tickwire.sinks.base import SinkBatch


class Refused(ValueError):
    """What the sink raises for an event it will not store (a data error)."""


class Down(ConnectionError):
    """What the sink raises while it is down (not a data error)."""


@dataclass
class Store:
    rows: dict[tuple[str, int], Event] = field(default_factory=dict)
    watermarks: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    writes: int = 0


class MemorySink:
    def __init__(
        self,
        store: Store | None = None,
        *,
        name: str = "memory:test",
        poison: Callable[[Event], bool] | None = None,
    ) -> None:
        self.store = store or Store()
        self.name = name
        self.poison = poison
        self.down = False
        self.hang = False
        self.opened = 0

    async def open(self) -> None:
        if self.down:
            raise Down("connection refused")
        self.opened += 1

    async def watermark(self, journal: str) -> int:
        if self.down:
            raise Down("connection refused")
        return self.store.watermarks.get(journal, 0)

    async def write(self, batch: SinkBatch) -> None:
        if self.down:
            raise Down("connection reset")
        if self.hang:
            await asyncio.Event().wait()
        assert len(batch.events) == len(batch.positions)
        assert all(batch.start <= p < batch.end for p in batch.positions), "position outside the batch"
        assert batch.positions == sorted(batch.positions)
        wm = self.store.watermarks.get(batch.journal, 0)
        new = [(p, e) for p, e in zip(batch.positions, batch.events, strict=True) if p >= wm]
        if self.poison is not None and any(self.poison(e) for _, e in new):
            raise Refused("value out of range")
        for p, e in new:
            key = (batch.journal, p)
            if key in self.store.rows:
                self.store.duplicates += 1
            self.store.rows[key] = e
        self.store.watermarks[batch.journal] = max(wm, batch.end)
        self.store.writes += 1

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def is_data_error(self, exc: BaseException) -> bool:
        return isinstance(exc, Refused)
