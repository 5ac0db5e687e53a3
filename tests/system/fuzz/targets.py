"""Every fuzz target by name: one case per call, from a :class:`~.chooser.Chooser`.

A target generates its inputs, feeds them to the code under test, asserts the invariants and
returns how many inputs it fed. ``tests/system/fuzz/test_fuzz.py`` runs each under hypothesis;
``benchmarks/fuzz.py`` runs them in a plain loop for the long run.
"""

from __future__ import annotations

from collections.abc import Callable

from .chooser import Chooser
from .fuzz_alpaca import alpaca_decoder, alpaca_rfc3339
from .fuzz_journal import journal_reader
from .fuzz_massive import massive_decoder, massive_session
from .fuzz_polymarket import polymarket_decoder, polymarket_session
from .fuzz_rest import rest_flow
from .fuzz_sim import sim_massive_server, sim_polymarket_server, sim_replay_filter

__all__ = ["TARGETS", "Target"]

Target = Callable[[Chooser], int]

TARGETS: dict[str, Target] = {
    "massive_decoder": massive_decoder,
    "massive_session": massive_session,
    "polymarket_decoder": polymarket_decoder,
    "polymarket_session": polymarket_session,
    "alpaca_decoder": alpaca_decoder,
    "alpaca_rfc3339": alpaca_rfc3339,
    "rest_flow": rest_flow,
    "journal_reader": journal_reader,
    "sim_massive_server": sim_massive_server,
    "sim_polymarket_server": sim_polymarket_server,
    "sim_replay_filter": sim_replay_filter,
}
