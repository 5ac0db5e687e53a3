"""Capped exponential backoff with full jitter: bounds, seeding, reset."""

from __future__ import annotations

from tickwire.backoff import Backoff


def test_backoff_is_capped_jittered_and_seedable() -> None:
    a = [Backoff(base=1, cap=8, seed=7).next() for _ in range(1)]
    b1, b2 = Backoff(base=1, cap=8, seed=7), Backoff(base=1, cap=8, seed=7)
    seq1 = [b1.next() for _ in range(20)]
    assert seq1 == [b2.next() for _ in range(20)]
    assert a[0] == seq1[0]
    assert all(0.05 <= d <= 8 for d in seq1)
    assert [Backoff(base=1, cap=8).ceiling(n) for n in range(6)] == [1, 2, 4, 8, 8, 8]
    assert len(set(seq1)) > 10  # jittered, not constant
    b1.reset()
    assert b1.attempt == 0 and b1.ceiling() == 1
    assert Backoff(cap=30).ceiling(10_000) == 30  # no overflow
