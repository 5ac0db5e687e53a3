"""The client side of the gateway, sans I/O: the real server's statuses (the simulator's), token auth."""

from __future__ import annotations

import json

import pytest

from tickwire.gateway.session import AUTH_CLOSE_CODE, ClientSession
from tickwire.sim.channels import parse_route
from tickwire.sim.protocol import AuthPolicy, ServerSession

FRAMES = [
    b'{"action":"subscribe","params":"T.AAPL"}',  # before auth
    b'{"action":"auth","params":"tok"}',
    b'{"action":"subscribe","params":"T.MSFT, Q.MSFT,AM.*"}',
    b'{"action":"subscribe","params":"T.MSFT"}',  # again: still confirmed
    b'{"action":"unsubscribe","params":"Q.MSFT"}',
    b'{"action":"unsubscribe","params":"T.NOPE"}',  # not held: the server still says "unsubscribed to"
    b"not json",
    b'{"action":"subscribe","params":""}',
    b'{"action":"dance"}',
]


def test_replies_are_the_simulators_frame_for_frame() -> None:
    route = parse_route("/stocks")
    assert route is not None
    theirs = ServerSession(route, AuthPolicy.from_keys(None))
    ours = ClientSession("stocks")
    for frame in FRAMES:
        expected = theirs.handle(frame).replies
        assert ours.handle(frame).statuses == expected, frame
    assert list(ours.channels) == list(theirs.subscriptions) == ["T.MSFT", "AM.*"]


def test_subscribe_reports_what_the_router_must_change() -> None:
    s = ClientSession("stocks")
    s.handle(b'{"action":"auth","params":""}')  # no tokens: any value, even empty
    assert s.authenticated
    r = s.handle(b'{"action":"subscribe","params":"t.aapl,T.AAPL,XX.AAPL,T."}')
    assert r.added == ["T.AAPL"]
    assert [st for st, _ in r.statuses] == ["success", "success", "error", "error"]
    assert r.statuses[0] == ("success", "subscribed to: T.AAPL")
    assert "XX" in r.statuses[2][1]
    assert s.handle(b'{"action":"unsubscribe","params":"T.AAPL"}').removed == ["T.AAPL"]


@pytest.mark.parametrize(("token", "ok"), [("good", True), ("other", True), ("bad", False), ("", False)])
def test_tokens(token: str, ok: bool) -> None:
    s = ClientSession("stocks", ["good", "other"])
    reply = s.handle(json.dumps({"action": "auth", "params": token}))
    assert reply.auth is ok and s.authenticated is ok
    if ok:
        assert reply.statuses == [("auth_success", "authenticated")] and reply.close_code is None
    else:
        assert reply.statuses == [("auth_failed", "authentication failed")]
        assert reply.close_code == AUTH_CLOSE_CODE == 1008
