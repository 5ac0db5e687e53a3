"""SessionBase on its own: a toy provider session driven with a fake clock, no network."""

from __future__ import annotations

from tickwire.errors import AuthError
from tickwire.events import Connected, Event, Reconnected, Status
from tickwire.massive.session import MassiveSession
from tickwire.polymarket_us.session import PolymarketSession
from tickwire.stream.session import Session
from tickwire.stream.session_base import SessionBase


class ToySession(SessionBase):
    """Streams after a ``hello`` frame (replying ``ready``); ``watching`` says whether silence counts."""

    control_marker = b"hello"
    control_probe = b"h"
    stale_reason = "toy_silent"

    def __init__(self, stale_timeout: float | None = 10.0, rate_limit_cooldown: float = 7.0) -> None:
        super().__init__(stale_timeout=stale_timeout, rate_limit_cooldown=rate_limit_cooldown)
        self.watching = True
        self.channels = ["a", "b"]

    def receive(self, frame: bytes, now: float) -> list[Event] | None:
        if frame == b"hello" and not self.streaming:
            self._send_frame(b"ready")
            return self._streaming_started(now, list(self.channels))
        if self.streaming:
            self.last_data_at = now
            return None
        return [Status(status="ignored", message=frame.decode())]

    def _watching(self) -> bool:
        return self.watching

    def _describe(self) -> str:
        return "the toy stream"


def test_both_provider_sessions_are_session_bases() -> None:
    for cls in (MassiveSession, PolymarketSession, ToySession):
        assert issubclass(cls, SessionBase)
    toy: Session = ToySession()  # mypy checks SessionBase against the driver's Protocol here
    assert toy.epoch == 0 and not toy.streaming


def test_each_connection_is_an_epoch_with_fresh_per_connection_state() -> None:
    s = ToySession()
    s.connection_made(1.0, "ws://toy/1", 0)
    assert (s.epoch, s.url, s.attempt) == (1, "ws://toy/1", 0)
    s.request_close("first")
    s.request_close("second")  # the first reason is the one reported
    assert s.close_requested and s.disconnect_reason == "first"
    s.retry_floor = 30.0
    s._send_frame(b"left over")
    s.connection_lost(2.0)
    assert s.data_to_send() == []  # a lost connection's requests are never replayed
    s.connection_made(3.0, "ws://toy/2", 1)
    assert (s.epoch, s.url, s.attempt) == (2, "ws://toy/2", 1)
    assert not s.close_requested and s.disconnect_reason is None and s.retry_floor == 0.0


def test_outbox_frames_are_returned_once_in_order() -> None:
    s = ToySession()
    s.connection_made(1.0, "ws://toy", 0)
    for frame in (b"1", b"2", b"3"):
        s._send_frame(frame)
    assert s.data_to_send() == [b"1", b"2", b"3"]
    assert s.data_to_send() == []


def test_streaming_start_gives_connected_and_passthrough_follows_streaming() -> None:
    s = ToySession()
    s.connection_made(5.0, "ws://toy", 0)
    assert not s.passthrough and s.next_deadline() is None  # no watchdog before streaming
    events = s.receive(b"hello", 6.0)
    assert events == [Connected(url="ws://toy", epoch=1, at=6.0)]
    assert s.streaming and s.passthrough and s.streaming_since == 6.0
    assert s.data_to_send() == [b"ready"]
    s.connection_lost(7.0)
    assert not s.streaming and not s.passthrough


def test_a_lost_stream_is_reported_once_with_its_gap_on_the_next_start() -> None:
    s = ToySession()
    s.connection_made(0.0, "ws://toy", 0)
    s.receive(b"hello", 1.0)
    s.connection_lost(50.0)  # the gap starts here
    assert s.gap_start == 50.0
    s.connection_made(51.0, "ws://toy", 1)
    s.connection_lost(52.0)  # a failed attempt (never streamed) does not move the gap's start
    s.handshake_failed(None, 53.0)
    s.connection_made(60.0, "ws://toy", 3)
    s.channels = ["a"]
    events = s.receive(b"hello", 61.5)
    assert events == [
        Connected(url="ws://toy", epoch=3, at=61.5),
        Reconnected(gap_start=50.0, gap_end=61.5, attempts=3, epoch=3, resubscribed=["a"]),
    ]
    assert s.gap_start is None
    s.connection_lost(70.0)
    s.connection_made(71.0, "ws://toy", 1)
    (_, again) = s.receive(b"hello", 72.0) or []
    assert isinstance(again, Reconnected) and again.gap_start == 70.0  # each gap reported once


def test_watchdog_counts_from_the_last_data_with_the_clock_passed_in() -> None:
    s = ToySession(stale_timeout=10.0)
    s.connection_made(0.0, "ws://toy", 0)
    s.receive(b"hello", 100.0)
    assert s.next_deadline() == 110.0  # the streaming start counts as data
    s.data_seen(105.0)
    assert s.next_deadline() == 115.0
    assert s.receive(b"data", 108.0) is None  # the provider's receive feeds it too
    assert s.next_deadline() == 118.0
    assert s.tick(117.9) == [] and not s.close_requested
    s.tick(118.0)
    assert s.close_requested and s.disconnect_reason == "toy_silent"


def test_watchdog_is_off_while_the_session_says_silence_is_normal_or_without_a_timeout() -> None:
    s = ToySession(stale_timeout=10.0)
    s.watching = False  # e.g. Massive with nothing subscribed
    s.connection_made(0.0, "ws://toy", 0)
    s.receive(b"hello", 0.0)
    assert s.next_deadline() is None
    s.tick(1_000.0)
    assert not s.close_requested
    never = ToySession(stale_timeout=None)
    never.connection_made(0.0, "ws://toy", 0)
    never.receive(b"hello", 0.0)
    never.tick(1e9)
    assert never.next_deadline() is None and not never.close_requested


def test_events_learnt_outside_receive_come_from_the_next_tick_due_at_once() -> None:
    s = ToySession(stale_timeout=10.0)
    s.connection_made(0.0, "ws://toy", 0)
    first = s._streaming_started(20.0, [])
    s._deliver_at_next_tick(first, 20.0)
    s._deliver_at_next_tick([Status(status="later")], 21.0)
    assert s.next_deadline() == 20.0  # due since the first one was handed over
    assert s.tick(22.0) == [*first, Status(status="later")]
    assert s.tick(22.0) == [] and s.next_deadline() == 30.0  # then the watchdog's deadline again


def test_refused_upgrades_401_403_fatal_with_the_body_429_waits_others_back_off() -> None:
    s = ToySession(rate_limit_cooldown=7.0)
    s.handshake_refused_body(b"bad key\r\n\x1b[31m" + b"x" * 500)
    s.handshake_failed(401, 1.0)
    assert isinstance(s.fatal, AuthError) and "HTTP 401" in str(s.fatal)
    assert "bad key" in str(s.fatal) and "\x1b" not in str(s.fatal)  # quoted with repr: no escapes
    assert len(str(s.fatal)) < 400  # the body is cut short
    t = ToySession(rate_limit_cooldown=7.0)
    t.handshake_refused_body(b"ignored: not a 401")
    t.handshake_failed(503, 1.0)
    assert t.fatal is None and t.retry_floor == 0.0
    t.handshake_failed(403, 2.0)  # the 503's body was used up by its own refusal
    assert isinstance(t.fatal, AuthError) and "server says" not in str(t.fatal)
    u = ToySession(rate_limit_cooldown=7.0)
    u.handshake_failed(429, 1.0)
    assert u.fatal is None and u.retry_floor == 7.0
