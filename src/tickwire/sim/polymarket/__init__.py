"""The Polymarket US dialect of the simulator: ``/v1/ws/markets`` and ``/v1/ws/private``.

``PolymarketSimulator`` runs on its own port, or attached to a ``MassiveSimulator`` (what
``tickwire sim`` does) so one port serves both dialects; ``run_in_thread()`` gives a blocking
``PolymarketThread``. ``SIM_KEY_ID``/``SIM_SECRET_KEY`` is
the built-in test key pair every client (and the official ``polymarket-us`` SDK) can sign with.
"""

from __future__ import annotations

from tickwire.sim.polymarket.account import Account, SimOrder, SimPosition
from tickwire.sim.polymarket.model import DEFAULT_MARKETS, PolymarketModel, SimTrade
from tickwire.sim.polymarket.observe import HandshakeRecord, PmConnectionInfo, PmCounters
from tickwire.sim.polymarket.run import attach_polymarket, describe_polymarket
from tickwire.sim.polymarket.server import SIM_KEY_ID, SIM_SECRET_KEY, PolymarketSimulator
from tickwire.sim.polymarket.thread import PolymarketThread

__all__ = [
    "DEFAULT_MARKETS",
    "SIM_KEY_ID",
    "SIM_SECRET_KEY",
    "Account",
    "HandshakeRecord",
    "PmConnectionInfo",
    "PmCounters",
    "PolymarketModel",
    "PolymarketSimulator",
    "PolymarketThread",
    "SimOrder",
    "SimPosition",
    "SimTrade",
    "attach_polymarket",
    "describe_polymarket",
]
