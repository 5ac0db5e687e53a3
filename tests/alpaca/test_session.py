"""The sans-I/O Alpaca session, driven by hand with frames written from the spec (§B) and a fake clock."""

from __future__ import annotations

import msgspec
import pytest

from tickwire.alpaca.codes import AlpacaAuthError, ErrorCode, error_info
from tickwire.alpaca.models import AlpacaError, SubscriptionAck
from tickwire.alpaca.session import AlpacaSession, State
from tickwire.credentials import Secret
from tickwire.errors import AuthError, ConfigError
from tickwire.events import Connected, Reconnected, Status, SubscriptionRejected

KEY, SECRET = "PKTESTKEYID", "very-secret-value"
CONNECTED = b'[{"T":"success","msg":"connected"}]'
AUTHED = b'[{"T":"success","msg":"authenticated"}]'


def session(**kw: object) -> AlpacaSession:
    return AlpacaSession("iex", Secret(KEY), Secret(SECRET), **kw)  # type: ignore[arg-type]


def sent(s: AlpacaSession) -> list[dict[str, object]]:
    return [msgspec.json.decode(f) for f in s.data_to_send()]


def streaming(s: AlpacaSession, now: float = 100.0) -> list[object]:
    s.connection_made(now, "wss://x/v2/iex", 0)
    s.receive(CONNECTED, now)
    s.data_to_send()
    return s.receive(AUTHED, now) or []


def ack(**channels: list[str]) -> bytes:
    return msgspec.json.encode([{"T": "subscription", **channels}])


def error(code: int, msg: str = "") -> bytes:
    return msgspec.json.encode([{"T": "error", "code": code, "msg": msg or error_info(code).wire}])


def test_handshake_sends_auth_after_connected_then_streams_and_subscribes() -> None:
    s = session()
    s.subscribe("trades", "aapl", "MSFT")
    s.subscribe("bars", "*")
    s.connection_made(10.0, "wss://x/v2/iex", 0)
    assert s.state is State.CONNECTING and not s.streaming and s.data_to_send() == []
    out = s.receive(CONNECTED, 10.0)
    assert out is not None and isinstance(out[0], Status) and out[0].message == "connected"
    assert sent(s) == [{"action": "auth", "key": KEY, "secret": SECRET}]
    events = s.receive(AUTHED, 10.5) or []
    assert [type(e) for e in events] == [Status, Connected]
    assert s.streaming and s.state is State.STREAMING
    assert sent(s) == [{"action": "subscribe", "trades": ["AAPL", "MSFT"], "bars": ["*"]}]
    assert not s.passthrough  # an ack is due: every frame goes through receive
    got = s.receive(ack(trades=["AAPL", "MSFT"], bars=["*"], corrections=["AAPL", "MSFT"]), 11.0) or []
    assert [type(e) for e in got] == [SubscriptionAck]
    assert s.passthrough and s.acks_due == 0
    assert s.server_set == {"trades:AAPL", "trades:MSFT", "bars:*"}
    assert s.subscriptions.confirmed == s.server_set


def test_header_auth_sends_keys_in_the_upgrade_and_no_auth_message() -> None:
    s = session(header_auth=True, encoding="msgpack")
    headers = s.handshake_headers(0.0)
    assert headers == {
        "Content-Type": "application/msgpack",
        "APCA-API-KEY-ID": KEY,
        "APCA-API-SECRET-KEY": SECRET,
    }
    s.connection_made(0.0, "u", 0)
    s.receive(msgspec.msgpack.encode([{"T": "success", "msg": "connected"}]), 0.0)
    assert s.data_to_send() == []
    events = s.receive(msgspec.msgpack.encode([{"T": "success", "msg": "authenticated"}]), 0.1) or []
    assert any(isinstance(e, Connected) for e in events)


def test_msgpack_requests_are_msgpack_and_flagged_binary() -> None:
    s = session(encoding="msgpack")
    assert s.send_binary and s.handshake_headers(0.0) == {"Content-Type": "application/msgpack"}
    s.connection_made(0.0, "u", 0)
    s.receive(msgspec.msgpack.encode([{"T": "success", "msg": "connected"}]), 0.0)
    assert [msgspec.msgpack.decode(f) for f in s.data_to_send()] == [
        {"action": "auth", "key": KEY, "secret": SECRET}
    ]


def test_options_streams_are_msgpack_only() -> None:
    assert AlpacaSession("opra", Secret(KEY), Secret(SECRET)).encoding == "msgpack"
    with pytest.raises(ConfigError, match="msgpack only"):
        AlpacaSession("indicative", Secret(KEY), Secret(SECRET), encoding="json")


def test_auth_timeout_closes_the_connection() -> None:
    s = session(auth_timeout=2.0)
    s.connection_made(0.0, "u", 0)
    s.receive(CONNECTED, 0.1)
    assert s.next_deadline() == 2.0
    s.tick(1.9)
    assert not s.close_requested
    s.tick(2.0)
    assert s.close_requested and s.disconnect_reason == "auth_timeout"


def test_connect_timeout_when_the_server_never_greets() -> None:
    s = session(auth_timeout=1.0)
    s.connection_made(0.0, "u", 0)
    s.tick(1.0)
    assert s.disconnect_reason == "connect_timeout"


def test_reconnect_resubscribes_exactly_the_desired_set_and_reports_the_gap() -> None:
    s = session()
    s.subscribe("trades", "AAPL")
    s.subscribe("quotes", "AMD", "CLDR")
    streaming(s)
    s.data_to_send()
    s.receive(ack(trades=["AAPL"], quotes=["AMD", "CLDR"]), 101.0)
    s.unsubscribe("quotes", "CLDR")
    assert sent(s) == [{"action": "unsubscribe", "quotes": ["CLDR"]}]
    s.receive(ack(trades=["AAPL"], quotes=["AMD"]), 102.0)
    s.connection_lost(103.0)
    events = streaming(s, 110.0)
    assert sent(s) == [{"action": "subscribe", "trades": ["AAPL"], "quotes": ["AMD"]}]
    rec = next(e for e in events if isinstance(e, Reconnected))
    assert rec.gap_start == 103.0 and rec.gap_end == 110.0
    assert rec.resubscribed == ["trades:AAPL", "quotes:AMD"]


def test_ack_missing_a_symbol_is_reported_and_dropped_not_resent_forever() -> None:
    s = session()
    s.subscribe("trades", "AAPL", "NOPE")
    streaming(s)
    s.data_to_send()
    events = s.receive(ack(trades=["AAPL"]), 101.0) or []
    rejected = [e for e in events if isinstance(e, SubscriptionRejected)]
    assert [e.channel for e in rejected] == ["trades:NOPE"]
    assert s.desired == {"trades": ["AAPL"]} and s.data_to_send() == []


def test_ack_with_an_unwanted_symbol_unsubscribes_it_once() -> None:
    s = session()
    s.subscribe("trades", "AAPL")
    streaming(s)
    s.data_to_send()
    s.receive(ack(trades=["AAPL", "GHOST"]), 101.0)
    assert sent(s) == [{"action": "unsubscribe", "trades": ["GHOST"]}]
    s.receive(ack(trades=["AAPL", "GHOST"]), 102.0)  # the server keeps it anyway: no loop
    assert s.data_to_send() == []


def test_acks_are_reconciled_only_when_every_request_is_answered() -> None:
    s = session()
    streaming(s)
    s.subscribe("trades", "AAPL")
    s.subscribe("quotes", "AAPL")
    assert len(s.data_to_send()) == 2 and s.acks_due == 2
    first = s.receive(ack(trades=["AAPL"]), 101.0) or []
    assert not any(isinstance(e, SubscriptionRejected) for e in first)  # quotes' ack still due
    s.receive(ack(trades=["AAPL"], quotes=["AAPL"]), 101.1)
    assert s.desired == {"trades": ["AAPL"], "quotes": ["AAPL"]} and s.passthrough


def test_data_frames_while_streaming_are_passed_through_and_feed_the_watchdog() -> None:
    s = session(stale_timeout=5.0)
    s.subscribe("trades", "AAPL")
    streaming(s, 100.0)
    s.data_to_send()
    assert s.receive(b'[{"T":"t","S":"AAPL","p":1,"s":1,"t":"2024-01-02T15:00:00Z"}]', 101.0) is None
    # a data frame that merely holds the bytes "error" (news text) is still data
    news = b'[{"T":"n","id":1,"headline":"error in filing","t":"x","created_at":"2024-01-02T15:00:00Z"}]'
    assert s.receive(news, 102.0) is None
    assert s.last_data_at == 102.0
    s.receive(ack(trades=["AAPL"]), 103.0)
    s.tick(106.9)
    assert not s.close_requested
    s.tick(107.0)
    assert s.close_requested and s.disconnect_reason == "stale"


def test_watchdog_is_off_with_nothing_subscribed() -> None:
    s = session(stale_timeout=1.0)
    streaming(s, 0.0)
    s.tick(100.0)
    assert not s.close_requested and s.next_deadline() is None


@pytest.mark.parametrize("code", [402, 408, 409])
def test_fatal_codes_stop_with_what_to_check_and_no_secret(code: int) -> None:
    s = session()
    streaming(s)
    events = s.receive(error(code), 101.0) or []
    assert isinstance(events[0], AlpacaError) and events[0].code == code and events[0].action == "fatal"
    assert isinstance(s.fatal, AlpacaAuthError) and isinstance(s.fatal, AuthError)
    assert s.fatal.code == code and s.close_requested
    text = str(s.fatal)
    assert str(code) in text and "Not retrying" in text
    assert SECRET not in text and KEY not in text and SECRET not in repr(s) and KEY not in repr(s)
    hint = {402: "APCA_API_KEY_ID", 408: "dashboard", 409: "plan"}[code]
    assert hint in text


def test_auth_failed_during_the_handshake_is_fatal() -> None:
    s = session()
    s.connection_made(0.0, "u", 0)
    s.receive(CONNECTED, 0.0)
    s.receive(error(402), 0.1)
    assert isinstance(s.fatal, AlpacaAuthError) and s.disconnect_reason == "auth_failed"


def test_406_waits_out_the_reaping_window_before_reconnecting() -> None:
    s = session(connection_limit_cooldown=90.0)
    s.connection_made(0.0, "u", 0)
    s.receive(CONNECTED, 0.0)
    s.receive(error(406), 0.1)
    assert s.fatal is None and s.close_requested
    assert s.disconnect_reason == "connection_limit" and s.retry_floor == 90.0


def test_429_at_the_upgrade_also_waits_the_reaping_window() -> None:
    s = session(connection_limit_cooldown=30.0)
    s.handshake_failed(429, 0.0)
    assert s.retry_floor == 30.0 and s.fatal is None


def test_401_at_the_upgrade_is_fatal_and_names_the_variables() -> None:
    s = session()
    s.handshake_refused_body(b"unauthorized")
    s.handshake_failed(401, 0.0)
    assert isinstance(s.fatal, AuthError) and "APCA_API_KEY_ID" in str(s.fatal)


def test_407_slow_client_is_reported_like_slow_consumer() -> None:
    s = session()
    streaming(s)
    events = s.receive(error(407), 101.0) or []
    assert isinstance(events[0], AlpacaError) and events[0].action == "reconnect"
    assert s.disconnect_reason == "slow_consumer" and s.fatal is None


@pytest.mark.parametrize(("code", "reason"), [(404, "auth_timeout"), (401, "not_authenticated")])
def test_codes_that_reconnect(code: int, reason: str) -> None:
    s = session()
    streaming(s)
    s.receive(error(code), 101.0)
    assert s.close_requested and s.disconnect_reason == reason and s.fatal is None and s.retry_floor == 0


@pytest.mark.parametrize("code", [405, 410])
def test_refused_changes_reject_the_pending_symbols(code: int) -> None:
    s = session()
    s.subscribe("trades", "AAPL")
    streaming(s)
    s.data_to_send()
    s.receive(ack(trades=["AAPL"]), 101.0)
    s.subscribe("trades", "MSFT", "TSLA")
    s.data_to_send()
    events = s.receive(error(code), 102.0) or []
    rejected = [e for e in events if isinstance(e, SubscriptionRejected)]
    assert sorted(e.channel or "" for e in rejected) == ["trades:MSFT", "trades:TSLA"]
    assert str(code) in rejected[0].message
    assert s.desired == {"trades": ["AAPL"]} and s.passthrough and not s.close_requested


def test_400_answering_a_request_rejects_it() -> None:
    s = session()
    streaming(s)
    s.subscribe("trades", "AAPL")
    s.data_to_send()
    events = s.receive(error(400), 101.0) or []
    assert any(isinstance(e, SubscriptionRejected) and e.channel == "trades:AAPL" for e in events)
    assert s.acks_due == 0


@pytest.mark.parametrize("code", [403, 500, 499])
def test_other_codes_are_reported_only(code: int) -> None:
    s = session()
    streaming(s)
    events = s.receive(error(code, "something"), 101.0) or []
    assert [type(e) for e in events] == [AlpacaError]
    assert not s.close_requested and s.fatal is None


def test_every_code_from_400_to_410_has_a_meaning() -> None:
    for code in range(400, 411):
        info = error_info(code)
        assert (
            ErrorCode(code) == code
            and info.meaning
            and info.action
            in (
                "fatal",
                "reconnect",
                "rejected",
                "reported",
            )
        )


def test_channels_are_checked_against_the_stream() -> None:
    s = session()
    with pytest.raises(ConfigError, match="no orderbooks channel"):
        s.subscribe("orderbooks", "BTC/USD")
    with pytest.raises(ConfigError, match="unknown Alpaca channel"):
        s.subscribe("nonsense", "X")
    with pytest.raises(ConfigError, match="at least one symbol"):
        s.subscribe("trades")
    s.subscribe("updated_bars", "spy")
    assert s.desired == {"updatedBars": ["SPY"]}
