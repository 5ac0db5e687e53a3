"""Subscription bookkeeping shared by providers: desired, pending and confirmed sets.

Theory of operation
-------------------
``desired`` is what the user asked for, kept across connections in insertion order;
it is the single source of truth for resubscribing. ``confirmed`` is what the current
connection's server acknowledged; ``pending_sub``/``pending_unsub`` were sent and await
an acknowledgement. A new connection clears everything but ``desired``; ``diff()`` then
yields exactly the channels to (un)subscribe so that the server converges on
``desired``. A channel the server rejects leaves ``desired`` (so it is not re-sent
forever) and is reported by the session as an event.
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

    def add(self, channels: Iterable[str]) -> list[str]:
        """Add to the desired set; returns the channels that were new."""
        new = [c for c in dict.fromkeys(channels) if c not in self.desired]
        for c in new:
            self.desired[c] = None
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

    def reject(self, channel: str) -> None:
        """The server refused ``channel``: forget it everywhere, desired included."""
        self.pending_sub.discard(channel)
        self.pending_unsub.discard(channel)
        self.confirmed.discard(channel)
        self.desired.pop(channel, None)

    @property
    def pending(self) -> set[str]:
        return self.pending_sub | self.pending_unsub

    def __repr__(self) -> str:
        return (
            f"SubscriptionSet(desired={len(self.desired)}, confirmed={len(self.confirmed)}, "
            f"pending={len(self.pending_sub) + len(self.pending_unsub)})"
        )
