"""Capped exponential backoff with full jitter, as a pure, seedable generator.

``delay(n) = uniform(0, min(cap, base * factor**n))`` ("full jitter", AWS architecture
blog): spreads reconnecting clients apart so a server restart is not met by a thundering
herd. A floor (``minimum``) keeps even the luckiest draw from being a hot loop.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """Reconnect delays. ``next()`` gives the next delay; ``reset()`` starts over after a stable period."""

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    minimum: float = 0.05
    seed: int | None = None
    attempt: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.factor < 1 or self.cap <= 0 or self.minimum < 0:
            raise ValueError("backoff needs base > 0, factor >= 1, cap > 0, minimum >= 0")
        self._rng = random.Random(self.seed)

    def ceiling(self, attempt: int | None = None) -> float:
        """The upper bound of the delay for ``attempt`` (default: the next one)."""
        n = self.attempt if attempt is None else attempt
        # exponent clamp avoids float overflow after very many attempts
        return min(self.cap, self.base * self.factor ** min(n, 64))

    def next(self) -> float:
        """The next delay in seconds; advances the attempt counter."""
        upper = self.ceiling()
        self.attempt += 1
        return max(self.minimum, self._rng.uniform(0.0, upper))

    def reset(self) -> None:
        self.attempt = 0

    def __iter__(self) -> Iterator[float]:
        while True:
            yield self.next()
