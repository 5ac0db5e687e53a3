"""Bringing sinks up to a journal: ``replay --into``, ``sinks repair``, rebuilding a database.

Each sink is fed from its own watermark for this journal to the journal's head by the same
:class:`~tickwire.record.runner.SinkCursor` the recorder uses (poison events to the dead-letter
file, connection failures retried), so loading twice, or loading what a recorder already wrote,
adds nothing. The provider comes from the journal's metadata (``massive`` for journals written
before providers were recorded).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from tickwire.errors import TickwireError
from tickwire.journal import journal_info, journal_provider, resolve_journal_dir
from tickwire.journal.position import position
from tickwire.provider import Provider
from tickwire.record.recorder import SinkOutcome, cursor_outcome
from tickwire.record.runner import SinkCursor
from tickwire.record.tail import JournalTail
from tickwire.sinks.base import Sink

__all__ = ["bring_up_to_date", "load_journal"]


def _data_dir(journal_dir: Path) -> Path:
    return journal_dir.parent if journal_dir.name == "journal" else journal_dir


async def bring_up_to_date(
    journal: str | os.PathLike[str],
    sinks: Sequence[Sink],
    *,
    provider: Provider | str | None = None,
    market: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109
    batch_size: int = 50_000,
    open_timeout: float = 10.0,
    write_timeout: float = 30.0,
) -> list[SinkOutcome]:
    """Write to each sink what it lacks of ``journal`` (the journal directory or the data directory
    holding it), in parallel; within ``timeout`` s if given. One :class:`SinkOutcome` per sink."""
    journal_dir = resolve_journal_dir(journal)
    info = journal_info(journal_dir)
    p, m = journal_provider(journal_dir, provider, market)
    head = position(info.head_seq)
    tail = JournalTail(journal_dir, info.head_seq, p, m, window_events=0)
    cursors = [
        SinkCursor(
            s,
            tail=tail,
            journal_dir=journal_dir,
            journal_id=info.journal_id,
            provider=p,
            market=m,
            dead_letter_dir=_data_dir(journal_dir) / "dead-letter",
            batch_size=batch_size,
            open_timeout=open_timeout,
            write_timeout=write_timeout,
        )
        for s in sinks
    ]
    for c in cursors:
        c.start()
    tasks = [asyncio.ensure_future(c.finish(head)) for c in cursors]
    try:
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
    finally:
        for t in tasks:
            t.cancel()
        for c in cursors:
            if not c.complete:
                await c.abort()
        tail.close()
    outcomes = [await cursor_outcome(c, head) for c in cursors]
    return outcomes


async def load_journal(
    journal: str | os.PathLike[str],
    sinks: Sequence[Sink],
    *,
    provider: Provider | str | None = None,
    market: str | None = None,
    batch_size: int = 50_000,
    timeout: float | None = None,  # noqa: ASYNC109
) -> int:
    """Bring every sink up to date with ``journal`` (see :func:`bring_up_to_date`); the number of
    events written (to the sink that took the most: one that already held them takes none).

    Raises :class:`~tickwire.errors.TickwireError` naming the sinks left incomplete."""
    outcomes = await bring_up_to_date(
        journal, sinks, provider=provider, market=market, timeout=timeout, batch_size=batch_size
    )
    bad = [o for o in outcomes if not o.complete]
    if bad:
        raise TickwireError(
            "; ".join(
                f"{o.name}: "
                + (f"{o.lacking:,} events not written" if o.lacking is not None else "could not be reached")
                + (f" ({o.last_error})" if o.last_error else "")
                for o in bad
            )
        )
    return max((o.written for o in outcomes), default=0)
