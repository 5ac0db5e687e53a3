"""Fuzz cases for what the simulators parse from clients, and the journal replayer's filter.

A client sending garbage gets an answer (an error status or error frame), never an exception
inside the server; the simulated subscription state holds only what could be served.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import msgspec

from tickwire.polymarket_us.enums import Socket, SubscriptionType
from tickwire.polymarket_us.wire import to_legacy
from tickwire.sim.channels import parse_route
from tickwire.sim.polymarket import SIM_KEY_ID, PolymarketSimulator
from tickwire.sim.polymarket.server import _Conn
from tickwire.sim.protocol import AUTH_REQUIRED, INVALID_JSON, AuthPolicy, Outcome, ServerSession
from tickwire.sim.replay import JournalReplayer
from tickwire.sim.wire import encode_statuses

from .chooser import Chooser
from .corpus import massive_frame, massive_keys
from .mutate import mutate_frame, odd_text

__all__ = ["sim_massive_server", "sim_polymarket_server", "sim_replay_filter"]

_ROUTES = ("stocks", "delayed/stocks", "options", "crypto", "forex", "indices", "futures/cme")
_CHANNELS = (
    "T.AAPL",
    "Q.*",
    "AM.MSFT",
    "XT.BTC-USD",
    "C.EUR/USD",
    "V.I:SPX",
    "LULD.*",
    "Q.O:SPY1",
    "bogus",
    ".",
    "T.",
)
_ACTION_KEYS = ("action", "params")


def _action(ch: Chooser) -> dict[str, Any]:
    action = ch.choice(("auth", "subscribe", "unsubscribe", "subscribe", "status", "AUTH"))
    if action in ("auth", "AUTH"):
        params = ch.choice(("good", "denied", "wrong", "", odd_text(ch)))
    else:
        params = ",".join(c for c in _CHANNELS if ch.chance(0.3)) or ch.choice(_CHANNELS)
    return {"action": action, "params": params}


def sim_massive_server(ch: Chooser) -> int:
    """Client frames to the Massive simulator's session: every frame answered, state consistent."""
    route = parse_route(ch.choice(_ROUTES))
    assert route is not None
    policy = AuthPolicy.from_keys(
        ch.choice((None, ["good"])), ["denied"] if ch.chance(0.3) else (), legacy=ch.chance(0.2)
    )
    session = ServerSession(route, policy, option_quote_limit=ch.choice((1000, 1)))
    n = ch.integer(1, 8)
    for _ in range(n):
        frame, _ = mutate_frame(_action(ch), ch, _ACTION_KEYS)
        before, authenticated = dict(session.subscriptions), session.authenticated
        out = session.handle(frame)
        assert isinstance(out, Outcome) and out.replies, out
        msgspec.json.decode(encode_statuses(*out.replies))  # the reply frame is valid JSON
        if out.action == "invalid":
            assert out.replies == [INVALID_JSON] and session.subscriptions == before
        if not authenticated and out.action in ("subscribe", "unsubscribe"):
            assert out.replies == [AUTH_REQUIRED] and session.subscriptions == before
        if out.close_code is not None:
            assert out.auth == "failed"
        assert out.changed == (session.subscriptions != before)
        for channel in session.subscriptions:
            assert session._check(channel) is None, channel
    return n


@functools.cache
def _pm_sim() -> PolymarketSimulator:
    return PolymarketSimulator(seed=2)  # never started: requests are handed to it directly


def _pm_request(ch: Chooser, socket: Socket, ids: Sequence[str], slugs: Sequence[str]) -> Any:
    if ids and ch.chance(0.3):
        request: Any = {"unsubscribe": {"requestId": ch.choice(ids)}}
    else:
        stype = ch.choice(list(SubscriptionType))
        request = {
            "subscribe": {
                "requestId": ch.choice(("r1", "r2", "", *ids)),
                "subscriptionType": ch.choice((stype.value, stype.number, stype.name, odd_text(ch))),
                "marketSlugs": [s for s in (*slugs, "no-such-market") if ch.chance(0.4)],
                "responsesDebounced": ch.chance(0.5),
            }
        }
    return to_legacy(request) if ch.chance(0.3) else request


def sim_polymarket_server(ch: Chooser) -> int:
    """Client requests to the Polymarket US simulator: each gets exactly one answer, and the
    connection's subscriptions are all servable on its socket."""
    sim = _pm_sim()
    sim._requests.clear()  # its request log; the long run would grow it forever
    socket = ch.choice((Socket.MARKETS, Socket.PRIVATE))
    conn = _Conn(sim, socket, SIM_KEY_ID, 1)  # no transport: replies are counted, not sent
    counters = sim._counters
    n = ch.integer(1, 8)
    for _ in range(n):
        request = _pm_request(ch, socket, list(conn.subs), sim.markets[:3])
        frame, _ = mutate_frame(request, ch, ("subscribe", "unsubscribe", "requestId", "marketSlugs"))
        before = counters.errors_sent + counters.subscribes + counters.unsubscribes
        sim._received(conn, frame)
        assert counters.errors_sent + counters.subscribes + counters.unsubscribes == before + 1
        for sub in conn.subs.values():
            assert sub.type.socket is socket and all(slug in sim.model for slug in sub.slugs)
            assert len(sub.slugs) <= 100
    return n


def sim_replay_filter(ch: Chooser) -> int:
    """The replayer's per-connection filter on any recorded frame: a subset of its events, or none."""
    market = ch.choice(("stocks", "crypto", "forex"))
    frame, _ = mutate_frame(massive_frame(market, ch), ch, massive_keys(market))
    subs = frozenset(c for c in ("T.*", "T.AAPL", "Q.MSFT", "XT.BTC-USD", "C.*", "AM.*") if ch.chance(0.4))
    out, count = JournalReplayer._filter(frame, subs)
    if out is None:
        assert count == 0
    else:
        kept = msgspec.json.decode(out, type=list[msgspec.Raw])
        assert len(kept) == count > 0
    return 1
