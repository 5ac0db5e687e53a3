"""The lease state machine without NATS: create, renew, takeover after an unchanged ttl, fencing."""

from __future__ import annotations

import pytest

from tickwire.ha.lease import Entry, LeaseLost, LeaseMachine, LeaseValue

TTL = 3.0


def leader(name: str = "a", revision: int = 1, now: float = 0.0) -> LeaseMachine:
    m = LeaseMachine(name, ttl=TTL)
    act = m.observe(None, now, 0)
    assert act.kind == "create" and act.value is not None and act.value.holder == name
    m.acquired(revision)
    return m


def test_a_missing_key_is_created_and_its_revision_is_the_epoch() -> None:
    m = leader(revision=7)
    assert (m.state, m.epoch, m.previous) == ("leader", 7, None)
    end = TTL - m.guard  # the guard: it stops before any standby may take over
    assert m.fence(1.0) == 7 and m.valid(end - 0.01) and not m.valid(end) and m.guard > 0


def test_the_leader_renews_every_third_of_the_ttl_and_keeps_its_epoch() -> None:
    m = leader(revision=5)
    assert m.next_renewal(0.5, 0).kind == "wait"
    act = m.next_renewal(1.0, 123)
    assert act.kind == "update" and act.revision == 5 and act.value is not None
    assert (act.value.epoch, act.value.renewed_ns) == (5, 123)
    m.renewed(6)
    assert m.revision == 6 and m.epoch == 5
    end = 1.0 + TTL - m.guard  # from the renewal's send time
    assert m.valid(end - 0.01) and not m.valid(end)


def test_a_standby_takes_over_only_after_the_revision_stayed_the_same_for_the_ttl() -> None:
    held = Entry(4, LeaseValue(holder="a", epoch=4))
    b = LeaseMachine("b", ttl=TTL)
    assert b.observe(held, 10.0, 0).kind == "wait"
    assert b.observe(Entry(5, held.value), 12.0, 0).kind == "wait"  # renewed: the clock starts again
    wait = b.observe(Entry(5, held.value), 14.9, 0)
    assert wait.kind == "wait" and 0 < wait.delay <= TTL
    act = b.observe(Entry(5, held.value), 15.0, 0)
    assert act.kind == "update" and act.revision == 5
    b.acquired(6)
    assert (b.epoch, b.previous) == (6, held.value)


def test_a_released_lease_is_taken_at_once() -> None:
    b = LeaseMachine("b", ttl=TTL)
    act = b.observe(Entry(9, LeaseValue(holder="", epoch=8)), 0.0, 0)
    assert act.kind == "update" and act.revision == 9


def test_a_lost_race_reads_again_and_a_conflict_on_renewal_loses_the_lease_at_once() -> None:
    b = LeaseMachine("b", ttl=TTL)
    b.observe(None, 0.0, 0)
    assert b.refused().kind == "read" and b.state == "standby"
    m = leader()
    m.next_renewal(1.0, 0)
    assert m.renewal_failed(1.1, conflict=True).kind == "read"
    assert m.state == "standby"
    with pytest.raises(LeaseLost):
        m.fence(1.1)


def test_a_network_failure_is_retried_while_valid_and_fences_after() -> None:
    m = leader()
    m.next_renewal(1.0, 0)
    assert m.renewal_failed(1.5, conflict=False).kind == "wait" and m.state == "leader"
    end = TTL - m.guard
    assert m.fence(end - 0.01) == 1
    with pytest.raises(LeaseLost, match="not publishing"):
        m.fence(end)  # a process frozen past the ttl: fenced on its own clock, no I/O needed
    assert m.renewal_failed(end, conflict=False).kind == "read" and m.state == "standby"


def test_no_two_leaders_under_the_clock_assumption() -> None:
    """Leader a's last successful renewal was sent at 1.0; b first saw its revision no earlier."""
    a = leader("a", revision=1)
    a.next_renewal(1.0, 0)
    a.renewed(2)
    b = LeaseMachine("b", ttl=TTL)
    seen = 1.0  # the earliest b can have read revision 2
    b.observe(Entry(2, LeaseValue(holder="a", epoch=1)), seen, 0)
    for t in (seen + 1, seen + 2, seen + TTL - 0.001):
        assert b.observe(Entry(2, LeaseValue(holder="a", epoch=1)), t, 0).kind == "wait"
    assert b.observe(Entry(2, LeaseValue(holder="a", epoch=1)), seen + TTL, 0).kind == "update"
    assert not a.valid(seen + TTL - a.guard)  # a stopped a guard before b could take over


def test_release_writes_an_empty_holder() -> None:
    m = leader(revision=3)
    act = m.release_value(0)
    assert act.kind == "update" and act.revision == 3 and act.value is not None and act.value.holder == ""
