"""A sink's content against the journal: written, lost, duplicated, wrong, phantom."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tests.system.chaos.stores import Held, Key, Row

__all__ = ["Verdict", "judge"]


@dataclass
class Verdict:
    """How one sink's rows compare with the journal's stored events."""

    sink: str
    expected: int
    written: int
    lost: int
    duplicated: int
    wrong: int
    phantom: int
    examples: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        """Every journal event once, with its content, and nothing else."""
        return self.written == self.expected and not (
            self.lost or self.duplicated or self.wrong or self.phantom
        )

    def __str__(self) -> str:
        text = (
            f"{self.sink}: {self.written} rows for {self.expected} journal events, lost {self.lost}, "
            f"duplicated {self.duplicated}, wrong {self.wrong}, phantom {self.phantom}"
        )
        return text + (f" (e.g. {'; '.join(self.examples)})" if self.examples else "")


def judge(
    sink: str, truth: dict[Key, Row], held: Held, *, excused: frozenset[Key] | set[Key] = frozenset()
) -> Verdict:
    """Compare ``held`` with ``truth``; ``excused`` keys (the sink's dead letters) must be absent:
    held, they count as phantoms."""
    counts = Counter(k for k, _ in held)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    want = {k: v for k, v in truth.items() if k not in excused}
    lost_keys = [k for k in want if k not in counts]
    phantom_keys = [k for k in counts if k not in want]
    wrong_keys = [k for k, row in held if k in truth and row != truth[k]]
    examples = (
        [f"lost {k[1] >> 20}:{k[1] & 0xFFFFF}" for k in lost_keys[:2]]
        + [f"twice {k[1] >> 20}:{k[1] & 0xFFFFF}" for k, n in counts.items() if n > 1][:2]
        + [f"wrong {k[1] >> 20}:{k[1] & 0xFFFFF}: {row} != {truth[k]}" for k, row in held if k in wrong_keys][
            :2
        ]
        + [f"phantom {k}" for k in phantom_keys[:2]]
    )
    return Verdict(
        sink=sink,
        expected=len(want),
        written=len(held),
        lost=len(lost_keys),
        duplicated=duplicated,
        wrong=len(set(wrong_keys)),
        phantom=len(phantom_keys),
        examples=examples,
    )
