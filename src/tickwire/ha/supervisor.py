"""Runs the lease: standby until this process holds it, then one *term* of work, until it is lost.

:func:`run_ha` drives a :class:`~tickwire.ha.lease.LeaseMachine` against a
:class:`~tickwire.ha.store.LeaseStore`: as a standby it reads the key every ``poll`` s and takes
the lease when the machine says so; as the leader it runs ``term(Term)`` while a keeper task renews
the lease. The term must end soon after :attr:`Term.lost` is set (the keeper sets it when a renewal
conflicts, or when the lease is older than the ttl because renewals failed or the process was
frozen); then the process is a standby again. On ``stop`` the term ends, and the lease is released
(an empty holder), so a standby takes over without waiting out the ttl.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tickwire.backoff import Backoff
from tickwire.errors import NatsUnavailable
from tickwire.ha.lease import Action, LeaseMachine, LeaseValue
from tickwire.ha.store import LeaseStore
from tickwire.redact import escape_terminal

__all__ = ["GatedBackoff", "Term", "run_ha"]

log = logging.getLogger("tickwire.ha")

T = TypeVar("T")


@dataclass
class Term:
    """One leadership term: its epoch, whom it took over from, and the lease checks."""

    machine: LeaseMachine
    epoch: int
    previous: LeaseValue | None
    lost: asyncio.Event = field(default_factory=asyncio.Event)

    def valid(self) -> bool:
        """Whether the lease is still held (local clock; no I/O)."""
        return self.machine.valid(time.monotonic()) and self.machine.epoch == self.epoch

    def fence(self) -> int:
        """The epoch to stamp on a publish; :class:`~tickwire.ha.lease.LeaseLost` once it is not held."""
        if self.machine.epoch != self.epoch:
            self.machine.lose()
        return self.machine.fence(time.monotonic())


@dataclass
class GatedBackoff(Backoff):
    """Reconnect delays that never let a process without the lease reconnect upstream: while
    ``gate()`` is false the next delay is an hour (the term ends and closes the client first)."""

    gate: Callable[[], bool] | None = None

    def next(self) -> float:
        delay = super().next()
        if self.gate is not None and not self.gate():
            return 3600.0
        return delay


async def run_ha(
    store: LeaseStore,
    machine: LeaseMachine,
    term: Callable[[Term], Awaitable[T]],
    stop: asyncio.Event,
) -> T | None:
    """Stand by, lead, stand by again... until ``stop``; the last term's result (None: never led)."""
    result: T | None = None
    said = ""
    try:
        while not stop.is_set():
            try:
                await store.connect()
                break
            except NatsUnavailable as exc:
                if str(exc) != said:
                    said = str(exc)
                    log.warning("%s; retrying", escape_terminal(said))
                await _wait(stop, machine.poll)
        while not stop.is_set():
            if not await _acquire(store, machine, stop):
                break
            t = Term(machine, machine.epoch, machine.previous)
            log.info("HA: %s holds the lease, epoch %d", machine.holder, t.epoch)
            keeper = asyncio.create_task(_keep(store, machine, t), name="tickwire-ha-keeper")
            try:
                result = await term(t)
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
            if not stop.is_set():
                machine.lose()
    finally:
        if machine.valid(time.monotonic()):
            with contextlib.suppress(NatsUnavailable):
                act = machine.release_value(time.time_ns())
                assert act.value is not None
                await store.write("update", act.revision, act.value)
            machine.lose()
        await store.close()
    return result


async def _wait(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, delay)):
            await stop.wait()


async def _acquire(store: LeaseStore, machine: LeaseMachine, stop: asyncio.Event) -> bool:
    """Until this process holds the lease (True) or ``stop`` (False)."""
    action = Action("read")
    said = ""
    while not stop.is_set():
        try:
            if action.kind == "wait":
                await _wait(stop, action.delay)
                action = Action("read")
            elif action.kind == "read":
                entry = await store.read()
                action = machine.observe(entry, time.monotonic(), time.time_ns())
            else:
                assert action.value is not None
                revision = await store.write(action.kind, action.revision, action.value)
                if revision is None:  # another process won the race
                    action = machine.refused()
                    continue
                machine.acquired(revision)
                return True
            said = ""
        except NatsUnavailable as exc:
            if str(exc) != said:
                said = str(exc)
                log.warning("%s; retrying", escape_terminal(said))
            await _wait(stop, machine.poll)
            action = Action("read")
    return False


async def _keep(store: LeaseStore, machine: LeaseMachine, term: Term) -> None:
    """Renew until the lease is lost, then set ``term.lost``."""
    try:
        while True:
            now = time.monotonic()
            if not machine.valid(now):  # checked first, with no I/O: a process thawed from SIGSTOP
                break
            action = machine.next_renewal(now, time.time_ns())
            if action.kind == "wait":
                left = machine.expires - now  # never sleep past the lease's end
                await asyncio.sleep(max(0.0, min(action.delay, left)))
                continue
            assert action.value is not None
            try:
                revision = await store.write("update", action.revision, action.value)
            except NatsUnavailable as exc:
                log.warning("HA: renewal failed (%s)", escape_terminal(str(exc)))
                after = machine.renewal_failed(time.monotonic(), conflict=False)
                if machine.state != "leader":
                    break
                await asyncio.sleep(after.delay)
                continue
            if revision is None:  # another process holds it now
                machine.renewal_failed(time.monotonic(), conflict=True)
                break
            if not machine.valid(time.monotonic()):  # the answer came after the lease ran out
                break
            machine.renewed(revision)
        log.warning("HA: lease lost (epoch %d): disconnecting upstream, standing by", term.epoch)
    finally:
        term.lost.set()
