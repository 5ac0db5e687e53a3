"""Serving the Polymarket US dialect next to the Massive one: what ``tickwire sim`` calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tickwire.sim.base import SimulatorBase
from tickwire.sim.polymarket.server import PolymarketSimulator

__all__ = ["attach_polymarket", "describe_polymarket"]


def describe_polymarket(sim: PolymarketSimulator) -> list[str]:
    """The lines announcing the Polymarket US endpoints, test key and markets."""
    return [
        f"Polymarket US simulator: {sim.url_for('markets')}  {sim.url_for('private')}",
        f"  key id {sim.key_id}  secret {sim.secret_key}  (test key)",
        f"  markets: {', '.join(sim.markets)}",
        f"  official SDK: AsyncPolymarketUS(key_id=..., secret_key=..., api_base_url='http://{sim.host}:{sim.port}')",
    ]


def attach_polymarket(
    massive: SimulatorBase[Any, Any, Any], *, announce: Callable[[str], Any] | None = print, **options: Any
) -> PolymarketSimulator:
    """Serve ``/v1/ws/markets`` and ``/v1/ws/private`` on ``massive``'s port (call on its running loop)."""
    options.setdefault("seed", getattr(massive, "seed", 0))
    sim = PolymarketSimulator(host=massive.host, attach_to=massive, **options).start_attached()
    if announce is not None:
        for line in describe_polymarket(sim):
            announce(line)
    return sim
