"""Journal positions: one ``int`` naming an event exactly, the unit of every sink's watermark.

A journal numbers its records ``0, 1, 2 ...`` over its whole life (the *record sequence*, kept in
each record's header). An event's position is its record's sequence and its index among the events
decoded from that record, packed as ``seq << IDX_BITS | idx``: positions grow with the journal, so a
sink that stores "complete up to position P" (its *watermark*, exclusive) atomically with its rows
knows exactly what it holds, and a replay from P writes each event once. ``position(seq)`` (index
0) is where record ``seq`` starts, so a watermark of ``position(head)`` means "every record before
``head``".
"""

from __future__ import annotations

__all__ = ["IDX_BITS", "MAX_EVENTS_PER_RECORD", "idx_of", "position", "seq_of", "show_position"]

IDX_BITS = 20
MAX_EVENTS_PER_RECORD = 1 << IDX_BITS
"""Events one record (frame) may decode to; a frame holding more is refused as a whole (dead letter)."""

_IDX_MASK = MAX_EVENTS_PER_RECORD - 1


def position(seq: int, idx: int = 0) -> int:
    """The position of event ``idx`` of record ``seq``."""
    return (seq << IDX_BITS) | idx


def seq_of(pos: int) -> int:
    """The record sequence of a position."""
    return pos >> IDX_BITS


def idx_of(pos: int) -> int:
    """The event index (within its record) of a position."""
    return pos & _IDX_MASK


def show_position(pos: int) -> str:
    """``"1234:5"`` (record 1234, event 5): how positions are shown to people."""
    return f"{pos >> IDX_BITS}:{pos & _IDX_MASK}"
