"""The simulated Polymarket US markets: deterministic books and trades per (seed, market, step).

Every market's order book at step ``n`` is a pure function of ``(seed, slug, n)``, so a test can
recompute the book the simulator sent at any ``transactTime`` and compare it with the client's.
Prices are in USD per share between 0.001 and 0.999 on a 0.001 tick; the mid wanders around a
per-market base probability; quantities have two decimals. A step's trades hit the best bid or
lift the best ask of that step's book.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["DEFAULT_MARKETS", "TICK", "Level", "MarketSpec", "PolymarketModel", "SimTrade"]

TICK = Decimal("0.001")
_MIN = Decimal("0.001")
_MAX = Decimal("0.999")

DEFAULT_MARKETS = (
    "btc-100k-2026",
    "fed-cut-june",
    "eth-5k-2026",
    "super-bowl-chiefs",
    "rain-nyc-tomorrow",
    "us-recession-2026",
    "ai-model-tops-benchmark",
    "world-cup-brazil",
)

Level = tuple[Decimal, Decimal]
"""(price, quantity)"""


@dataclass(frozen=True, slots=True)
class MarketSpec:
    slug: str
    base: float  # the probability the mid wanders around
    phase: float
    period: float  # steps per swing


@dataclass(frozen=True, slots=True)
class SimTrade:
    slug: str
    step: int
    seq: int
    price: Decimal
    qty: Decimal
    taker_buys: bool


def _unit(*parts: object) -> float:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class PolymarketModel:
    """Seeded markets: ``book(slug, step)``, ``trades(slug, step)``; pure and cheap to recompute."""

    def __init__(
        self,
        seed: int = 0,
        markets: tuple[str, ...] = DEFAULT_MARKETS,
        *,
        levels: int = 5,
        trade_probability: float = 0.3,
    ) -> None:
        if levels < 1:
            raise ValueError("levels must be >= 1")
        self.seed = seed
        self.levels = levels
        self.trade_probability = trade_probability
        self.specs = {
            slug: MarketSpec(
                slug,
                base=0.1 + 0.8 * _unit(seed, slug, "base"),
                phase=2 * math.pi * _unit(seed, slug, "phase"),
                period=50 + 400 * _unit(seed, slug, "period"),
            )
            for slug in markets
        }

    @property
    def markets(self) -> list[str]:
        return list(self.specs)

    def __contains__(self, slug: object) -> bool:
        return slug in self.specs

    def _rng(self, slug: str, step: int, salt: str) -> random.Random:
        return random.Random(f"{self.seed}:{slug}:{step}:{salt}")

    def mid(self, slug: str, step: int) -> Decimal:
        spec = self.specs[slug]
        wave = 0.08 * math.sin(2 * math.pi * step / spec.period + spec.phase)
        jitter = 0.01 * (self._rng(slug, step, "mid").random() - 0.5)
        p = min(0.95, max(0.05, spec.base + wave + jitter))
        return Decimal(round(p * 1000)) * TICK

    def book(self, slug: str, step: int) -> tuple[list[Level], list[Level]]:
        """``(bids, offers)`` best first at ``step``; never crossed."""
        rng = self._rng(slug, step, "book")
        mid = self.mid(slug, step)
        best_bid = mid - TICK * rng.randint(0, 2)
        best_ask = best_bid + TICK * rng.randint(1, 4)
        bids: list[Level] = []
        offers: list[Level] = []
        px = best_bid
        for _ in range(self.levels):
            if px < _MIN:
                break
            bids.append((px, Decimal(rng.randint(100, 500_000)) / 100))
            px -= TICK * rng.randint(1, 3)
        px = best_ask
        for _ in range(self.levels):
            if px > _MAX:
                break
            offers.append((px, Decimal(rng.randint(100, 500_000)) / 100))
            px += TICK * rng.randint(1, 3)
        return bids, offers

    def trades(self, slug: str, step: int) -> list[SimTrade]:
        """The trades of ``step``: at the step's best bid (taker sells) or best ask (taker buys)."""
        rng = self._rng(slug, step, "trades")
        out: list[SimTrade] = []
        seq = 0
        while rng.random() < self.trade_probability and seq < 3:
            bids, offers = self.book(slug, step)
            taker_buys = rng.random() < 0.5
            side = offers if taker_buys else bids
            if not side:
                break
            price, avail = side[0]
            qty = min(avail, Decimal(rng.randint(1, 20_000)) / 100)
            out.append(SimTrade(slug, step, seq, price, qty, taker_buys))
            seq += 1
        return out
