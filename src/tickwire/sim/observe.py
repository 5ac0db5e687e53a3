"""What a test can see of the simulator: connections, received actions, counters.

Everything here is an immutable snapshot, safe to hand to another thread. API keys never
appear: a key is shown as :func:`key_id` (a short SHA-256 fingerprint), so tests can still tell
keys apart (``info.key_id == key_id("k1")``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Self

__all__ = ["ActionRecord", "ConnectionInfo", "Counters", "SimCounters", "key_id"]


def key_id(key: str) -> str:
    """A key's fingerprint, ``"sha256:1a2b3c4d5e6f"``: what the simulator keeps and shows, never the key."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """One live connection as seen by the server."""

    id: int
    path: str
    """The URL path without slashes, e.g. ``stocks`` or ``delayed/futures/cme``."""
    market: str
    delayed: bool
    authenticated: bool
    key_id: str | None
    subscriptions: frozenset[str]
    """The confirmed channels (as acknowledged, e.g. ``T.MSFT``, ``AM.*``)."""
    muted: bool
    closing: bool
    connected_at: float
    frames_sent: int
    events_sent: int
    bytes_sent: int


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One client message, in arrival order.

    ``action`` is ``auth``, ``subscribe``, ``unsubscribe``, any other name the client sent, or
    ``invalid`` for a frame that was not a JSON action. ``params`` holds the channels (split at
    commas) for (un)subscribe, the key's :func:`key_id` for ``auth``, and is empty otherwise.
    """

    seq: int
    conn_id: int
    path: str
    action: str
    params: tuple[str, ...]
    at: float


@dataclass(slots=True)
class SimCounters:
    """What every dialect counts (the server base keeps these); a dialect adds its own fields."""

    handshakes: int = 0
    """WebSocket upgrades accepted."""
    refused: int = 0
    """Upgrades refused with an HTTP error (``refuse_handshakes``, an unknown path, a bad signature...)."""
    disconnects: int = 0
    drops: int = 0
    """Connections aborted by the ``drop`` fault."""
    frames_sent: int = 0
    """Data frames sent (each dialect says which frames count; ``ConnectionInfo`` counts every frame)."""
    bytes_sent: int = 0
    """Bytes of those frames."""
    ticks: int = 0
    """Runs of the data generator."""

    def copy(self) -> Self:
        """A snapshot, safe to keep while the simulator goes on counting."""
        return dataclasses.replace(self)


@dataclass(slots=True)
class Counters(SimCounters):
    """The Massive dialect's running totals since the simulator started (``sim.counters`` is a copy)."""

    auth_success: int = 0
    auth_failed: int = 0
    auth_timeout: int = 0
    subscribes: int = 0
    unsubscribes: int = 0
    invalid: int = 0
    evictions: int = 0
    """Connections closed with ``max_connections``."""
    slow_consumers: int = 0
    events_sent: int = 0
