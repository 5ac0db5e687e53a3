"""Fuzz cases for the Massive decoder and the Massive session.

Each function runs one case drawn from a :class:`~.chooser.Chooser`, checks the invariants
and returns how many generated inputs (frames) it fed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import msgspec

from tickwire.credentials import Secret
from tickwire.errors import AuthError
from tickwire.events import DecodeError, Event, RawEvent, Reconnected, Status, SubscriptionRejected
from tickwire.massive.decoder import MAX_ERROR_DATA, MassiveDecoder
from tickwire.massive.session import MassiveSession, State

from .chooser import Chooser
from .corpus import MASSIVE_MARKETS, massive_frame, massive_keys
from .mutate import dumps, mutate_frame

__all__ = ["massive_decoder", "massive_session"]

KEY = "fuzz-massive-key-7f3a"
CHANNELS: dict[str, Sequence[str]] = {
    "stocks": ("T.AAPL", "Q.MSFT", "AM.*", "A.BRK.A", "LULD.AAPL", "T.*"),
    "options": ("T.O:SPY251219C00600000", "Q.O:SPY251219P00600000", "AM.*"),
    "forex": ("C.EUR/USD", "CA.*", "CAS.USD/JPY"),
    "crypto": ("XT.BTC-USD", "XQ.*", "XA.ETH-USD", "XL2.BTC-USD"),
    "indices": ("V.I:SPX", "AM.I:NDX", "A.*"),
}


@functools.cache
def _decoder(market: str) -> MassiveDecoder:
    return MassiveDecoder(market)


def _check_decoded(decoder: MassiveDecoder, events: list[Event], errors: int, unknown: int) -> None:
    """Events only; the counters moved by exactly the DecodeError and RawEvent events returned."""
    assert isinstance(events, list)
    assert all(isinstance(e, Event) for e in events), events
    assert decoder.errors - errors == sum(type(e) is DecodeError for e in events)
    assert decoder.unknown - unknown == sum(type(e) is RawEvent for e in events)
    for e in events:
        if type(e) is DecodeError:
            assert e.error and isinstance(e.data, bytes) and len(e.data) <= MAX_ERROR_DATA


def _json_shape(frame: bytes) -> int | None:
    """Elements of a frame that is well-formed JSON: array length, 1 for an object, -1 otherwise."""
    try:
        value = msgspec.json.decode(frame)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None
    if isinstance(value, list):
        return len(value)
    return 1 if isinstance(value, dict) else -1


def massive_decoder(ch: Chooser) -> int:
    """One mutated frame: events only, one per element, every bad element one counted DecodeError."""
    market = ch.choice(MASSIVE_MARKETS)
    decoder = _decoder(market)
    valid = massive_frame(market, ch)
    elements = len(valid) if isinstance(valid, list) else 1
    before = [dumps(e) for e in valid] if isinstance(valid, list) else []
    frame, unchanged = mutate_frame(valid, ch, massive_keys(market))
    errors, unknown = decoder.errors, decoder.unknown
    form = ch.below(4)
    if form == 0:
        events = decoder.decode(frame.decode("utf-8", "surrogateescape"))
    elif form == 1:
        events = decoder.decode(memoryview(frame))
    else:
        events = decoder.decode(frame)
    _check_decoded(decoder, events, errors, unknown)
    shape = _json_shape(frame)
    if shape == -1:
        assert len(events) == 1 and type(events[0]) is DecodeError, events
    elif shape is not None:
        assert len(events) == shape, (frame[:200], events)
    if unchanged:
        assert len(events) == elements
        assert not any(type(e) in (DecodeError, RawEvent) for e in events), (frame[:300], events)
    elif shape == len(before):
        _check_intact_elements(frame, before, events)
    return 1


def _check_intact_elements(frame: bytes, before: list[bytes], events: list[Event]) -> None:
    """Elements a mutation left alone still decode, whatever happened to their neighbours."""
    try:
        after = msgspec.json.decode(frame, type=list[msgspec.Raw])
    except (ValueError, RecursionError):
        return
    for old, new, event in zip(before, after, events, strict=True):
        try:  # compared re-encoded: as Python values 1 == True == 1.0
            same = msgspec.json.encode(msgspec.json.decode(old)) == msgspec.json.encode(
                msgspec.json.decode(new)
            )
        except (ValueError, RecursionError):
            continue
        if same:
            assert type(event) not in (DecodeError, RawEvent), (bytes(new)[:200], event)


# --- the session --------------------------------------------------------------------------


def _feed(s: MassiveSession, frame: bytes, now: float) -> list[Event]:
    """What the driver does with a received frame: pass data through raw, or ``receive`` it."""
    if s.passthrough and (s.control_probe not in frame or s.control_marker not in frame):
        s.data_seen(now)
        return _decode_queued(s, frame)
    events = s.receive(frame, now)
    return _decode_queued(s, frame) if events is None else events


def _decode_queued(s: MassiveSession, frame: bytes) -> list[Event]:
    """The consumer's side of the queue: the typed fast path, else the never-raising decode."""
    try:
        return s.decode_fast(frame)
    except Exception:
        return s.decode(frame)


def _check_outbox(s: MassiveSession, sent: list[bytes], desired_at_send: Sequence[str]) -> list[str]:
    """Requests are well-formed; subscribes name desired channels only. Returns the subscribed."""
    subscribed: list[str] = []
    for raw in sent:
        req = msgspec.json.decode(raw)
        assert isinstance(req, dict) and req["action"] in ("auth", "subscribe", "unsubscribe"), req
        assert isinstance(req["params"], str)
        if req["action"] == "subscribe":
            chans = req["params"].split(",")
            assert set(chans) <= set(desired_at_send), (chans, desired_at_send)
            subscribed += chans
        elif req["action"] == "unsubscribe":
            assert not set(req["params"].split(",")) & set(desired_at_send)
        else:
            assert req["params"] == KEY
    return subscribed


def _now_step(ch: Chooser, now: float) -> float:
    return now + ch.choice((0.0, 0.001, 0.5, 3.0, 11.0, 200.0, -1.0, -1e6, 1e9))


def massive_session(ch: Chooser) -> int:
    """A session fed server frames (valid, mutated, garbage) among ticks, reconnects and user calls.

    Never raises; every bad frame is counted; the desired set only loses channels the server
    rejected (each one reported); Reconnected lists the desired set; and after it all, a fresh
    connection subscribes exactly the desired set.
    """
    market = ch.choice(tuple(CHANNELS))
    pool = CHANNELS[market]
    s = MassiveSession(
        market,
        Secret(KEY),
        auth_timeout=ch.choice((0.5, 10.0)),
        stale_timeout=ch.choice((None, 2.0, 120.0)),
        max_connections_cooldown=5.0,
    )
    s.subscribe(*[c for c in pool if ch.chance(0.5)])
    now = ch.choice((0.0, 1_705_314_600.0, -5.0, 1e12))
    s.connection_made(now, "wss://fuzz/stocks", 1)
    inputs = 0
    for _ in range(ch.integer(1, 10)):
        op = ch.below(12)
        desired = list(s.desired)
        if op <= 5:
            valid = massive_frame(market, ch, channels=desired + list(pool))
            if op == 0 and ch.chance(0.5):  # make the handshake likely to get through
                valid = [{"ev": "status", "status": ch.choice(("connected", "auth_success")), "message": ""}]
            frame, _ = mutate_frame(valid, ch, massive_keys(market))
            errors, unknown, fatal = s.decoder.errors, s.decoder.unknown, s.fatal
            events = _feed(s, frame, now)
            inputs += 1
            _check_decoded(s.decoder, events, errors, unknown)
            rejected = [e.channel for e in events if type(e) is SubscriptionRejected and e.channel]
            assert list(s.desired) == [c for c in desired if c not in rejected], (
                desired,
                s.desired,
                rejected,
            )
            for e in events:
                if type(e) is Reconnected:  # a rejection later in the same frame may follow it
                    assert set(s.desired) <= set(e.resubscribed) <= set(desired)
            _check_outbox(s, s.data_to_send(), desired)  # sent before any rejection in the frame
            if s.fatal is not fatal:
                assert isinstance(s.fatal, AuthError) and s.close_requested
        elif op == 6:
            assert s.tick(now) == []
        elif op == 7:
            now = _now_step(ch, now)
        elif op == 8:
            s.connection_lost(now)
            if ch.chance(0.3):
                s.handshake_failed(ch.choice((None, 401, 403, 429, 500)), now)
            s.connection_made(now, "wss://fuzz/stocks", ch.integer(1, 5))
        elif op == 9:
            s.subscribe(*[c for c in pool if ch.chance(0.3)])
            _check_outbox(s, s.data_to_send(), list(s.desired))
        elif op == 10:
            s.unsubscribe(*[c for c in desired if ch.chance(0.3)] or [pool[0]])
            _check_outbox(s, s.data_to_send(), list(s.desired))
        else:
            deadline = s.next_deadline()
            assert deadline is None or isinstance(deadline, float)
        assert s.passthrough is (s.state is State.STREAMING)
        if s.fatal is not None:
            assert KEY not in str(s.fatal)
        assert KEY not in repr(s)
    _check_resubscribe(s, now)
    return inputs


def _check_resubscribe(s: MassiveSession, now: float) -> None:
    """Whatever came before: a new connection that authenticates subscribes exactly ``desired``."""
    desired = list(s.desired)
    s.connection_lost(now)
    s.connection_made(now, "wss://fuzz/stocks", 1)
    assert s.data_to_send() == []
    status = dumps([{"ev": "status", "status": "connected", "message": "Connected Successfully"}])
    assert [type(e) for e in s.receive(status, now) or []] == [Status]
    assert _check_outbox(s, s.data_to_send(), desired) == []  # the auth request alone
    welcome = dumps([{"ev": "status", "status": "auth_success", "message": "authenticated"}])
    events = s.receive(welcome, now) or []
    assert s.state is State.STREAMING
    for e in events:
        if type(e) is Reconnected:
            assert e.resubscribed == desired
    subscribed = _check_outbox(s, s.data_to_send(), desired)
    assert sorted(subscribed) == sorted(desired)
