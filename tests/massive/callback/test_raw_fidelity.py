"""Raw mode passes every frame exactly as the server sent it: unknown keys, odd numbers, statuses
mixed with data, empty and whitespace-padded arrays (what the official clients' raw mode promises)."""

from __future__ import annotations

from tickwire.massive.callback import StreamClient
from tickwire.sim.thread import SimulatorThread

from .conftest import Recorder, make_client

FRAMES = [
    # unknown keys, odd number formats (exponent, trailing zeros, negative zero, huge ints)
    '[{"ev":"T","sym":"AAPL","p":1.50,"s":1e2,"t":1705314600000,"zz":{"a":[1,2]},"q":-0,'
    '"i":"00012","big":123456789012345678901234567890}]',
    # a status mixed with data, key order not tickwire's, unicode escapes
    '[{"message":"halted \\u00e9","status":"info","ev":"status","x-extra":true},'
    '{"ev":"Q","sym":"MSFT","bp":1.0E+1,"ap":10.010,"t":1705314600001,"unknown":null}]',
    # whitespace and newlines as sent
    '[\n  {"ev": "AM", "sym": "AAPL", "o": 1, "c": 2.000, "s": 1705314600000, "e": 1705314660000}\n]',
    # an empty array, and one of an unknown type only
    "[]",
    '[{"ev":"ZZ","anything":"goes"}]',
    # a status with a field tickwire does not know, then data of an unknown type
    '[{"ev":"status","status":"success","message":"subscribed to: T.MSFT","id":7},{"ev":"NEW","v":1}]',
    # the last one, to wait for
    '[{"ev":"status","status":"info","message":"end of test"}]',
]


def test_every_frame_reaches_on_message_byte_identical(
    sim: SimulatorThread, clients: list[StreamClient]
) -> None:
    rec = Recorder()
    client = make_client(sim, rec, on_status=rec.on_status)
    clients.append(client)
    client.start_stream_thread()
    rec.wait_streaming()
    client.subscribe("T.NOPE")  # nothing trades: the only data frames are ours
    sim.wait_subscribed("stocks", {"T.NOPE"})
    for frame in FRAMES:
        assert sim.send_raw(frame, "stocks") == 1
    rec.wait_for(lambda: FRAMES[-1] in rec.messages, what="the last frame")
    got = rec.messages[rec.messages.index(FRAMES[0]) :]
    assert got == FRAMES  # all of them, in order, each exactly as sent
    assert all(type(m) is str for m in got)
    assert rec.errors == []
