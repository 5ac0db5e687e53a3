"""Which provider recorded a journal: what decodes its frames (replay, loading into sinks, stats).

The provider comes from the journal's metadata (``"provider"``, ``"market"``), ``massive`` for
journals written before providers were recorded. Loading a journal into sinks is
:func:`tickwire.record.load_journal`.
"""

from __future__ import annotations

import os

from tickwire.journal.reader import journal_meta
from tickwire.provider import Provider, get_provider

__all__ = ["journal_provider"]

LEGACY_PROVIDER = "massive"
"""The provider of journals whose metadata names none (they were all Massive recordings)."""


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
