"""The built-in Massive (Polygon.io) exchange simulator: a deterministic market on a real WebSocket server.

``MassiveSimulator`` serves the Massive protocol on loopback for tests, demos and the CLI;
``MarketModel`` is the seeded market behind it, whose trades, quotes and bars for any window
can be recomputed at any time (``sim.bars(...)`` equals the streamed ``AM`` bars).
"""

from __future__ import annotations

from .channels import CHANNELS, MARKETS, REALTIME_ONLY
from .instruments import Instrument, Universe, default_universe
from .market import Band, Bar, Book, Imbalance, MarketModel, Quote, Rates, Trade, Value
from .observe import ActionRecord, ConnectionInfo, Counters, key_id
from .run import run_sim, serve
from .server import MassiveSimulator
from .thread import SimulatorThread

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
