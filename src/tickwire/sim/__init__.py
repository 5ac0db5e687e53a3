"""The built-in Massive (Polygon.io) exchange simulator: a deterministic market on a real WebSocket server.

``MassiveSimulator`` serves the Massive protocol on loopback for tests, demos and the CLI;
``MarketModel`` is the seeded market behind it, whose trades, quotes and bars for any window
can be recomputed at any time (``sim.bars(...)`` equals the streamed ``AM`` bars).
"""

from __future__ import annotations

from tickwire.sim.channels import CHANNELS, MARKETS, REALTIME_ONLY
from tickwire.sim.instruments import Instrument, Universe, default_universe
from tickwire.sim.market import Band, Bar, Book, Imbalance, MarketModel, Quote, Rates, Trade, Value
from tickwire.sim.observe import ActionRecord, ConnectionInfo, Counters, key_id
from tickwire.sim.run import run_sim, serve
from tickwire.sim.server import MassiveSimulator
from tickwire.sim.thread import SimulatorThread

__all__ = [
    "CHANNELS",
    "MARKETS",
    "REALTIME_ONLY",
    "ActionRecord",
    "Band",
    "Bar",
    "Book",
    "ConnectionInfo",
    "Counters",
    "Imbalance",
    "Instrument",
    "MarketModel",
    "MassiveSimulator",
    "Quote",
    "Rates",
    "SimulatorThread",
    "Trade",
    "Universe",
    "Value",
    "default_universe",
    "key_id",
    "run_sim",
    "serve",
]
