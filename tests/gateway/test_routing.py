"""The sans-I/O core: reference-counted channels, the reduced upstream union, routing to groups."""

from __future__ import annotations

from tickwire.gateway.routing import Router, UpstreamChange
from tickwire.gateway.session import key_for


def test_first_holder_subscribes_upstream_and_last_leaver_unsubscribes() -> None:
    r = Router()
    assert r.add(1, ["T.AAPL"]) == UpstreamChange(("T.AAPL",), ())
    assert not r.add(2, ["T.AAPL"])  # already subscribed upstream: nothing to send
    assert r.refcount("T.AAPL") == 2
    assert not r.drop(1)
    assert r.upstream == {"T.AAPL"}
    assert r.drop(2) == UpstreamChange((), ("T.AAPL",))
    assert r.upstream == frozenset() and r.groups == []
    assert not r.drop(2) and not r.drop(99)  # gone or never seen: nothing changes


def test_wildcard_subsumes_exact_channels_upstream_and_gives_them_back() -> None:
    r = Router()
    r.add(1, ["T.AAPL", "Q.MSFT"])
    change = r.add(2, ["T.*"])
    assert change == UpstreamChange(("T.*",), ("T.AAPL",))  # subscribe first, then unsubscribe
    assert r.upstream == {"T.*", "Q.MSFT"}
    assert r.refcount("T.AAPL") == 1  # client 1 still holds it
    assert r.remove(2, ["T.*"]) == UpstreamChange(("T.AAPL",), ("T.*",))
    assert r.upstream == {"T.AAPL", "Q.MSFT"}


def test_events_reach_exactly_the_groups_that_hold_them() -> None:
    r = Router()
    r.add(1, ["T.AAPL"])
    r.add(2, ["T.AAPL"])  # same channels: same group
    r.add(3, ["T.*"])
    r.add(4, ["T.*", "T.AAPL"])  # both: indexed under the wildcard only, never twice
    r.add(5, ["Q.AAPL"])
    g = {cid: next(grp for grp in r.groups if cid in grp.members) for cid in range(1, 6)}
    assert g[1] is g[2]
    aapl = r.match("T", "AAPL")
    assert sorted(grp.id for grp in aapl) == sorted({g[1].id, g[3].id, g[4].id})
    assert len(aapl) == 3
    assert set(r.match("T", "MSFT")) == {g[3], g[4]}
    assert r.match("Q", "AAPL") == [g[5]]
    assert r.match("Q", "MSFT") == [] and r.match("AM", "AAPL") == []
    assert r.match("T", None) == r.match("T", "NOPE")  # no ticker: wildcard holders only


def test_moving_between_groups_keeps_the_index_exact() -> None:
    r = Router()
    r.add(1, ["T.AAPL"])
    r.add(1, ["T.MSFT"])
    assert r.channels(1) == {"T.AAPL", "T.MSFT"}
    assert [grp.channels for grp in r.match("T", "AAPL")] == [frozenset({"T.AAPL", "T.MSFT"})]
    r.remove(1, ["T.AAPL"])
    assert r.match("T", "AAPL") == []
    assert r.holders("T.MSFT") == [1] and r.holders("T.AAPL") == []
    assert len(r.groups) == 1


def test_forex_and_crypto_spellings_fold_together() -> None:
    r = Router(key_for("crypto"))
    r.add(1, ["FMV.X:BTC-USD"])
    r.add(2, ["XT.BTC-USD"])
    key = r.key
    assert [g.channels for g in r.match("FMV", key("X:BTC-USD"))] == [frozenset({"FMV.X:BTC-USD"})]
    assert len(r.match("XT", key("BTC-USD"))) == 1
    fx = key_for("forex")
    assert fx("C:EURUSD") == fx("EUR/USD") == "EURUSD"
    assert key_for("stocks")("BRK.A") == "BRK.A"
