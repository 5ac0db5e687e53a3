"""Where a fuzz case's choices come from: a byte string, then a PRNG seeded by it.

Every generator and mutator in this package takes a :class:`Chooser` and asks it for small
decisions (``below(n)``, ``choice(seq)``, ``chance(p)``). Under hypothesis the chooser reads a
``st.binary()`` draw, so hypothesis shrinks a failure by shrinking bytes (shorter and smaller
bytes mean earlier, simpler options); once the bytes run out, the remaining choices come from
``random.Random(bytes)``, so a case is still fully determined by its bytes. The long run
(``benchmarks/fuzz.py``) builds choosers from plain seeds and runs the very same code.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["Chooser"]

T = TypeVar("T")


class Chooser:
    """Deterministic choices from ``data`` (then from a PRNG seeded by ``data`` or ``seed``)."""

    __slots__ = ("_data", "_pos", "_rng", "_seed")

    def __init__(self, data: bytes = b"", seed: int | None = None) -> None:
        self._data = data
        self._pos = 0
        self._seed: int | bytes = data if seed is None else seed
        self._rng: random.Random | None = None

    def __repr__(self) -> str:
        return f"Chooser({self._data!r})" if isinstance(self._seed, bytes) else f"Chooser(seed={self._seed})"

    def _random(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random(self._seed)
        return self._rng

    def below(self, n: int) -> int:
        """An integer in ``[0, n)`` (``n >= 1``); small byte values give small results."""
        if n <= 1:
            return 0
        width = 1 if n <= 256 else 2 if n <= 65_536 else 4
        if self._pos + width <= len(self._data):
            value = int.from_bytes(self._data[self._pos : self._pos + width], "little")
            self._pos += width
            return value % n
        self._pos = len(self._data)
        return self._random().randrange(n)

    def integer(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]``."""
        return lo + self.below(hi - lo + 1)

    def chance(self, p: float) -> bool:
        """True with probability about ``p``."""
        return self.below(1024) < p * 1024

    def choice(self, options: Sequence[T]) -> T:
        return options[self.below(len(options))]

    def binary(self, max_size: int) -> bytes:
        """Up to ``max_size`` arbitrary bytes."""
        n = self.below(max_size + 1)
        return bytes(self.below(256) for _ in range(n))

    def real(self) -> float:
        """A float in ``[0, 1)``."""
        return self.below(1 << 30) / (1 << 30)
