"""Subscription bookkeeping shared by providers: desired, pending and confirmed sets.

Theory of operation
-------------------
``desired`` is what the user asked for, kept across connections in insertion order;
it is the single source of truth for resubscribing. ``confirmed`` is what the current
connection's server acknowledged; ``pending_sub``/``pending_unsub`` were sent and await
an acknowledgement. A new connection clears everything but ``desired``; ``diff()`` then
yields exactly the channels to (un)subscribe so that the server converges on
``desired``. A channel the server rejects (a plan without the entitlement, a malformed
ticker) leaves ``desired``, so it is not re-sent after every reconnect; it is kept in
``rejected`` with the server's message and counted, and the session reports it once as an event.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["SubscriptionSet"]


class SubscriptionSet:
    """Desired / pending / confirmed channel sets of one logical stream."""

    def __init__(self) -> None:
        self.desired: dict[str, None] = {}  # a dict keeps insertion order
        self.confirmed: set[str] = set()
        self.pending_sub: set[str] = set()
        self.pending_unsub: set[str] = set()
        self._removed: dict[str, None] = {}  # removal order, so unsubscribe requests keep it
        self.rejected: dict[str, str] = {}  # channel -> the server's message
        self.rejected_count = 0

    def add(self, channels: Iterable[str]) -> list[str]:
        """Add to the desired set; returns the channels that were new."""
        new = [c for c in dict.fromkeys(channels) if c not in self.desired]
        for c in new:
            self.desired[c] = None
            self.rejected.pop(c, None)  # asked again: the user wants it tried again
        return new

    def remove(self, channels: Iterable[str]) -> list[str]:
        """Remove from the desired set; returns the channels that were there."""
        gone = [c for c in dict.fromkeys(channels) if c in self.desired]
        for c in gone:
            del self.desired[c]
            self._removed[c] = None
        return gone

    def clear(self) -> list[str]:
        gone = list(self.desired)
        self._removed.update(self.desired)
        self.desired.clear()
        return gone

    def reset_connection(self) -> None:
        """A new connection: nothing is confirmed or pending on it yet."""
        self.confirmed.clear()
        self.pending_sub.clear()
        self.pending_unsub.clear()

    def diff(self) -> tuple[list[str], list[str]]:
        """Channels to subscribe and to unsubscribe now; marks them pending."""
        active = self.confirmed | self.pending_sub
        to_sub = [c for c in self.desired if c not in active]
        leaving = {c for c in active - self.pending_unsub if c not in self.desired}
        # in the order the user removed them (then any others, sorted): requests read as asked
        to_unsub = [c for c in self._removed if c in leaving]
        to_unsub += sorted(leaving.difference(to_unsub))
        self._removed.clear()
        self.pending_sub.update(to_sub)
        self.pending_unsub.update(to_unsub)
        return to_sub, to_unsub

    def confirm_subscribed(self, channel: str) -> None:
        self.pending_sub.discard(channel)
        self.confirmed.add(channel)

    def confirm_unsubscribed(self, channel: str) -> None:
        self.pending_unsub.discard(channel)
        self.pending_sub.discard(channel)
        self.confirmed.discard(channel)

    def reject(self, channel: str, message: str = "") -> bool:
        """The server refused ``channel``: forget it everywhere, desired included, and remember why.
        False if it was not ours (nothing desired, pending or confirmed by that name)."""
        known = channel in self.desired or channel in self.pending or channel in self.confirmed
        self.pending_sub.discard(channel)
        self.pending_unsub.discard(channel)
        self.confirmed.discard(channel)
        self.desired.pop(channel, None)
        if known:
            self.rejected[channel] = message
            self.rejected_count += 1
        return known

    def oldest_pending(self) -> str | None:
        """The pending subscription sent first (requests go out in desired order), or None: the one
        a server reply that names no channel answers."""
        return next((c for c in self.desired if c in self.pending_sub), None)

    @property
    def pending(self) -> set[str]:
        return self.pending_sub | self.pending_unsub

    def __repr__(self) -> str:
        return (
            f"SubscriptionSet(desired={len(self.desired)}, confirmed={len(self.confirmed)}, "
            f"pending={len(self.pending_sub) + len(self.pending_unsub)})"
        )
