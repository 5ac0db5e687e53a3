"""The judge itself: a sink's loss, duplicate, wrong value or phantom row is counted, never missed."""

from __future__ import annotations

from tests.system.chaos.verdict import judge

TRUTH = {("j", 1): ("t", "A", 1.0), ("j", 2): ("t", "B", 2.0), ("j", 3): ("t", "C", 3.0)}


def test_exact_copy_is_exact() -> None:
    assert judge("s", TRUTH, list(TRUTH.items())).exact


def test_every_kind_of_difference_is_counted() -> None:
    held = [
        (("j", 1), ("t", "A", 1.0)),
        (("j", 1), ("t", "A", 1.0)),
        (("j", 2), ("t", "B", 2.5)),
        (("j", 9), ("t", "Z", 0.0)),
    ]
    v = judge("s", TRUTH, held)
    assert (v.expected, v.written, v.lost, v.duplicated, v.wrong, v.phantom) == (3, 4, 1, 1, 1, 1)
    assert not v.exact


def test_dead_letters_must_be_absent() -> None:
    assert judge("s", TRUTH, list(TRUTH.items())[:2], excused={("j", 3)}).exact
    held_anyway = judge("s", TRUTH, list(TRUTH.items()), excused={("j", 3)})
    assert held_anyway.phantom == 1 and not held_anyway.exact
