"""Loading a journal into sinks: decode its frames with the provider that recorded it, write the events.

This is how a database is rebuilt from a recording, how a sink that missed data (an outage, a
``drop_oldest`` shed) is filled again, and what ``tickwire replay --into`` runs. The provider comes
from the journal's metadata (``"provider"``, ``"market"``), ``massive`` for journals written before
providers were recorded; idempotent sinks make loading twice harmless.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

from tickwire.events import Event
from tickwire.journal.format import FRAME
from tickwire.journal.reader import journal_meta, read_records
from tickwire.provider import Provider, get_provider

__all__ = ["journal_provider", "load_journal"]

LEGACY_PROVIDER = "massive"
"""The provider of journals whose metadata names none (they were all Massive recordings)."""


class _Sink(Protocol):
    async def open(self) -> None: ...
    async def write(self, events: list[Event]) -> None: ...
    async def close(self) -> None: ...


def journal_provider(
    journal: str | os.PathLike[str], provider: Provider | str | None = None, market: str | None = None
) -> tuple[Provider, str]:
    """The provider and market a journal was recorded from (``provider``/``market`` override its
    metadata); :class:`~tickwire.errors.ConfigError` for an unknown provider or market."""
    meta = journal_meta(journal)
    if provider is None:
        provider = str(meta.get("provider") or LEGACY_PROVIDER)
    p = get_provider(provider) if isinstance(provider, str) else provider
    return p, p.market(market or str(meta.get("market") or "") or None)


async def load_journal(
    journal: str | os.PathLike[str],
    sinks: Sequence[_Sink],
    *,
    provider: Provider | str | None = None,
    market: str | None = None,
    batch_size: int = 50_000,
) -> int:
    """Decode a journal's frames and write the events its provider stores to ``sinks`` (opened and
    closed here). Returns the number of events loaded."""
    p, m = journal_provider(journal, provider, market)
    decoder = p.decoder(m)
    table_for = p.tables(m).table_for
    stored: dict[type[Event], bool] = {}

    def keep(ev: Event) -> bool:
        cls = type(ev)
        ok = stored.get(cls)
        if ok is None:
            ok = stored[cls] = table_for(cls) is not None
        return ok

    for s in sinks:
        await s.open()
    total = 0
    batch: list[Event] = []
    try:
        for rec in read_records(journal, frames_only=True):
            if rec.kind != FRAME:
                continue
            batch.extend(ev for ev in decoder.decode(rec.data) if keep(ev))
            if len(batch) >= batch_size:
                for s in sinks:
                    await s.write(batch)
                total += len(batch)
                batch = []
        if batch:
            for s in sinks:
                await s.write(batch)
            total += len(batch)
    finally:
        for s in sinks:
            await s.close()
    return total
