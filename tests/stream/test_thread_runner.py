"""ThreadRunner: a real client's loop on its own thread, items handed to a dispatch thread (loopback)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.waiting import poll
from tickwire.backoff import Backoff
from tickwire.errors import AuthError, TickwireError
from tickwire.events import Connected, Dropped
from tickwire.massive.client import AsyncStreamClient
from tickwire.sim import MassiveSimulator
from tickwire.sim.thread import SimulatorThread
from tickwire.stream.queue import FrameEvents, Item
from tickwire.stream.thread_runner import ThreadRunner

WAIT = 10.0


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with MassiveSimulator(
        seed=11, tick_interval=0.01, rate=200.0, close_timeout=0.3, valid_keys={"good-key"}
    ).run_in_thread() as s:
        yield s


def make_client(sim: SimulatorThread, **overrides: Any) -> AsyncStreamClient:
    options: dict[str, Any] = {
        "api_key": "good-key",
        "market": "stocks",
        "url": sim.url,
        "subscriptions": ["T.*"],
        "backoff": Backoff(base=0.02, cap=0.1, seed=1),
        "stale_timeout": None,
        "ping_interval": None,
        "dotenv_path": None,
    }
    options.update(overrides)
    return AsyncStreamClient(**options)


class Sink:
    """What the runner hands over, with the thread it came on; conditions to wait on, not sleeps."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.threads: set[str] = set()
        self.finished: list[str] = []
        self.cond = threading.Condition()
        self.on_item: Callable[[Item], None] | None = None

    def deliver(self, item: Item) -> None:
        if self.on_item is not None:
            self.on_item(item)
        with self.cond:
            self.items.append(item)
            self.threads.add(threading.current_thread().name)
            self.cond.notify_all()

    def finish(self) -> None:
        with self.cond:
            self.finished.append(threading.current_thread().name)
            self.cond.notify_all()

    def data(self) -> list[bytes]:
        return [i for i in self.items if type(i) is bytes]

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        with self.cond:
            assert self.cond.wait_for(predicate, WAIT), (
                f"{what}: not within {WAIT} s ({len(self.items)} items)"
            )


def frame_of(item: Item) -> bytes | None:
    if type(item) is bytes:
        return item
    return item.frame if isinstance(item, FrameEvents) else None


def tickwire_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name in ("tickwire-io", "tickwire-dispatch")}


def test_items_come_in_order_on_the_dispatch_thread_and_finished_runs_once(sim: SimulatorThread) -> None:
    tapped: list[bytes] = []
    client = make_client(sim, frame_tap=lambda frame, ns, epoch: tapped.append(frame))
    sink = Sink()
    runner = ThreadRunner(client, sink.deliver, sink.finish)
    assert runner.start() and not runner.start()  # a second start is a no-op
    try:
        sink.wait_for(lambda: len(sink.data()) >= 20, "20 data frames")
    finally:
        runner.stop(timeout=WAIT)
    assert sink.threads == {"tickwire-dispatch"}
    # every received frame, in the order received: status frames as the session's FrameEvents,
    # holding the frame as received, data frames raw
    frames = [frame_of(i) for i in sink.items]
    received = [f for f in frames if f is not None]
    assert received == tapped[: len(received)]
    first = sink.items[0]
    assert isinstance(first, FrameEvents) and b'"connected"' in first.frame
    assert any(isinstance(i, FrameEvents) and any(type(e) is Connected for e in i) for i in sink.items)
    assert sink.finished == ["tickwire-dispatch"]
    assert runner.state == "ended" and not runner.is_alive and runner.wait(0)
    assert tickwire_threads() == set() and client.closed
    runner.stop()  # again: nothing happens
    assert sink.finished == ["tickwire-dispatch"]


def test_call_runs_inline_before_the_start_then_on_the_loop_thread(sim: SimulatorThread) -> None:
    client = make_client(sim, subscriptions=())
    sink = Sink()
    runner = ThreadRunner(client, sink.deliver, sink.finish)
    here = threading.current_thread().name
    assert runner.call(lambda: threading.current_thread().name) == here
    runner.call(lambda: client.session.subscribe("T.AAPL"))  # before the start: sent once streaming
    runner.start()
    try:
        sim.wait_subscribed("stocks", {"T.AAPL"})
        assert runner.call(lambda: threading.current_thread().name) == "tickwire-io"

        def subscribe_more() -> None:
            client.session.subscribe("T.MSFT")
            client.flush()

        runner.call(subscribe_more)
        sim.wait_subscribed("stocks", {"T.AAPL", "T.MSFT"})
        with pytest.raises(ZeroDivisionError):
            runner.call(lambda: 1 // 0)
    finally:
        runner.stop(timeout=WAIT)
    with pytest.raises(TickwireError, match="closed"):
        runner.call(lambda: None)
    with pytest.raises(TickwireError, match="stopped"):
        runner.start()


def test_stop_from_deliver_returns_at_once_and_nothing_is_delivered_after(sim: SimulatorThread) -> None:
    client = make_client(sim)
    sink = Sink()
    runner = ThreadRunner(client, sink.deliver, sink.finish)
    seen = 0

    def stop_at_the_third_data_frame(item: Item) -> None:
        nonlocal seen
        if type(item) is bytes:
            seen += 1
            if seen == 3:
                runner.stop()  # on the dispatch thread: must not wait for itself

    sink.on_item = stop_at_the_third_data_frame
    runner.start()
    assert runner.wait(WAIT), "the stream did not end after stop() from deliver"
    assert len(sink.data()) == 3 and sink.finished == ["tickwire-dispatch"]
    runner.stop(timeout=WAIT)  # joins the threads
    assert tickwire_threads() == set()


def test_deliver_all_gets_whole_hand_offs_and_on_stopping_runs_once_before_the_wait(
    sim: SimulatorThread,
) -> None:
    client = make_client(sim)
    sink = Sink()
    hand_offs: list[int] = []
    stopping: list[bool] = []
    runner: ThreadRunner

    def deliver_all(items: list[Item]) -> None:
        hand_offs.append(len(items))
        for item in items:
            if runner.stopping:
                return
            sink.deliver(item)
            if len(sink.data()) == 3:
                runner.stop()

    runner = ThreadRunner(
        client,
        lambda item: pytest.fail("deliver is not called when deliver_all is given"),
        sink.finish,
        deliver_all=deliver_all,
        on_stopping=lambda: stopping.append(runner.stopping),
    )
    runner.start()
    assert runner.wait(WAIT), "the stream did not end after stop() from deliver_all"
    runner.stop(timeout=WAIT)  # a second stop: on_stopping does not run again
    assert len(sink.data()) == 3 and sink.finished == ["tickwire-dispatch"]
    assert stopping == [True] and hand_offs and sum(hand_offs) >= len(sink.items)
    assert tickwire_threads() == set()


def test_a_fatal_error_ends_the_stream_and_finished_runs_once(sim: SimulatorThread) -> None:
    client = make_client(sim, api_key="wrong-key")
    sink = Sink()
    runner = ThreadRunner(client, sink.deliver, sink.finish)
    runner.start()
    assert runner.wait(WAIT)
    assert isinstance(client.error, AuthError) and sink.finished == ["tickwire-dispatch"]
    with pytest.raises(TickwireError, match="ended"):
        runner.call(lambda: None)
    runner.stop(timeout=WAIT)
    assert tickwire_threads() == set() and sim.counters.handshakes == 1


def test_the_bounded_queue_stays_the_only_buffer_while_delivery_stalls(sim: SimulatorThread) -> None:
    client = make_client(sim, queue_size=8, overflow="drop_oldest")
    sink = Sink()
    gate = threading.Event()

    def stall_on_data(item: Item) -> None:
        if type(item) is bytes:
            gate.wait(WAIT)

    sink.on_item = stall_on_data
    runner = ThreadRunner(client, sink.deliver, sink.finish, hand_off=4)
    runner.start()
    try:
        # one hand-off is held by the stalled callback; the reader goes on, so the queue must shed
        # (an unbounded buffer between the loop and the dispatcher would take everything instead)
        poll(client.metrics, lambda m: m.dropped > 0, within=WAIT, interval=0.01)  # else: a hidden buffer
        assert client.metrics().queue_depth <= 8
        gate.set()
        sink.wait_for(
            lambda: any(isinstance(i, list) and any(type(e) is Dropped for e in i) for i in sink.items),
            "the Dropped marker",
        )
    finally:
        gate.set()
        runner.stop(timeout=WAIT)
