"""Serving the Alpaca dialect next to the Massive one: what ``tickwire sim`` calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tickwire.sim.alpaca.feeds import FEEDS
from tickwire.sim.alpaca.server import AlpacaSimulator
from tickwire.sim.base import SimulatorBase

__all__ = ["attach_alpaca", "describe_alpaca"]


def describe_alpaca(sim: AlpacaSimulator) -> list[str]:
    """The lines announcing the Alpaca streams and the test key."""
    base = sim.url
    return [
        f"Alpaca simulator: {base}/v2/{{iex,sip,delayed_sip,test}}  {base}{FEEDS['crypto'].path}  "
        f"{base}/v1beta1/{{indicative,opra}} (msgpack)  {base}{FEEDS['news'].path}",
        f"  key id {sim.key_id}  secret {sim.secret_key}  (test key: APCA_API_KEY_ID / APCA_API_SECRET_KEY)",
        f"  alpaca-py: StockDataStream(key, secret, url_override={sim.url_for('iex')!r})",
    ]


def attach_alpaca(
    host: SimulatorBase[Any, Any, Any], *, announce: Callable[[str], Any] | None = print, **options: Any
) -> AlpacaSimulator:
    """Serve the Alpaca paths on ``host``'s port (call on its running loop): same seed, rates and speed."""
    options.setdefault("seed", getattr(host, "seed", 0))
    model = getattr(host, "model", None)
    rates = getattr(model, "rates", None)
    if rates is not None:
        options.setdefault("rate", rates)
    options.setdefault("speed", getattr(host, "speed", 1.0))
    options.setdefault("tick_interval", getattr(host, "tick_interval", 0.05))
    sim = AlpacaSimulator(host=host.host, attach_to=host, **options).start_attached()
    if announce is not None:
        for line in describe_alpaca(sim):
            announce(line)
    return sim
