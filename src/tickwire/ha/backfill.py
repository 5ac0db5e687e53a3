"""What a provider gives an HA leader to backfill its failover window (:class:`Backfill`).

Kept apart from :mod:`tickwire.ha.recording` so that a provider wing can build one without
importing the recorder.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tickwire.events import Event

__all__ = ["Backfill", "OrderKey"]

OrderKey = Callable[[Event], tuple[int, ...] | None]
"""An event's place in its subject (compared across the edges), or None: not a backfilled kind."""


@dataclass(frozen=True)
class Backfill:
    """A provider's failover backfill (the provider wing builds it; this package never imports one).

    ``fetch(from_ms, to_ms)`` returns the complete events (bars, trades) of ``[from_ms, to_ms)``;
    ``key`` orders an event within its subject (None for kinds it does not fetch: their subjects
    are left alone); ``position`` is its ``Nats-Msg-Id`` position in ``backfill.<type>.<symbol>``,
    the same whichever leader fetches it, increasing with ``key``."""

    fetch: Callable[[int, int], Awaitable[list[Event]]]
    key: OrderKey
    position: Callable[[Event], int]
