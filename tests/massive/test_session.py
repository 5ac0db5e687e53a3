"""The sans-I/O Massive session, driven by hand with a fake clock: no sockets, no asyncio."""

from __future__ import annotations

import msgspec
import pytest

from tickwire.credentials import Secret
from tickwire.errors import AuthError, ConfigError
from tickwire.events import Connected, Reconnected, Status, SubscriptionRejected
from tickwire.massive.session import MassiveSession, State

KEY = "sk_live_TOPSECRET_1234"


def status(status: str, message: str = "") -> bytes:
    return msgspec.json.encode([{"ev": "status", "status": status, "message": message}])


def sent(session: MassiveSession) -> list[dict[str, str]]:
    return [msgspec.json.decode(f) for f in session.data_to_send()]


def trade(sym: str = "AAPL") -> bytes:
    return msgspec.json.encode([{"ev": "T", "sym": sym, "x": 4, "p": 1.5, "s": 10, "t": 1_700_000_000_000}])


def stream_up(s: MassiveSession, now: float = 100.0, attempt: int = 0) -> list[object]:
    """Connect and authenticate; returns the events of the auth reply."""
    s.connection_made(now, "ws://x/stocks", attempt)
    assert s.receive(status("connected", "Connected Successfully"), now)[0] == Status(
        status="connected", message="Connected Successfully"
    )
    assert sent(s) == [{"action": "auth", "params": KEY}]
    return s.receive(status("auth_success", "authenticated"), now + 0.1)


@pytest.fixture
def s() -> MassiveSession:
    return MassiveSession(
        "stocks", Secret(KEY), auth_timeout=5, stale_timeout=30, max_connections_cooldown=60
    )


def test_connect_auth_subscribe_flow(s: MassiveSession) -> None:
    s.subscribe("T.AAPL", "am.*")
    assert sent(s) == []  # nothing goes out before auth
    events = stream_up(s)
    assert s.state is State.STREAMING and s.streaming
    assert [type(e) for e in events] == [Status, Connected]
    assert sent(s) == [{"action": "subscribe", "params": "T.AAPL,AM.*"}]
    s.receive(
        msgspec.json.encode(
            [
                {"ev": "status", "status": "success", "message": "subscribed to: T.AAPL"},
                {"ev": "status", "status": "success", "message": "subscribed to: AM.*"},
            ]
        ),
        101,
    )
    assert s.subscriptions.confirmed == {"T.AAPL", "AM.*"}
    assert s.subscriptions.pending == set()


def test_alpaca_legacy_success_variants(s: MassiveSession) -> None:
    s.connection_made(0, "ws://x/stocks", 0)
    s.receive(status("success", "Connected Successfully"), 0)
    assert sent(s) == [{"action": "auth", "params": KEY}]
    events = s.receive(status("success", "authenticated"), 0)
    assert s.streaming
    assert any(isinstance(e, Connected) for e in events)


def test_auth_failed_is_fatal_with_hint_and_no_key(s: MassiveSession) -> None:
    s.connection_made(0, "ws://x/stocks", 0)
    s.receive(status("connected"), 0)
    s.receive(status("auth_failed", "Your plan doesn't include websocket access."), 0)
    assert isinstance(s.fatal, AuthError)
    text = str(s.fatal)
    assert "plan doesn't include websocket access" in text and "stocks" in text and "pricing" in text
    assert KEY not in text and KEY not in repr(s)
    assert s.close_requested and s.disconnect_reason == "auth_failed"


def test_auth_timeout_status_reconnects_not_fatal(s: MassiveSession) -> None:
    s.connection_made(0, "ws://x/stocks", 0)
    s.receive(status("connected"), 0)
    s.receive(status("auth_timeout", "No authentication request received."), 0)
    assert s.fatal is None and s.close_requested and s.disconnect_reason == "auth_timeout"


def test_auth_deadline_from_the_clock(s: MassiveSession) -> None:
    s.connection_made(10, "ws://x/stocks", 0)
    s.receive(status("connected"), 10)
    assert s.next_deadline() == 15
    s.tick(14.9)
    assert not s.close_requested
    s.tick(15)
    assert s.close_requested and s.disconnect_reason == "auth_timeout"


@pytest.mark.parametrize("kick", ["slow_consumer", "force_disconnect"])
def test_server_kicks_reconnect(s: MassiveSession, kick: str) -> None:
    stream_up(s)
    events = s.receive(status(kick, "bye"), 200)
    assert events == [Status(status=kick, message="bye")]
    assert s.close_requested and s.disconnect_reason == kick and s.fatal is None
    assert s.retry_floor == 0


def test_max_connections_sets_cooldown(s: MassiveSession) -> None:
    stream_up(s)
    s.receive(status("max_connections", "Maximum number of websocket connections exceeded."), 200)
    assert s.disconnect_reason == "max_connections" and s.retry_floor == 60 and s.fatal is None


def test_resubscribe_exactly_the_desired_set_after_reconnect(s: MassiveSession) -> None:
    s.subscribe("T.AAPL", "Q.MSFT", "T.BRK.A")
    stream_up(s, now=100)
    sent(s)
    s.unsubscribe("Q.MSFT")
    assert sent(s) == [{"action": "unsubscribe", "params": "Q.MSFT"}]
    s.connection_lost(150)
    # changes while disconnected are remembered, nothing is sent
    s.subscribe("AM.*")
    s.unsubscribe("T.AAPL")
    assert sent(s) == []
    events = stream_up(s, now=160, attempt=3)
    assert sent(s) == [{"action": "subscribe", "params": "T.BRK.A,AM.*"}]
    rec = [e for e in events if isinstance(e, Reconnected)]
    assert len(rec) == 1
    assert rec[0].gap_start == 150 and rec[0].gap_end == pytest.approx(160.1) and rec[0].attempts == 3
    assert rec[0].resubscribed == ["T.BRK.A", "AM.*"]
    assert s.epoch == 2


def test_wildcards_never_touch_other_channels(s: MassiveSession) -> None:
    s.subscribe("AM.AAPL", "A.MSFT")
    s.subscribe("A.*")
    assert s.desired == ["AM.AAPL", "A.MSFT", "A.*"]
    s.unsubscribe("A.*")
    assert s.desired == ["AM.AAPL", "A.MSFT"]


def test_channel_validation(s: MassiveSession) -> None:
    with pytest.raises(ConfigError, match="malformed channel"):
        s.subscribe("AAPL")
    with pytest.raises(ConfigError, match="does not exist on the stocks cluster"):
        s.subscribe("XT.BTC-USD")
    assert s.subscribe(" t.brk.a ") == ["T.BRK.A"]


def test_rejected_subscription_is_reported_and_forgotten(s: MassiveSession) -> None:
    s.subscribe("T.AAPL", "LULD.MSFT")
    stream_up(s)
    sent(s)
    events = s.receive(status("error", "not authorized for LULD.MSFT"), 101)
    assert SubscriptionRejected(channel="LULD.MSFT", message="not authorized for LULD.MSFT") in events
    assert s.desired == ["T.AAPL"]
    events = s.receive(status("error", "Invalid JSON"), 101)
    assert SubscriptionRejected(channel=None, message="Invalid JSON") in events


def test_a_rejection_names_channels_exactly_and_a_plan_refusal_the_oldest_unanswered(
    s: MassiveSession,
) -> None:
    s.subscribe("T.A", "T.AAPL", "Q.MSFT", "Q.AAPL")
    stream_up(s)
    sent(s)
    events = s.receive(status("error", "not authorized: T.AAPL"), 101)  # not T.A, a prefix of it
    assert [e.channel for e in events if isinstance(e, SubscriptionRejected)] == ["T.AAPL"]
    s.receive(status("success", "subscribed to: T.A"), 101)
    events = s.receive(status("error", "Your plan doesn't include this data; upgrade"), 101)
    assert [e.channel for e in events if isinstance(e, SubscriptionRejected)] == ["Q.MSFT"]  # sent first
    assert s.desired == ["T.A", "Q.AAPL"]
    assert s.subscriptions.rejected_count == 2 and set(s.subscriptions.rejected) == {"T.AAPL", "Q.MSFT"}
    s.connection_lost(102)
    stream_up(s, now=103, attempt=1)
    assert sent(s) == [{"action": "subscribe", "params": "T.A,Q.AAPL"}]  # never the rejected ones


def test_a_frame_that_decodes_to_nothing_is_queued_raw_before_streaming(s: MassiveSession) -> None:
    s.connection_made(100, "ws://x/stocks", 0)
    assert s.receive(b"[]", 100) is None  # raw consumers still get it, as sent


def test_staleness_counts_data_only(s: MassiveSession) -> None:
    s.subscribe("T.AAPL")
    stream_up(s, now=100)
    assert s.next_deadline() == pytest.approx(130.1)
    s.receive(trade(), 120)
    s.receive(status("success", "subscribed to: T.AAPL"), 145)  # status frames do not count
    s.tick(149)
    assert not s.close_requested
    s.tick(150)
    assert s.close_requested and s.disconnect_reason == "stale"


def test_no_staleness_without_subscriptions(s: MassiveSession) -> None:
    stream_up(s, now=0)
    assert s.next_deadline() is None
    s.tick(10_000)
    assert not s.close_requested


def test_data_frames_pass_through_in_order(s: MassiveSession) -> None:
    stream_up(s)
    frame = msgspec.json.encode(
        [
            {"ev": "T", "sym": "AAPL", "p": 1.0, "s": 1, "t": 1},
            {"ev": "status", "status": "success", "message": "subscribed to: T.MSFT"},
            {"ev": "T", "sym": "MSFT", "p": 2.0, "s": 2, "t": 2},
        ]
    )
    events = s.receive(frame, 101)
    assert [e.event_type for e in events] == ["T", "status", "T"]
    assert [getattr(e, "symbol", None) for e in events] == ["AAPL", None, "MSFT"]


def test_huge_subscriptions_are_chunked(s: MassiveSession) -> None:
    chans = [f"T.SYM{i:06d}" for i in range(60_000)]
    s.subscribe(*chans)
    stream_up(s)
    frames = s.data_to_send()
    assert len(frames) > 1
    assert all(len(f) < 300 * 1024 for f in frames)
    got = [c for f in frames for c in msgspec.json.decode(f)["params"].split(",")]
    assert got == chans


def test_handshake_401_is_fatal_429_waits(s: MassiveSession) -> None:
    s.handshake_failed(429, 0)
    assert s.fatal is None and s.retry_floor >= 5
    s.handshake_failed(401, 0)
    assert isinstance(s.fatal, AuthError) and "401" in str(s.fatal)
