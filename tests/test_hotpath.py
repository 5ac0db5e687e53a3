"""The engine's C steps (``tickwire._hotpath``) against the Python code they stand in for.

Each C step must do exactly what its Python twin does for the case it takes and hand every other
case back: the frame reader queues what ``EventQueue.put_frame`` would and passes the rest to the
Python reader; ``Flatten`` yields what the async generators yield, ends, fails and is cancelled
the same way (also under a tracer, where the interpreter steps it through ``send``); and
``dispatch_single`` calls handlers as the Python loop does. The last tests run whole streams from
the simulator through both paths and compare what user code saw.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from picows import WSFrame, WSMsgType
from picows import picows as pw

from tests.waiting import until
from tickwire import AsyncStreamClient, speedups
from tickwire.events import Event
from tickwire.sim import MassiveSimulator
from tickwire.stream.metrics import Metrics
from tickwire.stream.queue import EventQueue

pytestmark = pytest.mark.skipif(not speedups.hot_path()["flatten"], reason="tickwire._hotpath not built")


def test_the_extension_is_built_and_the_frame_layout_checks_out() -> None:
    """Every machine of this project has a C compiler and the picows this was built against."""
    assert speedups.hot_path() == {"frame_reader": True, "flatten": True, "dispatch_single": True}


# --- the frame reader ----------------------------------------------------------------------


class _Session:
    def __init__(self, passthrough: bool = True) -> None:
        self.passthrough = passthrough


def _frame(payload: bytes, kind: WSMsgType = WSMsgType.TEXT, fin: bool = True) -> WSFrame:
    return pw._make_test_ws_frame(kind, payload, fin, False)


def _reader(
    queue: EventQueue,
    *,
    probe: bytes = b"~",
    max_size: int = 1 << 20,
    tapless: bool = True,
    passthrough: bool = True,
) -> Any:
    slow: list[tuple[object, bytes]] = []
    assert speedups.FrameReader is not None
    reader = speedups.FrameReader(
        lambda t, f: slow.append((t, f.get_payload_as_bytes())),
        _Session(passthrough),
        queue,
        queue.metrics,
        WSFrame,
        probe,
        max_size,
        tapless,
    )
    return reader, slow


def test_a_data_frame_is_queued_as_put_frame_would() -> None:
    c_queue, py_queue = EventQueue(100), EventQueue(100)
    reader, slow = _reader(c_queue)
    for payload in (b'[{"ev":"T"}]', b"x" * 300, bytes(range(120))):  # (no probe byte, "~")
        reader("transport", _frame(payload))
        py_queue.put_frame(payload)
        py_queue.metrics.frames += 1
        py_queue.metrics.bytes += len(payload)
    assert slow == []
    assert list(c_queue._items) == list(py_queue._items)
    assert (c_queue.bytes, c_queue.metrics.frames, c_queue.metrics.bytes) == (
        py_queue.bytes,
        py_queue.metrics.frames,
        py_queue.metrics.bytes,
    )
    assert reader.fast == 3


@pytest.mark.parametrize(
    "why",
    [
        "control frame",
        "pong",
        "close",
        "fragment",
        "continuation",
        "too long",
        "probe",
        "not streaming",
        "tap",
    ],
)
def test_every_other_frame_goes_to_the_python_reader(why: str) -> None:
    queue = EventQueue(100)
    frame = {
        "control frame": _frame(b"ping", WSMsgType.PING),
        "pong": _frame(b"", WSMsgType.PONG),
        "close": _frame(b"\x03\xe8", WSMsgType.CLOSE),
        "fragment": _frame(b"[1,", fin=False),
        "continuation": _frame(b"2]", WSMsgType.CONTINUATION),
        "too long": _frame(b"x" * 101),
        "probe": _frame(b'[{"ev":"status","message":"~"}]'),
        "not streaming": _frame(b"[1]"),
        "tap": _frame(b"[1]"),
    }[why]
    reader, slow = _reader(queue, max_size=100, tapless=why != "tap", passthrough=why != "not streaming")
    reader("transport", frame)
    assert slow == [("transport", frame.get_payload_as_bytes())]
    assert len(queue) == 0 and queue.bytes == 0 and queue.metrics.frames == 0


def test_it_wakes_the_consumer_and_applies_the_overflow_policy() -> None:
    async def scenario() -> None:
        paused: list[bool] = []
        queue = EventQueue(2, "block", max_bytes=10_000, on_pause=lambda: paused.append(True))
        reader, _ = _reader(queue)
        waiting = asyncio.ensure_future(queue.wait())
        await asyncio.sleep(0)
        reader(None, _frame(b"[1]"))
        assert await asyncio.wait_for(waiting, 1.0) is True
        reader(None, _frame(b"[2]"))
        assert paused == []
        reader(None, _frame(b"[3]"))  # over maxsize: paused once
        reader(None, _frame(b"[4]"))
        assert paused == [True] and queue.paused
        dropping = EventQueue(10, "drop_oldest", max_bytes=8, count_events=lambda f: 1)
        reader, _ = _reader(dropping)
        for i in range(5):
            reader(None, _frame(b"[%d]" % i))
        assert dropping.dropped == 3 and dropping.bytes <= 8

    asyncio.run(scenario())


def test_the_reader_refuses_what_it_cannot_read() -> None:
    assert speedups.FrameReader is not None
    with pytest.raises(TypeError):
        speedups.FrameReader(print, _Session(), EventQueue(1), Metrics(), int, b"~", 10, True)
    with pytest.raises(TypeError):  # a queue without the slots it updates
        speedups.FrameReader(print, _Session(), object(), Metrics(), WSFrame, b"~", 10, True)
    reader, _ = _reader(EventQueue(1))
    with pytest.raises(TypeError):
        reader(_frame(b"[1]"))


# --- Flatten -----------------------------------------------------------------------------


async def _source(wakeups: list[list[list[int]]], fail: BaseException | None = None) -> AsyncIterator[Any]:
    for got in wakeups:
        await asyncio.sleep(0)  # suspends: the step goes through the event loop
        yield got
    if fail is not None:
        raise fail


async def _python_flat(source: AsyncIterator[list[list[int]]], depth: int) -> AsyncIterator[Any]:
    async for got in source:
        for batch in got:
            if depth == 1:
                yield batch
            else:
                for ev in batch:
                    yield ev


WAKEUPS = [[[1, 2, 3], [4]], [[5]], [[], [6, 7]], [[8, 9, 10]]]


@pytest.mark.parametrize("depth", [1, 2])
def test_flatten_yields_what_the_generators_yield(depth: int) -> None:
    async def collect(it: AsyncIterator[Any]) -> list[Any]:
        return [x async for x in it]

    assert speedups.Flatten is not None
    got = asyncio.run(collect(speedups.Flatten(_source(WAKEUPS), depth)))
    want = asyncio.run(collect(_python_flat(_source(WAKEUPS), depth)))
    assert got == want
    assert got == (list(range(1, 11)) if depth == 2 else [b for w in WAKEUPS for b in w])


def test_flatten_under_a_tracer_steps_through_send() -> None:
    """With a tracer (coverage, a debugger) the interpreter does not use am_send."""

    async def collect() -> list[int]:
        assert speedups.Flatten is not None
        return [x async for x in speedups.Flatten(_source(WAKEUPS), 2)]

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return tracer

    sys.settrace(tracer)
    try:
        got = asyncio.run(collect())
    finally:
        sys.settrace(None)
    assert got == list(range(1, 11))


def test_flatten_passes_errors_and_the_end_on() -> None:
    async def scenario() -> None:
        assert speedups.Flatten is not None
        it = speedups.Flatten(_source([[[1]]], ValueError("boom")), 2)
        assert await anext(it) == 1
        with pytest.raises(ValueError, match="boom"):
            await anext(it)
        with pytest.raises(StopAsyncIteration):  # the source is finished
            await anext(it)
        bad = speedups.Flatten(_source([[1, 2]]), 2)  # type: ignore[list-item]
        with pytest.raises(TypeError, match="batch is not a list"):
            await anext(bad)

    asyncio.run(scenario())


def test_a_cancel_while_waiting_reaches_the_source() -> None:
    async def scenario() -> None:
        closed = asyncio.Event()

        async def forever() -> AsyncIterator[list[list[int]]]:
            try:
                yield [[1]]
                await asyncio.sleep(3600)
                yield [[2]]
            finally:
                closed.set()

        assert speedups.Flatten is not None
        it = speedups.Flatten(forever(), 2)
        seen: list[int] = []

        async def consume() -> None:
            async for x in it:
                seen.append(x)

        task = asyncio.ensure_future(consume())
        await until(lambda: seen == [1], 5, "the first item")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert closed.is_set()  # the source got the cancel where it waited and ran its finally

    asyncio.run(scenario())


class _Suspend:
    """An awaitable that suspends once, yielding a marker (what a future does to the loop)."""

    def __await__(self) -> Any:
        yield "suspended"


def test_throw_and_close_reach_the_source_step_in_progress() -> None:
    """Driven by hand as the interpreter would under a tracer: a value the source yields after
    catching what was thrown is the awaited item; close() ends the step in progress."""

    async def catches() -> AsyncIterator[list[list[int]]]:
        try:
            await _Suspend()
        except KeyError:
            yield [[99, 100]]

    assert speedups.Flatten is not None
    it: Any = speedups.Flatten(catches(), 2)
    assert it.send(None) == "suspended"
    with pytest.raises(StopIteration) as stop:
        it.throw(KeyError("k"))
    assert stop.value.value == 99
    with pytest.raises(StopIteration) as stop:
        it.send(None)  # the buffered rest: no step of the source
    assert stop.value.value == 100
    with pytest.raises(TypeError):
        it.throw("not an exception")

    async def waits() -> AsyncIterator[list[list[int]]]:
        await _Suspend()
        yield [[1]]

    def after_close(it: Any) -> str:
        """What the next step does once the step in progress was closed."""
        step = it.__anext__()
        assert step.send(None) == "suspended"
        step.close()
        try:
            it.__anext__().send(None)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    # the same as the Python engine's async generators (CPython leaves the source marked running)
    closed_c = after_close(speedups.Flatten(waits(), 2))
    assert closed_c == after_close(_python_flat(waits(), 2)) and "already running" in closed_c
    with pytest.raises(ValueError, match="boom"):  # thrown with nothing in progress: raised as is
        speedups.Flatten(waits(), 2).throw(ValueError("boom"))


def test_aclose_closes_the_source() -> None:
    async def scenario() -> None:
        closed: list[bool] = []

        async def src() -> AsyncIterator[list[list[int]]]:
            try:
                yield [[1, 2]]
                yield [[3]]
            finally:
                closed.append(True)

        assert speedups.Flatten is not None
        it = speedups.Flatten(src(), 2)
        assert await anext(it) == 1
        await it.aclose()  # type: ignore[attr-defined]
        assert closed == [True]

    asyncio.run(scenario())


# --- dispatch_single -------------------------------------------------------------------------


def test_dispatch_single_calls_until_it_must_stop() -> None:
    assert speedups.dispatch_single is not None
    calls: list[object] = []

    def boom(ev: object) -> None:
        raise RuntimeError(f"bad {ev}")

    single: dict[type, Callable[[Any], Any]] = {int: calls.append, str: boom, bytes: lambda ev: "value"}
    batches: list[list[Any]] = [[1, 2], [], [3, 2.5, 4], ["s", b"b", 5]]
    fast = speedups.dispatch_single
    assert fast(batches, single, 0, 0) == (2, 1, None)  # 2.5: no single handler
    assert calls == [1, 2, 3]
    b, e, exc = fast(batches, single, 2, 2)  # type: ignore[misc]
    assert (b, e) == (3, 0) and isinstance(exc, RuntimeError) and exc.__traceback__ is not None
    assert calls == [1, 2, 3, 4]
    assert fast(batches, single, 3, 1) == (3, 1, "value")
    assert fast(batches, single, 3, 2) is None and calls[-1] == 5
    with pytest.raises(KeyboardInterrupt):  # not an Exception: it propagates
        fast([[1]], {int: _interrupt}, 0, 0)


def _interrupt(ev: object) -> None:
    raise KeyboardInterrupt


def test_dispatch_single_sees_a_changed_dict_at_the_next_event() -> None:
    """The handler of the last type is kept only while the dict is unchanged: a handler replaced,
    or the dict emptied (a stop from another thread), takes effect at the very next event."""
    fast = speedups.dispatch_single
    assert fast is not None
    seen: list[tuple[str, int]] = []
    single: dict[type, Callable[[Any], Any]] = {}

    def first(ev: int) -> None:
        seen.append(("first", ev))
        if ev == 2:
            single[int] = second  # replaced in place, same type

    def second(ev: int) -> None:
        seen.append(("second", ev))
        if ev == 4:
            single.clear()

    single[int] = first
    assert fast([[1, 2, 3], [4, 5]], single, 0, 0) == (1, 1, None)
    assert seen == [("first", 1), ("first", 2), ("second", 3), ("second", 4)]


def test_dispatch_single_passes_first_before_each_event() -> None:
    fast = speedups.dispatch_single
    assert fast is not None
    got: list[tuple[object, object]] = []
    me = object()
    single: dict[type, Callable[..., Any]] = {
        int: lambda who, ev: got.append((who, ev)),
        str: _raise_the_event,
    }
    assert fast([[1, 2]], single, 0, 0, me) is None
    assert got == [(me, 1), (me, 2)]
    b, e, exc = fast([[3, "x"]], single, 0, 0, me)  # type: ignore[misc]
    assert (b, e) == (0, 1) and isinstance(exc, ValueError) and str(exc) == "x"
    with pytest.raises(TypeError):
        fast([[1]], single, 0, 0, me, "too many")


def _raise_the_event(who: object, ev: str) -> None:
    raise ValueError(ev)


# --- whole streams through both paths ----------------------------------------------------------


def _trade(q: int, sym: str = "AAPL") -> str:
    return f'{{"ev":"T","sym":"{sym}","i":"{q}","x":4,"p":{100 + q / 100},"s":{q},"c":[37],"t":{1_700_000_000_000 + q},"q":{q},"z":3}}'


def _frames() -> list[str]:
    """Frames of every shape the paths tell apart: one short trade (a frame under 126 bytes),
    frames of 50, a status in the stream (the session reads it), quotes (a second event type), a
    frame that does not decode, and the last trade."""
    out = [f"[{_trade(1)}]"]
    out += [
        "[" + ",".join(_trade(q, "MSFT" if q % 3 else "AAPL") for q in range(k, k + 50)) + "]"
        for k in (2, 52)
    ]
    out.append('[{"ev":"status","status":"success","message":"a status in the stream"}]')
    out.append(
        '[{"ev":"Q","sym":"AAPL","bx":4,"bp":1.5,"bs":2,"ax":7,"ap":1.6,"as":3,"c":1,"t":1700000000000,"q":7,"z":3},'
        + _trade(102)
        + "]"
    )
    out.append("[{not json")
    out.append(f"[{_trade(103)}]")
    return out


async def _consume(sim: MassiveSimulator, how: str) -> tuple[list[str], int]:
    """What user code saw of :func:`_frames` (each data event's repr, in order), and how many frames
    the client's C reader queued."""
    client = AsyncStreamClient(api_key="k", url=sim.url, dotenv_path=None)
    seen: list[str] = []
    done = asyncio.Event()

    def take(ev: Event) -> None:
        if ev.event_type in ("T", "Q") or getattr(ev, "message", "") == "a status in the stream":
            seen.append(repr(ev))
            if getattr(ev, "sequence_number", 0) == 103:
                done.set()

    async def atake(ev: Event) -> None:
        await asyncio.sleep(0)
        take(ev)

    failing = 0

    def fails(ev: Event) -> None:
        nonlocal failing
        failing += 1
        raise ValueError("a handler that fails does not stop the others")

    async with client:
        await client.subscribe("T.*", "Q.*")
        await until(lambda: client.metrics().connected, 10, "streaming")
        for frame in _frames():
            sim.send_raw(frame)
        if how == "async for":
            async for ev in client:
                take(ev)
                if done.is_set():
                    break
        elif how == "batches":
            async for batch in client.batches():
                for ev in batch:
                    take(ev)
                if done.is_set():
                    break
        else:
            if how == "handlers":
                client.on("*", take)
            elif how == "async handlers":
                client.on("T", atake)
                client.on("Q", take)
                client.on("status", take)
            else:  # two handlers for trades, one of them failing: the general path
                client.on("T", take)
                client.on("T", fails)
                client.on("Q", take)
                client.on("status", take)
            runner = asyncio.ensure_future(client.run())
            await asyncio.wait_for(done.wait(), 20)
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner
            assert how != "two handlers" or failing == 103
        listener = client.driver.listener
        reader = getattr(listener, "__dict__", {}).get("on_ws_frame")
        fast = int(getattr(reader, "fast", 0))
    return seen, fast


@pytest.mark.parametrize("how", ["async for", "batches", "handlers", "async handlers", "two handlers"])
async def test_user_code_sees_the_same_stream_with_and_without_c(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with MassiveSimulator(seed=11, max_connections=None) as sim:
        sim.pause_data()  # only the frames sent here
        with_c, fast = await _consume(sim, how)
        assert fast >= 5  # the C reader queued the data frames
        for name in ("FrameReader", "Flatten", "dispatch_single"):
            monkeypatch.setattr(speedups, name, None)
        pure, fast = await _consume(sim, how)
        assert fast == 0
    assert with_c == pure
    assert len(with_c) == 103 + 1 + 1  # every trade, the quote, the status
