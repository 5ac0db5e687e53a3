"""PolymarketSession without a network: subscriptions, errors, heartbeats, reconnects, refusals."""

from __future__ import annotations

import msgspec
import pytest

from tickwire.errors import AuthError, ConfigError
from tickwire.events import Connected, Reconnected, SubscriptionRejected
from tickwire.polymarket_us.events import ReplayGap
from tickwire.polymarket_us.session import PolymarketSession
from tickwire.polymarket_us.signing import Credentials

from .test_signing import SECRET_32


def _session(socket: str = "markets", **kw: object) -> PolymarketSession:
    return PolymarketSession(socket, Credentials.resolve("kid", SECRET_32, None), **kw)  # type: ignore[arg-type]


def _sent(s: PolymarketSession) -> list[dict[str, object]]:
    return [msgspec.json.decode(f) for f in s.data_to_send()]


def test_subscriptions_are_sent_on_connect_split_by_100_and_unsubscribed_by_id() -> None:
    s = _session()
    ids = s.subscribe("market_data", [f"m{i}" for i in range(230)], request_id="books")
    assert ids == ["books", "books.2", "books.3"] and s.data_to_send() == []  # not connected yet
    s.connection_made(10.0, "ws://x/v1/ws/markets", 0)
    sent = _sent(s)
    assert [len(m["subscribe"]["marketSlugs"]) for m in sent] == [100, 100, 30]  # type: ignore[index]
    assert sent[0]["subscribe"]["subscriptionType"] == "SUBSCRIPTION_TYPE_MARKET_DATA"  # type: ignore[index]
    assert isinstance(s.tick(10.0)[0], Connected)
    assert s.unsubscribe("books") == ids
    assert _sent(s) == [{"unsubscribe": {"requestId": r}} for r in ids]
    assert s.subscribe("trade", ["a"], request_id="books") == ["books"]  # ids are reusable once free


def test_bad_subscriptions_are_config_errors() -> None:
    s = _session()
    with pytest.raises(ConfigError, match="private subscription"):
        s.subscribe("order")
    with pytest.raises(ConfigError, match="at least one market"):
        s.subscribe("market_data", [])
    with pytest.raises(ConfigError, match="unknown subscription type"):
        s.subscribe("quotes", ["a"])
    s.subscribe("trade", ["a"], request_id="t")
    with pytest.raises(ConfigError, match="in use"):
        s.subscribe("trade", ["b"], request_id="t")
    assert s.subscribe(3, ["c"]) == ["trade-1"]  # the legacy number of TRADE on this socket


def test_error_frame_rejects_the_subscription() -> None:
    s = _session()
    s.subscribe("market_data", ["x"], request_id="md")
    s.connection_made(1.0, "ws://x", 0)
    assert s.receive(b'{"marketData":{"marketSlug":"x"}}', 1.1) is None  # data: decoded by the consumer
    events = s.receive(b'{"request_id":"md","error":"market not found"}', 1.2)
    assert events == [SubscriptionRejected(channel="md", message="market not found")]
    assert "md" not in s.subscriptions


def test_heartbeat_timeout_requests_a_close() -> None:
    s = _session(heartbeat_timeout=5.0)
    s.connection_made(100.0, "ws://x", 0)
    s.tick(100.0)
    assert s.next_deadline() == 105.0
    s.data_seen(103.0)
    assert s.tick(107.0) == [] and not s.close_requested
    s.tick(108.0)
    assert s.close_requested and s.disconnect_reason == "heartbeat_timeout"


def test_reconnect_resubscribes_resnapshots_and_reports_the_replay_gap() -> None:
    s = _session("private")
    s.subscribe("order", request_id="o")
    s.subscribe("account_balance", request_id="b")
    h1 = s.handshake_headers(100.0)
    s.connection_made(100.0, "ws://x", 0)
    s.tick(100.0)
    s.data_to_send()
    s.connection_lost(110.0)
    h2 = s.handshake_headers(111.0)
    assert h2["X-PM-Timestamp"] != h1["X-PM-Timestamp"] and h2["X-PM-Signature"] != h1["X-PM-Signature"]
    s.connection_made(111.0, "ws://x", 1)
    sent = _sent(s)
    kinds = [m["subscribe"]["subscriptionType"] for m in sent]  # type: ignore[index]
    assert kinds == [
        "SUBSCRIPTION_TYPE_ORDER",
        "SUBSCRIPTION_TYPE_ACCOUNT_BALANCE",
        "SUBSCRIPTION_TYPE_ORDER_SNAPSHOT",
    ]
    events = s.tick(111.0)
    rec = next(e for e in events if isinstance(e, Reconnected))
    gap = next(e for e in events if isinstance(e, ReplayGap))
    assert (rec.gap_start, rec.gap_end, rec.resubscribed) == (110.0, 111.0, ["o", "b"])
    assert gap.streams == ["orders"] and gap.snapshot_request_id == sent[2]["subscribe"]["requestId"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, b"invalid signature", "bad signature"),
        (401, b"timestamp outside the allowed window", "clock skew"),
        (401, b"unknown key id", "unknown key id"),
        (401, b"", "bad key id, bad signature or clock skew"),
        (403, b"", "forbidden"),
    ],
)
def test_401_and_403_are_fatal_with_a_reason(status: int, body: bytes, expected: str) -> None:
    s = _session()
    s.handshake_refused_body(body)
    s.handshake_failed(status, 1.0)
    assert isinstance(s.fatal, AuthError) and expected in str(s.fatal) and SECRET_32 not in str(s.fatal)


def test_429_sets_a_long_retry_floor() -> None:
    s = _session(rate_limit_cooldown=45.0)
    s.handshake_failed(429, 1.0)
    assert s.fatal is None and s.retry_floor == 45.0
