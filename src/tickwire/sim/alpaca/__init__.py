"""The Alpaca dialect of the simulator: Alpaca's market-data streams on loopback.

``AlpacaSimulator`` serves ``/v2/{iex,sip,delayed_sip,test}``, ``/v1beta3/crypto/us``,
``/v1beta1/{indicative,opra}`` (msgpack only) and ``/v1beta1/news`` on its own port, or attached
to a ``MassiveSimulator`` (what ``tickwire sim`` does) so one port serves every dialect;
``run_in_thread()`` gives a blocking ``AlpacaThread``. ``SIM_KEY_ID``/``SIM_SECRET_KEY`` is the
built-in test key, which alpaca-py's streams (``url_override=``) authenticate with unchanged.
"""

from __future__ import annotations

from tickwire.sim.alpaca.codes import ErrorCode
from tickwire.sim.alpaca.feeds import FAKEPACA, FEEDS, Feed
from tickwire.sim.alpaca.observe import AlpacaAction, AlpacaConnectionInfo, AlpacaCounters, AlpacaHandshake
from tickwire.sim.alpaca.run import attach_alpaca, describe_alpaca
from tickwire.sim.alpaca.server import SIM_KEY_ID, SIM_SECRET_KEY, AlpacaSimulator, alpaca_universe
from tickwire.sim.alpaca.thread import AlpacaThread

__all__ = [
    "FAKEPACA",
    "FEEDS",
    "SIM_KEY_ID",
    "SIM_SECRET_KEY",
    "AlpacaAction",
    "AlpacaConnectionInfo",
    "AlpacaCounters",
    "AlpacaHandshake",
    "AlpacaSimulator",
    "AlpacaThread",
    "ErrorCode",
    "Feed",
    "alpaca_universe",
    "attach_alpaca",
    "describe_alpaca",
]
