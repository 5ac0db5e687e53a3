"""The callback ``StreamClient`` against the simulator: handlers, reconnects, closing, typed events."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any

import pytest

from tickwire import AuthError, EquityTrade, Reconnected, Status, speedups
from tickwire.errors import StreamWarning
from tickwire.events import Connected, Disconnected, SubscriptionRejected
from tickwire.massive.callback import StreamClient
from tickwire.sim.thread import SimulatorThread

from .conftest import Recorder, make_client


def trades_in(frames: list[str]) -> list[dict[str, Any]]:
    return [e for f in frames for e in json.loads(f) if e.get("ev") == "T"]


def test_raw_frames_to_a_two_argument_handler(sim: SimulatorThread, clients: list[StreamClient]) -> None:
    rec = Recorder()
    client = make_client(sim, rec)
    clients.append(client)
    client.start_stream_thread()
    client.subscribe_stock_trades(["aapl", "msft"])  # right after the start: waits for auth, not lost
    rec.wait_for(lambda: len(trades_in(rec.data_frames())) >= 10, what="10 trades")
    statuses = [json.loads(m) for m in rec.messages if '"status"' in m]
    assert statuses[0] == [{"ev": "status", "status": "connected", "message": "Connected Successfully"}]
    assert {t["sym"] for t in trades_in(rec.data_frames())} <= {"AAPL", "MSFT"}
    assert all(isinstance(m, str) for m in rec.messages)  # raw strings, as the seed documents
    assert client.metrics().events >= 10


def test_raw_mode_passes_status_frames_as_the_server_sent_them(
    sim: SimulatorThread, clients: list[StreamClient]
) -> None:
    """Frames the session reads (statuses, alone or beside data) reach on_message byte for byte, not
    re-encoded from the decoded events; what tickwire learnt from them still reaches on_status."""
    rec = Recorder()
    client = make_client(sim, rec, on_status=rec.on_status)
    clients.append(client)
    client.start_stream_thread()
    client.subscribe("T.AAPL")
    sim.wait_subscribed("stocks", {"T.AAPL"})
    odd = '[ {"ev": "status", "status": "info", "message": "maintenance at 20:00", "extra": 1} ]'
    mixed = '[{"ev":"T","sym":"AAPL","i":"7","x":4,"p":1.5,"s":10,"t":1705314600000,"q":9},' + (
        '{"message":"then a status","ev":"status","status":"info"}]'
    )
    rejected = '[{"ev":"status","status":"error","message":"not authorized for T.AAPL"}]'
    for frame in (odd, mixed, rejected):
        assert sim.send_raw(frame, "stocks") == 1
    rec.wait_for(lambda: rejected in rec.messages, what="the three frames")
    assert odd in rec.messages and mixed in rec.messages
    assert rec.messages.index(odd) < rec.messages.index(mixed) < rec.messages.index(rejected)
    rejections = [s for s in rec.statuses if isinstance(s, SubscriptionRejected)]
    assert [r.message for r in rejections] == ["not authorized for T.AAPL"]  # the session read it
    assert all(isinstance(m, str) for m in rec.messages)


def test_one_argument_handlers(sim: SimulatorThread, clients: list[StreamClient]) -> None:
    got: list[str] = []
    closes: list[tuple[int | None, str]] = []
    errors: list[BaseException] = []
    seen = threading.Event()

    def on_message(msg: str) -> None:
        got.append(msg)
        if '"ev":"T"' in msg:
            seen.set()

    client = make_client(
        sim,
        on_message=on_message,
        on_error=errors.append,
        on_close=lambda code, msg: closes.append((code, msg)),
    )
    clients.append(client)
    client.subscribe_stock_trades(["AAPL"])  # before the start: sent once authenticated
    client.start_stream_thread()
    assert seen.wait(8)
    client.close_stream()
    assert closes == [(1000, "closed by client")]
    assert errors == []


@pytest.fixture(params=["c_dispatch", "python_dispatch"])
def dispatch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Typed delivery with the C handler loop (tickwire.speedups.dispatch_single) and without it."""
    if request.param == "python_dispatch":
        monkeypatch.setattr(speedups, "dispatch_single", None)
    elif speedups.dispatch_single is None:
        pytest.fail("tickwire._hotpath was not built")
    return str(request.param)


def test_typed_events(sim: SimulatorThread, clients: list[StreamClient], dispatch: str) -> None:
    rec = Recorder()
    client = make_client(sim, rec, messages="events")
    clients.append(client)
    client.start_stream_thread()
    client.subscribe_stock_trades(["AAPL"])
    rec.wait_for(lambda: sum(isinstance(m, EquityTrade) for m in rec.messages) >= 3, what="3 typed trades")
    assert any(isinstance(m, Status) and m.status == "auth_success" for m in rec.messages)
    assert {m.symbol for m in rec.messages if isinstance(m, EquityTrade)} == {"AAPL"}


def test_typed_events_with_a_raising_handler_and_a_status_callback(
    sim: SimulatorThread, clients: list[StreamClient], dispatch: str
) -> None:
    """Every failing call is reported once, in order; the engine's control events go to on_status,
    never to on_message (the server's statuses are messages, as in the seed)."""
    rec = Recorder()
    calls: list[object] = []

    def flaky(ws: StreamClient, msg: object) -> str:
        calls.append(msg)
        if len(calls) % 2:
            raise ValueError(f"handler bug #{len(calls)}")
        rec.on_message(ws, msg)  # type: ignore[arg-type]
        return "a value on_message returns is ignored"

    client = make_client(sim, rec, messages="events", on_message=flaky, on_status=rec.on_status)
    clients.append(client)
    client.start_stream_thread()
    client.subscribe_stock_trades(["AAPL", "MSFT"])
    rec.wait_for(lambda: len(rec.messages) >= 6, what="typed trades")
    client.close_stream()
    assert any(isinstance(m, EquityTrade) for m in calls)
    assert not any(isinstance(m, Connected | Disconnected) for m in calls)
    failed = [e for e in rec.errors if isinstance(e, ValueError)]
    assert [str(e) for e in failed[:3]] == ["handler bug #1", "handler bug #3", "handler bug #5"]
    assert len(failed) in (len(calls) // 2, (len(calls) + 1) // 2)
    assert any(isinstance(s, Connected) for s in rec.statuses)


def test_a_raising_handler_is_reported_and_the_stream_goes_on(
    sim: SimulatorThread, clients: list[StreamClient]
) -> None:
    rec = Recorder()
    calls = 0

    def flaky(ws: StreamClient, msg: str) -> None:
        nonlocal calls
        calls += 1
        if calls % 2:
            raise ValueError(f"handler bug #{calls}")
        rec.on_message(ws, msg)

    client = make_client(sim, rec, on_message=flaky)
    clients.append(client)
    client.start_stream_thread()
    client.subscribe_stock_trades(["AAPL"])
    rec.wait_for(lambda: len(rec.data_frames()) >= 5 and len(rec.errors) >= 5, what="errors and messages")
    assert all(isinstance(e, ValueError) for e in rec.errors)
    assert client.is_alive


def test_reconnect_restores_the_same_subscriptions(sim: SimulatorThread, clients: list[StreamClient]) -> None:
    rec = Recorder()
    client = make_client(sim, rec)
    clients.append(client)
    client.start_stream_thread()
    client.subscribe_stock_trades(["AAPL", "MSFT"])
    client.subscribe_stock_minute_aggregates()
    wanted = {"T.AAPL", "T.MSFT", "AM.*"}
    sim.wait_subscribed("stocks", wanted)
    assert sim.drop("stocks") == 1
    rec.wait_for(
        lambda: any(isinstance(e, StreamWarning) and isinstance(e.event, Reconnected) for e in rec.errors)
    )
    info = sim.wait_subscribed("stocks", wanted)
    assert info.subscriptions == wanted
    assert sim.counters.handshakes == 2
    warnings = [e for e in rec.errors if isinstance(e, StreamWarning)]
    assert isinstance(warnings[0].event, Disconnected) and "reconnecting in" in str(warnings[0])
    gap = next(e.event for e in warnings if isinstance(e.event, Reconnected))
    assert gap.gap_end >= gap.gap_start and set(gap.resubscribed) == wanted
    after = len(rec.data_frames())
    rec.wait_for(lambda: len(rec.data_frames()) > after + 3, what="data after the reconnect")
    assert rec.closes == []


def test_status_callback_gets_control_events(sim: SimulatorThread, clients: list[StreamClient]) -> None:
    rec = Recorder()
    client = make_client(sim, rec, on_status=rec.on_status)
    clients.append(client)
    client.start_stream_thread()
    client.subscribe_stock_trades(["AAPL"])
    rec.wait_for(lambda: any(isinstance(s, Connected) for s in rec.statuses))
    sim.drop()
    rec.wait_for(lambda: any(isinstance(s, Reconnected) for s in rec.statuses))
    assert rec.errors == []  # with on_status, on_error only gets real errors


def test_close_from_another_thread_is_graceful_and_idempotent(
    sim: SimulatorThread, clients: list[StreamClient]
) -> None:
    rec = Recorder()
    client = make_client(sim, rec)
    client.start_stream_thread()
    client.subscribe_stock_trades(["AAPL"])
    rec.wait_for(lambda: len(rec.data_frames()) >= 2)
    closer = threading.Thread(target=client.close_stream)
    closer.start()
    closer.join(10)
    assert not closer.is_alive() and not client.is_alive
    client.close_stream()  # again: nothing happens
    assert rec.closes == [(1000, "closed by client")]
    names = {t.name for t in threading.enumerate()}
    assert "tickwire-io" not in names and "tickwire-dispatch" not in names
    with pytest.raises(Exception, match="closed"):
        client.subscribe_stock_trades(["MSFT"])


def test_close_from_a_handler(sim: SimulatorThread, clients: list[StreamClient]) -> None:
    rec = Recorder()
    count = 0

    def stop_after_three(ws: StreamClient, msg: str) -> None:
        nonlocal count
        if '"ev":"T"' in msg:
            count += 1
            rec.on_message(ws, msg)
            if count == 3:
                ws.close_stream()  # returns at once; no message after this one

    client = make_client(sim, rec, on_message=stop_after_three)
    client.start_stream_thread()
    client.subscribe_stock_trades(["AAPL"])
    assert client.wait(10), "the stream did not end after close_stream() from a handler"
    assert count == 3 and len(rec.messages) == 3
    assert rec.closes == [(1000, "closed by client")]
    client.close_stream()


def test_close_from_a_typed_handler_delivers_nothing_after_it(
    sim: SimulatorThread, clients: list[StreamClient], dispatch: str
) -> None:
    """Typed hand-offs are dispatched many events per call (in C): a stop from the handler must
    still end delivery at that event, even with more of the frame and hand-off left."""
    rec = Recorder()
    trades: list[EquityTrade] = []

    def stop_after_five(ws: StreamClient, msg: object) -> None:
        if isinstance(msg, EquityTrade):
            trades.append(msg)
            if len(trades) == 5:
                ws.close_stream()
            elif len(trades) > 5:
                raise AssertionError("delivered after close_stream")

    client = make_client(sim, rec, messages="events", on_message=stop_after_five)
    sim.pause_data()  # only the frame below: ten trades in one frame
    client.start_stream_thread()
    client.subscribe_stock_trades(["AAPL"])
    sim.wait_subscribed("stocks", {"T.AAPL"})
    trade = '{{"ev":"T","sym":"AAPL","i":"{q}","x":4,"p":100.5,"s":1,"t":1700000000000,"q":{q},"z":3}}'
    sim.send_raw("[" + ",".join(trade.format(q=q) for q in range(1, 11)) + "]")
    assert client.wait(10), "the stream did not end after close_stream() from a handler"
    assert [t.sequence_number for t in trades] == [1, 2, 3, 4, 5] and rec.errors == []
    assert rec.closes == [(1000, "closed by client")]
    client.close_stream()


def test_bad_key_stops_with_a_clear_error(sim: SimulatorThread) -> None:
    rec = Recorder()
    client = make_client(sim, rec, api_key="wrong-key-123")
    client.start_stream_thread()
    assert client.wait(10)
    auth = [e for e in rec.errors if isinstance(e, AuthError)]
    assert len(auth) == 1 and "stocks" in str(auth[0]) and "wrong-key-123" not in str(auth[0])
    assert len(rec.closes) == 1 and rec.closes[0][0] == 1008
    assert sim.counters.handshakes == 1  # no retry storm
    assert "wrong-key-123" not in repr(client)


def test_default_handlers_log_statuses_and_print_data(
    sim: SimulatorThread, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tickwire.callback")
    client = make_client(sim)
    client.start_stream_thread()
    client.subscribe_stock_trades(["AAPL"])
    out = ""
    deadline = time.monotonic() + 8
    while '"ev":"T"' not in out and time.monotonic() < deadline:  # the default handler prints to stdout
        time.sleep(0.02)
        out += capsys.readouterr().out
    client.close_stream()
    out += capsys.readouterr().out
    assert '"ev":"T"' in out and '"auth_success"' not in out
    assert any("auth_success" in r.getMessage() for r in caplog.records)
    assert "Closed. Close Code: 1000" in out


def test_runs_inside_a_running_event_loop(sim: SimulatorThread) -> None:
    """Jupyter runs user code inside an event loop: the client must not touch it."""

    async def notebook_cell() -> int:
        rec = Recorder()
        client = make_client(sim, rec)
        client.start_stream_thread()
        client.subscribe_stock_trades(["AAPL"])
        await asyncio.to_thread(rec.wait_for, lambda: len(rec.data_frames()) >= 2)
        client.close_stream()
        return len(rec.closes)

    assert asyncio.run(notebook_cell()) == 1


def test_secrets_stay_out_of_reprs() -> None:
    client = StreamClient("super-secret-key-9", "stocks", host="ws://127.0.0.1:9", dotenv_path=None)
    assert "super-secret-key-9" not in repr(client)
    assert "super-secret-key-9" not in repr(client.client)
    client.close_stream()
