"""Who gets what, sans I/O: the clients' channels, their union upstream, and the route of each event.

Theory of operation
-------------------
A channel is ``<PREFIX>.<TICKER>`` (``T.AAPL``) or a wildcard ``<PREFIX>.*``. Each client holds a
set of channels; clients with *equal* sets share one :class:`Group`, so an event is framed once per
group and the same bytes go to every member (100 clients on ``T.*`` cost one frame, not 100).

The **upstream set** is the union of every client's channels, reduced: a prefix any client holds
as a wildcard is subscribed upstream as ``<PREFIX>.*`` alone, otherwise as the exact channels held.
Each channel is reference-counted (how many clients hold it), so a channel leaves the upstream set
only when its last holder leaves or disconnects. :meth:`Router.add`, :meth:`Router.remove` and
:meth:`Router.drop` return the :class:`UpstreamChange` to apply: *subscribe first, then
unsubscribe*, so ``T.AAPL`` → ``T.*`` (and back) never leaves a window in which AAPL is not
subscribed.

Routing (:meth:`Router.match`) is two dict lookups: the groups holding ``<PREFIX>.*`` and those
holding ``(<PREFIX>, key(ticker))``. A group holding both ``T.*`` and ``T.AAPL`` is indexed only
under the wildcard, so it never gets an event twice. ``key`` normalises tickers the way the
dialect needs (the Massive one folds ``C:EURUSD`` and ``EUR/USD`` together); it is applied to
subscribed tickers here and to event symbols by the caller.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["WILDCARD", "Group", "Router", "UpstreamChange", "split"]

WILDCARD = "*"
K = TypeVar("K")


def split(channel: str) -> tuple[str, str]:
    """``"T.BRK.A"`` → ``("T", "BRK.A")``: split at the first dot (the channel must hold one)."""
    prefix, _, ticker = channel.partition(".")
    return prefix, ticker


def _identity(ticker: str) -> str:
    return ticker


@dataclass(frozen=True, slots=True)
class UpstreamChange:
    """What to send upstream after a client changed: ``subscribe`` first, then ``unsubscribe``."""

    subscribe: tuple[str, ...] = ()
    unsubscribe: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.subscribe or self.unsubscribe)


@dataclass(eq=False, slots=True)
class Group:
    """Clients with exactly the same channels: one frame per event batch serves them all."""

    id: int
    channels: frozenset[str]
    members: dict[int, None] = field(default_factory=dict)  # client ids, an ordered set

    def __repr__(self) -> str:
        return f"<Group #{self.id} {sorted(self.channels)} members={len(self.members)}>"


class Router:
    """Reference-counted subscriptions of many clients over one upstream, and event routing."""

    def __init__(self, key: Callable[[str], str] = _identity) -> None:
        self.key = key
        self._clients: dict[int, Group] = {}
        self._groups: dict[frozenset[str], Group] = {}
        self._refs: dict[str, int] = {}
        self._wild: dict[str, list[Group]] = {}
        self._exact: dict[tuple[str, str], list[Group]] = {}
        self._upstream: frozenset[str] = frozenset()
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ observation

    @property
    def upstream(self) -> frozenset[str]:
        """The channels subscribed upstream (the reduced union)."""
        return self._upstream

    def channels(self, client: int) -> frozenset[str]:
        """A client's channels (empty for an unknown client)."""
        group = self._clients.get(client)
        return group.channels if group is not None else frozenset()

    def refcount(self, channel: str) -> int:
        """How many clients hold ``channel``."""
        return self._refs.get(channel, 0)

    @property
    def groups(self) -> list[Group]:
        return list(self._groups.values())

    def holders(self, channel: str) -> list[int]:
        """The clients holding ``channel`` exactly (not through a wildcard)."""
        return [cid for g in self._groups.values() if channel in g.channels for cid in g.members]

    # ------------------------------------------------------------------ changes

    def add(self, client: int, channels: Iterable[str]) -> UpstreamChange:
        """``client`` now also holds ``channels`` (registering it if new)."""
        current = self.channels(client)
        return self._move(client, current | frozenset(channels))

    def remove(self, client: int, channels: Iterable[str]) -> UpstreamChange:
        """``client`` no longer holds ``channels``."""
        current = self.channels(client)
        return self._move(client, current - frozenset(channels))

    def drop(self, client: int) -> UpstreamChange:
        """``client`` is gone: release everything it held (a client never seen changes nothing)."""
        return self._move(client, frozenset())

    def _move(self, client: int, wanted: frozenset[str]) -> UpstreamChange:
        old = self._clients.pop(client, None)
        if old is not None and old.channels == wanted:
            self._clients[client] = old
            return UpstreamChange()
        if old is not None:
            del old.members[client]
            for channel in old.channels:
                left = self._refs[channel] - 1
                if left:
                    self._refs[channel] = left
                else:
                    del self._refs[channel]
            if not old.members:
                self._retire(old)
        if wanted:  # a client holding nothing is in no group
            group = self._groups.get(wanted)
            if group is None:
                group = self._groups[wanted] = Group(next(self._ids), wanted)
                self._index(group)
            group.members[client] = None
            self._clients[client] = group
            for channel in wanted:
                self._refs[channel] = self._refs.get(channel, 0) + 1
        return self._reconcile()

    def _reconcile(self) -> UpstreamChange:
        wild = {split(c)[0] for c in self._refs if split(c)[1] == WILDCARD}
        target = frozenset(c for c in self._refs if split(c)[1] == WILDCARD or split(c)[0] not in wild)
        before, self._upstream = self._upstream, target
        return UpstreamChange(tuple(sorted(target - before)), tuple(sorted(before - target)))

    # ------------------------------------------------------------------ the routing index

    def _entries(self, group: Group) -> list[tuple[str, str]]:
        """``(prefix, "*")`` or ``(prefix, key(ticker))`` under which a group is indexed."""
        wild = {split(c)[0] for c in group.channels if split(c)[1] == WILDCARD}
        out: list[tuple[str, str]] = [(p, WILDCARD) for p in wild]
        for channel in group.channels:
            prefix, ticker = split(channel)
            if prefix not in wild:
                out.append((prefix, self.key(ticker)))
        return list(dict.fromkeys(out))

    def _index(self, group: Group) -> None:
        for prefix, ticker in self._entries(group):
            if ticker == WILDCARD:
                self._wild.setdefault(prefix, []).append(group)
            else:
                self._exact.setdefault((prefix, ticker), []).append(group)

    def _retire(self, group: Group) -> None:
        del self._groups[group.channels]
        for prefix, ticker in self._entries(group):
            if ticker == WILDCARD:
                _unlist(self._wild, prefix, group)
            else:
                _unlist(self._exact, (prefix, ticker), group)

    def match(self, prefix: str, key: str | None) -> list[Group]:
        """The groups an event of channel ``prefix`` about ticker ``key`` (already normalised) goes to."""
        wild = self._wild.get(prefix)
        exact = self._exact.get((prefix, key)) if key is not None else None
        if exact is None:
            return wild if wild is not None else []
        if wild is None:
            return exact
        return wild + exact


def _unlist(table: dict[K, list[Group]], k: K, group: Group) -> None:
    groups = table[k]
    groups.remove(group)
    if not groups:
        del table[k]
