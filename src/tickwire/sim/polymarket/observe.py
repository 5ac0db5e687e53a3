"""What a test can see of the Polymarket US simulator: upgrade attempts, connections, counters.

Snapshots only, safe to hand to another thread. A key id is a public identifier (it travels in
clear in ``X-PM-Access-Key``); the signature is kept to tell attempts apart, never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickwire.sim.observe import SimCounters

__all__ = ["HandshakeRecord", "PmConnectionInfo", "PmCounters"]


@dataclass(frozen=True, slots=True)
class HandshakeRecord:
    """One upgrade attempt as the server saw it (the signature is kept to compare attempts)."""

    path: str
    key_id: str
    timestamp: str
    signature: str
    status: int
    """101 when accepted, else the HTTP status it was refused with."""
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class PmConnectionInfo:
    """One live connection."""

    id: int
    socket: str
    key_id: str
    subscriptions: dict[str, tuple[str, tuple[str, ...]]]
    """requestId → (subscription type name, market slugs)."""
    muted: bool
    frames_sent: int


@dataclass(slots=True)
class PmCounters(SimCounters):
    """The Polymarket US dialect's running totals (``frames_sent`` counts every frame sent)."""

    auth_failed: int = 0
    """Upgrades refused 401 (missing headers, unknown key, clock skew, bad signature)."""
    subscribes: int = 0
    unsubscribes: int = 0
    errors_sent: int = 0
    heartbeats_sent: int = 0
