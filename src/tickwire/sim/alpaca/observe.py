"""What a test can see of the Alpaca simulator: upgrades, client actions, connections, counters.

Snapshots only, safe to hand to another thread. Keys appear as their fingerprint
(:func:`tickwire.sim.observe.key_id`), never in clear; secrets never.
"""

from __future__ import annotations

from dataclasses import dataclass

from tickwire.sim.observe import SimCounters

__all__ = ["AlpacaAction", "AlpacaConnectionInfo", "AlpacaCounters", "AlpacaHandshake"]


@dataclass(frozen=True, slots=True)
class AlpacaHandshake:
    """One upgrade that reached an Alpaca path, as the server saw it."""

    path: str
    feed: str
    encoding: str
    """``json`` or ``msgpack`` (from ``Content-Type``)."""
    header_key_id: str | None
    """The fingerprint of ``APCA-API-KEY-ID``, when header authentication was tried."""
    user_agent: str
    status: int
    """101 when accepted, else the HTTP status it was refused with."""
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class AlpacaAction:
    """One client message, in arrival order (``invalid`` for one that was not a client message).

    ``channels`` holds the channels and symbols of a subscribe or unsubscribe exactly as sent;
    ``key_id`` the key's fingerprint for ``auth``. ``error`` is the code it was answered with.
    """

    seq: int
    conn_id: int
    feed: str
    action: str
    channels: dict[str, tuple[str, ...]]
    key_id: str | None
    error: int | None
    at: float


@dataclass(frozen=True, slots=True)
class AlpacaConnectionInfo:
    """One live connection."""

    id: int
    feed: str
    encoding: str
    authenticated: bool
    key_id: str | None
    subscriptions: dict[str, tuple[str, ...]]
    """Channel → symbols as acked (non-empty channels only)."""
    muted: bool
    closing: bool
    connected_at: float
    frames_sent: int
    events_sent: int


@dataclass(slots=True)
class AlpacaCounters(SimCounters):
    """The Alpaca dialect's running totals (``frames_sent``/``bytes_sent`` count data frames)."""

    auth_success: int = 0
    auth_failed: int = 0
    auth_timeout: int = 0
    subscribes: int = 0
    unsubscribes: int = 0
    invalid: int = 0
    errors_sent: int = 0
    connection_limit: int = 0
    """Sessions refused 406 (the slot was taken, or held while a dead session is reaped)."""
    slow_clients: int = 0
    events_sent: int = 0
