"""The HA lease as a sans-I/O state machine: which recorder may hold the vendor's one connection.

Theory of operation
-------------------
The lease is one key in a JetStream KV bucket. Its value (:class:`LeaseValue`) names the holder and
the epoch; its KV *revision* changes on every write. Every write is a compare-and-set: ``create``
(the key must not exist) or ``update`` with the revision last read, so of two contenders exactly
one wins.

* **Standby**: reads the key every ``poll`` s. A missing key is created; a released one (empty
  holder) is taken at once; otherwise the standby notes the revision and *when it first saw it* on
  its own monotonic clock, and takes over (``update`` with that revision) only once the revision
  stayed the same for ``ttl`` s. Expiry is judged by what this process observed, so the hosts'
  wall clocks do not matter (nats-server 2.9 has no per-key TTL). The revision of the winning
  write is the new **epoch**: it only grows, across holders.
* **Leader**: renews (``update`` with its own last revision) every ``renew_every`` s (``ttl / 3``).
  It considers the lease held until ``sent + ttl - guard``, where ``sent`` is when its last
  *successful* renewal was sent: a standby saw that revision no earlier than it was written, so it
  cannot take over before ``sent + ttl`` (the same clock rate on both hosts is the one
  assumption), and the ``guard`` (``ttl / 5``) leaves the old leader that long to close its
  upstream connection first. A renewal that fails for the
  network is retried while the lease is still valid; a compare-and-set that fails means another
  process holds it: lost at once. :meth:`LeaseMachine.fence` is the check before every publish
  batch and every upstream (re)connect: it raises :class:`LeaseLost` once the lease is not valid.

The machine does no I/O: the caller (:mod:`tickwire.ha.supervisor`) performs the returned
:class:`Action` and reports the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from tickwire.errors import LeaseLost

__all__ = ["Action", "Entry", "LeaseLost", "LeaseMachine", "LeaseValue", "State"]

State = Literal["standby", "leader"]


class LeaseValue(msgspec.Struct, frozen=True, kw_only=True):
    """The lease key's value. ``epoch`` is the revision at which ``holder`` acquired it (0 in the
    acquiring write itself: its revision is the epoch); ``renewed_ns`` the holder's wall clock at
    its last write (shown as the lease age; never used to decide); ``holder`` empty: released."""

    holder: str
    epoch: int = 0
    renewed_ns: int = 0
    ttl: float = 0.0
    host: str = ""
    pid: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """The lease key as read: its revision and value (None when the value is unreadable)."""

    revision: int
    value: LeaseValue | None


@dataclass(frozen=True, slots=True)
class Action:
    """What to do next: ``wait`` ``delay`` s, ``read`` the key, ``create`` it, or ``update`` it
    with ``revision`` expected; ``value`` is what to write."""

    kind: Literal["wait", "read", "create", "update"]
    delay: float = 0.0
    revision: int = 0
    value: LeaseValue | None = None


class LeaseMachine:
    """One process's view of the lease (see the module doc); every ``now`` is monotonic seconds."""

    def __init__(
        self,
        holder: str,
        *,
        ttl: float = 5.0,
        renew_every: float | None = None,
        poll: float | None = None,
        host: str = "",
        pid: int = 0,
    ) -> None:
        if ttl <= 0:
            raise ValueError("the lease ttl must be > 0")
        self.holder = holder
        self.ttl = ttl
        self.renew_every = renew_every if renew_every is not None else ttl / 3
        self.poll = poll if poll is not None else ttl / 6
        self.guard = ttl / 5
        """How long before a standby may take over the leader stops considering the lease held."""
        self.host = host
        self.pid = pid
        self.state: State = "standby"
        self.epoch = 0
        self.revision = 0
        """The revision of this process's last successful write (leader) or last read (standby)."""
        self.previous: LeaseValue | None = None
        """The value this process took the lease over from (None: created or released)."""
        self._sent = 0.0
        self._pending_sent = 0.0
        self._seen_rev = -1
        self._seen_at = 0.0

    # ------------------------------------------------------------------ queries

    def valid(self, now: float) -> bool:
        """Whether this process holds the lease at ``now`` (leader, and before :attr:`expires`)."""
        return self.state == "leader" and now < self.expires

    @property
    def expires(self) -> float:
        """When (monotonic) this leader stops, unless it renews: the last successful renewal's send
        time + ttl - guard."""
        return self._sent + self.ttl - self.guard

    def fence(self, now: float) -> int:
        """The epoch to stamp, or :class:`LeaseLost` when the lease is not held at ``now``."""
        if not self.valid(now):
            raise LeaseLost(f"HA lease not held by {self.holder} (epoch {self.epoch}): not publishing")
        return self.epoch

    def _value(self, epoch: int, wall_ns: int) -> LeaseValue:
        return LeaseValue(
            holder=self.holder, epoch=epoch, renewed_ns=wall_ns, ttl=self.ttl, host=self.host, pid=self.pid
        )

    # ------------------------------------------------------------------ standby

    def observe(self, entry: Entry | None, now: float, wall_ns: int) -> Action:
        """A standby read the key (``None``: no such key): what to do about it."""
        if self.state == "leader":
            raise RuntimeError("observe() is for a standby")
        if entry is None:
            self.previous = None
            return self._attempt(Action("create", value=self._value(0, wall_ns)), now)
        v = entry.value
        if v is not None and not v.holder:  # released by a clean shutdown: take it now
            self.previous = v
            return self._attempt(
                Action("update", revision=entry.revision, value=self._value(0, wall_ns)), now
            )
        if entry.revision != self._seen_rev:
            self._seen_rev, self._seen_at = entry.revision, now
        age = now - self._seen_at
        if age >= self.ttl:  # unchanged for a whole ttl, as seen from here: the holder is gone
            self.previous = v
            return self._attempt(
                Action("update", revision=entry.revision, value=self._value(0, wall_ns)), now
            )
        return Action("wait", delay=min(self.poll, self.ttl - age))

    def _attempt(self, action: Action, now: float) -> Action:
        self._pending_sent = now
        return action

    def acquired(self, revision: int) -> None:
        """The create/update of :meth:`observe` succeeded with ``revision``: leader, epoch ``revision``."""
        self.state = "leader"
        self.epoch = self.revision = revision
        self._sent = self._pending_sent

    def refused(self) -> Action:
        """The create/update lost the race (wrong revision, key exists): stay standby, read again."""
        self._seen_rev = -1
        return Action("read")

    # ------------------------------------------------------------------ leader

    def next_renewal(self, now: float, wall_ns: int) -> Action:
        """A leader's next step: wait until the renewal is due, then ``update``."""
        due = self._sent + self.renew_every
        if now < due:
            return Action("wait", delay=due - now)
        self._pending_sent = now
        return Action("update", revision=self.revision, value=self._value(self.epoch, wall_ns))

    def renewed(self, revision: int) -> None:
        """The renewal sent at the last :meth:`next_renewal` was written as ``revision``."""
        self.revision = revision
        self._sent = self._pending_sent

    def renewal_failed(self, now: float, conflict: bool) -> Action:
        """The renewal failed: for a conflict (another holder) the lease is lost now; for the
        network, retry shortly while still valid, lost after."""
        if conflict or not self.valid(now):
            self.lose()
            return Action("read")
        return Action("wait", delay=min(self.poll, 0.2))

    def lose(self) -> None:
        """Back to standby (lease lost, or given up)."""
        self.state = "standby"
        self._seen_rev = -1

    def release_value(self, wall_ns: int) -> Action:
        """The write that gives the lease up on a clean shutdown (a standby takes it at once)."""
        return Action(
            "update",
            revision=self.revision,
            value=LeaseValue(holder="", epoch=self.epoch, renewed_ns=wall_ns),
        )
