"""The Driver over real loopback sockets: a tiny picows server and a scripted sans-I/O session.

The session below implements the :class:`~tickwire.stream.session.Session` protocol and nothing
else, with a protocol small enough to read at a glance: the server greets with ``~hello``, the
session answers ``auth``, the server says ``~ready`` and the stream is on; frames without ``~`` are
data. So every test here is about the driver alone: connecting, frames to the session and the
queue, the outbox, keepalive, backoff and ``retry_floor``, fatal errors, ``max_reconnects``,
``close()``, the reasons of ``Disconnected`` and the refusal of oversize frames.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus
from typing import Any

import pytest
from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from tickwire import speedups
from tickwire.backoff import Backoff
from tickwire.errors import AuthError, ConnectionLost, TickwireError
from tickwire.events import Connected, Disconnected, Event, Status
from tickwire.stream import driver as driver_module
from tickwire.stream.driver import Driver, DriverConfig
from tickwire.stream.queue import EventQueue
from tickwire.stream.session import Session

WITHIN = 10.0
"""Guard against a hang only: every wait below ends on an event long before this."""


# --- the session -----------------------------------------------------------------------


class ScriptedSession:
    """A minimal Session: ``~hello`` → send ``auth``; ``~ready`` → streaming; ``~denied`` → fatal."""

    control_marker = b"~"
    control_probe = b"~"
    data_starts = b"d"

    def __init__(self, *, refusal_floor: float = 0.0) -> None:
        self.epoch = 0
        self.disconnect_reason: str | None = None
        self.close_requested = False
        self.fatal: TickwireError | None = None
        self.retry_floor = 0.0
        self.passthrough = False
        self.send_binary = False
        self.stale_timeout: float | None = None
        self.streaming_since = 0.0
        self.outbox: list[bytes] = []
        self.refusal_floor = refusal_floor
        self.url = ""
        self.attempts: list[int] = []
        self.refusals: list[tuple[int | None, bytes]] = []
        self.received: list[bytes] = []
        self.lost = 0
        self.data_seen_at: float | None = None
        self._refusal_body = b""

    @property
    def streaming(self) -> bool:
        return self.passthrough

    def handshake_headers(self, now: float) -> dict[str, str]:
        return {"x-scripted": "yes"}

    def handshake_refused_body(self, body: bytes) -> None:
        self._refusal_body = body

    def handshake_failed(self, status: int | None, now: float) -> None:
        self.refusals.append((status, self._refusal_body))
        if status == 401:
            self.fatal = AuthError("the server refused the key: check it")
        else:
            self.retry_floor = self.refusal_floor

    def connection_made(self, now: float, url: str, attempt: int) -> None:
        self.epoch += 1
        self.url = url
        self.attempts.append(attempt)
        self.disconnect_reason = None
        self.close_requested = False
        self.retry_floor = 0.0
        self.outbox.clear()

    def receive(self, frame: bytes, now: float) -> list[Event] | None:
        self.received.append(frame)
        if frame == b"~hello":
            self.outbox.append(b"auth")
            return []
        if frame == b"~ready":
            self.passthrough = True
            self.streaming_since = now
            return [Connected(url=self.url, epoch=self.epoch, at=now)]
        if frame == b"~denied":
            self.fatal = AuthError("the key was refused: check it")
            self._close("auth_failed")
            return []
        if frame == b"~kick":
            self._close("kicked")
            return []
        if frame.startswith(b"~"):
            return [Status(status="control", message=frame.decode())]
        return None

    def data_seen(self, now: float) -> None:
        self.data_seen_at = now

    def data_to_send(self) -> list[bytes]:
        out, self.outbox = self.outbox, []
        return out

    def tick(self, now: float) -> list[Event]:
        return []

    def next_deadline(self) -> float | None:
        return None

    def connection_lost(self, now: float) -> None:
        self.passthrough = False
        self.lost += 1

    def send(self, frame: bytes) -> None:
        """What user code does through a client (a subscribe): the driver's ``flush`` sends it."""
        self.outbox.append(frame)

    def _close(self, reason: str) -> None:
        if self.disconnect_reason is None:
            self.disconnect_reason = reason
        self.close_requested = True


def _as_session(s: ScriptedSession) -> Session:
    return s  # mypy checks here that the fake keeps to the protocol


def _decode(frame: bytes) -> list[Event]:
    return [Status(status="data", message=frame.decode())]


# --- the server ------------------------------------------------------------------------


class _ServerConnection(WSListener):
    def __init__(self, server: TinyServer, headers: dict[str, str]) -> None:
        self.server = server
        self.headers = headers
        self.transport: WSTransport | None = None
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self.pings = 0
        self.pinged = asyncio.Event()
        self.close_code: int | None = None
        self.gone = asyncio.Event()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.server.live.append(self)
        self.server.connections.put_nowait(self)
        if self.server.greeting is not None:
            transport.send(WSMsgType.TEXT, self.server.greeting)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.PING:
            self.pings += 1
            self.pinged.set()
            if self.server.answer_pings:
                transport.send_pong(frame.get_payload_as_bytes())
        elif frame.msg_type is WSMsgType.CLOSE:
            code = frame.get_close_code()
            self.close_code = code.value if isinstance(code, WSCloseCode) else int(code)
            transport.send_close(code)
            transport.disconnect()
        elif frame.msg_type is WSMsgType.TEXT:
            data = frame.get_payload_as_bytes()
            self.received.put_nowait(data)
            reply = self.server.replies.get(data)
            if reply is not None:
                transport.send(WSMsgType.TEXT, reply)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.gone.set()

    def send(self, data: bytes, kind: WSMsgType = WSMsgType.TEXT, *, fin: bool = True) -> None:
        assert self.transport is not None
        self.transport.send(kind, data, fin)

    def pong(self, payload: bytes) -> None:
        """An unsolicited pong (a heartbeat some servers send)."""
        assert self.transport is not None
        self.transport.send_pong(payload)

    def close(self, code: WSCloseCode, reason: bytes = b"") -> None:
        assert self.transport is not None
        self.transport.send_close(code, reason)
        self.transport.disconnect()

    def abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        assert self.transport is not None
        self.transport.disconnect(graceful=False)

    async def next_received(self) -> bytes:
        return await asyncio.wait_for(self.received.get(), WITHIN)


class TinyServer:
    """A WebSocket server on loopback: greets, answers scripted frames, can refuse upgrades."""

    def __init__(self) -> None:
        self.greeting: bytes | None = b"~hello"
        self.replies: dict[bytes, bytes] = {b"auth": b"~ready"}
        self.answer_pings = True
        self.refuse: list[tuple[int, bytes]] = []  # the next upgrades get these statuses
        self.upgrades = 0
        self.connections: asyncio.Queue[_ServerConnection] = asyncio.Queue()
        self.live: list[_ServerConnection] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    async def start(self) -> None:
        self._server = await ws_create_server(
            self._route, "127.0.0.1", 0, enable_auto_pong=False, max_frame_size=1 << 20
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for conn in self.live:
            if conn.transport is not None and not conn.gone.is_set():
                conn.abort()
        await asyncio.wait_for(self._server.wait_closed(), WITHIN)

    def _route(self, request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener:
        self.upgrades += 1
        if self.refuse:
            status, body = self.refuse.pop(0)
            return WSUpgradeResponseWithListener(WSUpgradeResponse.create_error_response(status, body), None)
        headers = {k.lower(): v for k, v in request.headers.items()}
        return _ServerConnection(self, headers)

    async def accepted(self) -> _ServerConnection:
        return await asyncio.wait_for(self.connections.get(), WITHIN)


@pytest.fixture(autouse=True, params=["c_reader", "python_reader"])
def frame_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every driver test with both frame readers: the C one (tickwire.speedups) and the Python
    method it stands in for (all frames it does not queue itself go there anyway)."""
    if request.param == "python_reader":
        monkeypatch.setattr(speedups, "FrameReader", None)
    elif speedups.FrameReader is None:
        pytest.fail("tickwire._hotpath was not built or picows' frame layout did not check out")
    return str(request.param)


@pytest.fixture
async def server() -> AsyncIterator[TinyServer]:
    s = TinyServer()
    await s.start()
    yield s
    await s.stop()


# --- helpers ---------------------------------------------------------------------------


def fast_config(**kwargs: object) -> DriverConfig:
    """Short everything, no pings unless asked; a seeded, tiny backoff."""
    options: dict[str, object] = {
        "backoff": Backoff(base=0.01, cap=0.02, minimum=0.001, seed=3),
        "ping_interval": None,
        "handshake_timeout": 2.0,
        "close_timeout": 0.2,
    }
    options.update(kwargs)
    return DriverConfig(**options)  # type: ignore[arg-type]


class Harness:
    """A driver on a scripted session, running in a task, with every delivered event recorded."""

    def __init__(
        self, url: str, config: DriverConfig, session: ScriptedSession | None = None, *, tap: bool = True
    ) -> None:
        self.session = session or ScriptedSession()
        self.queue = EventQueue(1000, decode=_decode)
        self.taps: list[tuple[bytes, int]] = []
        self.driver = Driver(
            _as_session(self.session),
            url,
            self.queue,
            config=config,
            frame_tap=(lambda data, _ns, epoch: self.taps.append((data, epoch))) if tap else None,
        )
        self.events: list[Event] = []
        self.task = asyncio.ensure_future(self.driver.run())

    async def until(self, predicate: Callable[[Event], bool]) -> Event:
        """Take events from the queue (recording them) until one matches."""

        async def take() -> Event:
            for ev in self.events:
                if predicate(ev):
                    return ev
            while True:
                batch = await self.queue.get()
                if batch is None:
                    raise AssertionError(f"the queue closed; events were {self.events}")
                self.events.extend(batch)
                for ev in batch:
                    if predicate(ev):
                        return ev

        return await asyncio.wait_for(take(), WITHIN)

    async def disconnected(self, n: int = 1) -> list[Disconnected]:
        """The first ``n`` Disconnected events."""
        await self.until(lambda _: len(self.disconnects) >= n)
        return self.disconnects[:n]

    @property
    def disconnects(self) -> list[Disconnected]:
        return [e for e in self.events if isinstance(e, Disconnected)]

    async def finished(self) -> BaseException | None:
        """How ``run()`` ended: None when it returned, else what it raised."""
        done, _ = await asyncio.wait([self.task], timeout=WITHIN)
        assert done, "run() did not end"
        return self.task.exception()

    async def stop(self) -> None:
        await self.driver.close()
        await self.finished()


@pytest.fixture
async def harnesses() -> AsyncIterator[list[Harness]]:
    made: list[Harness] = []
    yield made
    for h in made:
        if not h.task.done():
            await h.stop()


def connected_on(epoch: int) -> Callable[[Event], bool]:
    """Matches the ``Connected`` of connection ``epoch``."""
    return lambda e: isinstance(e, Connected) and e.epoch == epoch


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- tests -----------------------------------------------------------------------------


async def test_connects_reads_control_frames_and_flushes_the_outbox(
    server: TinyServer, harnesses: list[Harness]
) -> None:
    h = Harness(server.url, fast_config())
    harnesses.append(h)
    conn = await server.accepted()
    assert conn.headers["x-scripted"] == "yes"  # the session's upgrade headers were sent
    assert await conn.next_received() == b"auth"  # the session's answer to ~hello, sent at once
    connected = await h.until(lambda e: isinstance(e, Connected))
    assert isinstance(connected, Connected) and connected.epoch == 1 and connected.url == server.url
    assert h.driver.connected and h.session.attempts == [0]
    assert h.session.received == [b"~hello", b"~ready"]
    h.session.send(b"subscribe x")  # user code: the driver sends it on flush()
    h.driver.flush()
    assert await conn.next_received() == b"subscribe x"


async def test_data_frames_reach_the_queue_raw_and_control_frames_through_the_session(
    server: TinyServer, harnesses: list[Harness]
) -> None:
    h = Harness(server.url, fast_config())
    harnesses.append(h)
    conn = await server.accepted()
    await h.until(lambda e: isinstance(e, Connected))
    for frame in (b"data 1", b"data 2", b"~note", b"data 3"):
        conn.send(frame)
    await h.until(lambda e: isinstance(e, Status) and e.message == "data 3")
    delivered = [e.message for e in h.events if isinstance(e, Status)]
    assert delivered == ["data 1", "data 2", "~note", "data 3"]  # in order, data decoded by the queue
    assert h.session.received[-1] == b"~note"  # only the control frame went through receive
    assert [data for data, _ in h.taps] == [b"~hello", b"~ready", b"data 1", b"data 2", b"~note", b"data 3"]
    assert {epoch for _, epoch in h.taps} == {1}
    assert h.driver.metrics.frames == 6
    assert h.driver.metrics.bytes == sum(len(d) for d, _ in h.taps)


async def test_the_hot_path_tells_long_data_frames_by_their_first_byte(
    server: TinyServer, harnesses: list[Harness]
) -> None:
    """Without a tap, a complete frame longer than any control frame that starts with one of the
    session's ``data_starts`` is queued raw without its type being asked; short frames (a pong's
    payload may look like data; picows refuses a control frame over 125 bytes as a protocol
    error), fragments and frames that start otherwise go by their type."""
    h = Harness(server.url, fast_config(), tap=False)
    harnesses.append(h)
    conn = await server.accepted()
    await h.until(lambda e: isinstance(e, Connected))
    long = b"d" * 200
    conn.send(b"data 1")
    conn.send(long + b" 2", WSMsgType.BINARY)
    conn.pong(b"d-pong")
    conn.send(b"~note")
    conn.send(long, fin=False)
    conn.send(b" 3", WSMsgType.CONTINUATION)
    conn.send(b"x" + long + b" 4")  # not a data start: by its type
    conn.send(long + b" 5")
    await h.until(lambda e: isinstance(e, Status) and e.message.endswith(" 5"))
    delivered = [e.message.replace("d" * 200, "D") for e in h.events if isinstance(e, Status)]
    assert delivered == ["data 1", "D 2", "~note", "D 3", "xD 4", "D 5"]
    assert h.session.received[-1] == b"~note"  # only the control frame went through receive
    assert h.driver.metrics.frames == 2 + 6  # ~hello, ~ready and the six above; the pong is none


async def test_short_data_frames_of_either_kind_take_the_hot_path(
    server: TinyServer, harnesses: list[Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short complete frame, text or binary (a msgpack trade is a ~100-byte binary frame), is
    queued raw by the hot path; control frames and a pong that looks like data go by their type
    (``_Listener._frame``). Binary ones used to take that path too, for nothing."""
    by_type: list[bytes] = []
    original = driver_module._Listener._frame

    def counting(self: Any, transport: WSTransport, frame: WSFrame, data: bytes) -> None:
        by_type.append(bytes(data))
        original(self, transport, frame, data)

    monkeypatch.setattr(driver_module._Listener, "_frame", counting)
    h = Harness(server.url, fast_config(), tap=False)
    harnesses.append(h)
    conn = await server.accepted()
    await h.until(lambda e: isinstance(e, Connected))
    conn.send(b"data 1", WSMsgType.BINARY)
    conn.send(b"data 2")
    conn.pong(b"d-pong")
    conn.send(b"data 3", WSMsgType.BINARY)
    await h.until(lambda e: isinstance(e, Status) and e.message == "data 3")
    assert [e.message for e in h.events if isinstance(e, Status)] == ["data 1", "data 2", "data 3"]
    assert by_type == [b"~hello", b"~ready", b"d-pong"]


async def test_pongs_keep_the_connection_and_a_missing_pong_drops_it(
    server: TinyServer, harnesses: list[Harness]
) -> None:
    h = Harness(server.url, fast_config(ping_interval=0.02, ping_timeout=0.1))
    harnesses.append(h)
    conn = await server.accepted()
    await h.until(lambda e: isinstance(e, Connected))
    while conn.pings < 6:  # a ping waits for the last one's pong: six pings, five pongs honoured
        conn.pinged.clear()
        await asyncio.wait_for(conn.pinged.wait(), WITHIN)
    assert h.disconnects == [] and h.driver.connected
    server.answer_pings = False
    (gone,) = await h.disconnected()
    assert gone.reason == "ping_timeout" and gone.will_reconnect and gone.epoch == 1
    again = await server.accepted()  # and it reconnects
    assert again is not conn
    connected = await h.until(connected_on(2))
    assert isinstance(connected, Connected)


async def test_refused_handshakes_back_off_no_less_than_the_retry_floor(
    server: TinyServer, harnesses: list[Harness]
) -> None:
    server.refuse = [(503, b"busy"), (503, b"still busy")]
    backoff = Backoff(base=0.01, cap=0.02, minimum=0.001, seed=11)
    twin = Backoff(base=0.01, cap=0.02, minimum=0.001, seed=11)
    h = Harness(server.url, fast_config(backoff=backoff), ScriptedSession(refusal_floor=0.05))
    harnesses.append(h)
    first, second = await h.disconnected(2)
    for d in (first, second):
        assert (d.reason, d.code, d.message, d.epoch, d.will_reconnect) == (
            "handshake_refused", 503, "HTTP 503", 0, True,
        )  # fmt: skip
    # the delays are the backoff's draws, raised to the session's floor
    assert first.retry_in == max(twin.next(), 0.05) == 0.05
    assert second.retry_in == max(twin.next(), 0.05) == 0.05
    assert h.session.refusals == [(503, b"busy"), (503, b"still busy")]
    await server.accepted()
    await h.until(lambda e: isinstance(e, Connected))
    assert h.session.attempts == [2]  # the third attempt streamed
    assert h.driver.metrics.reconnects == 0  # attempts before the first stream are no reconnection


async def test_without_a_floor_the_backoff_alone_sets_the_delay(
    server: TinyServer, harnesses: list[Harness]
) -> None:
    server.refuse = [(502, b"")] * 3
    twin = Backoff(base=0.01, cap=0.02, minimum=0.001, seed=5)
    h = Harness(server.url, fast_config(backoff=Backoff(base=0.01, cap=0.02, minimum=0.001, seed=5)))
    harnesses.append(h)
    delays = [d.retry_in for d in await h.disconnected(3)]
    assert delays == [twin.next() for _ in range(3)]
    assert all(d is not None and d <= 0.02 for d in delays)


async def test_a_fatal_session_error_stops_the_loop_with_it(server: TinyServer) -> None:
    server.replies = {b"auth": b"~denied"}
    h = Harness(server.url, fast_config(max_reconnects=None))
    conn = await server.accepted()
    error = await h.finished()
    assert isinstance(error, AuthError) and "check it" in str(error)
    assert h.driver.error is error
    await h.until(lambda e: isinstance(e, Disconnected))
    (gone,) = h.disconnects
    assert (gone.reason, gone.will_reconnect, gone.retry_in) == ("auth_failed", False, None)
    assert await h.queue.get() is None  # the queue is closed: consumers end
    await asyncio.wait_for(conn.gone.wait(), WITHIN)
    assert server.upgrades == 1  # never retried


async def test_a_fatal_refusal_at_the_upgrade_is_not_retried(server: TinyServer) -> None:
    server.refuse = [(401, b"bad key")]
    h = Harness(server.url, fast_config())
    error = await h.finished()
    assert isinstance(error, AuthError)
    await h.until(lambda e: isinstance(e, Disconnected))
    (gone,) = h.disconnects
    assert (gone.reason, gone.code, gone.will_reconnect) == ("handshake_refused", 401, False)
    assert h.session.refusals == [(401, b"bad key")]
    assert server.upgrades == 1


async def test_max_reconnects_ends_in_connection_lost() -> None:
    url = f"ws://127.0.0.1:{closed_port()}/stream"
    h = Harness(url, fast_config(max_reconnects=2))
    error = await h.finished()
    assert isinstance(error, ConnectionLost)
    assert "gave up after 2 reconnect attempts" in str(error) and "max_reconnects" in str(error)
    await h.until(lambda _: len(h.disconnects) == 3)
    assert [(d.reason, d.will_reconnect) for d in h.disconnects] == [
        ("connect_failed", True), ("connect_failed", True), ("connect_failed", False),
    ]  # fmt: skip
    assert h.disconnects[-1].retry_in is None
    assert h.driver.error is error


async def test_max_reconnects_counts_attempts_since_the_last_stream(
    server: TinyServer, harnesses: list[Harness]
) -> None:
    """A connection that streamed for ``stable_after`` resets the count: drops never add up."""
    h = Harness(server.url, fast_config(max_reconnects=1, stable_after=0.0))
    harnesses.append(h)
    for epoch in (1, 2, 3):  # dropped three times, each time it streamed first: it never gives up
        conn = await server.accepted()
        await h.until(connected_on(epoch))
        conn.abort()
    await server.accepted()
    assert not h.task.done()
    assert [d.reason for d in await h.disconnected(3)] == ["connection dropped (1006)"] * 3


async def test_close_ends_run_and_the_queue(server: TinyServer) -> None:
    h = Harness(server.url, fast_config())
    conn = await server.accepted()
    await h.until(lambda e: isinstance(e, Connected))
    await h.driver.close()
    assert await h.finished() is None  # run() returned
    await asyncio.wait_for(conn.gone.wait(), WITHIN)
    assert conn.close_code == 1000
    while (batch := await h.queue.get()) is not None:
        h.events.extend(batch)
    assert h.disconnects == []  # a close the user asked for is not a gap
    assert server.upgrades == 1


async def test_close_during_the_backoff_sleep_returns_at_once(server: TinyServer) -> None:
    server.refuse = [(503, b"")]
    h = Harness(server.url, fast_config(backoff=Backoff(base=600, cap=600, minimum=600)))
    (gone,) = await h.disconnected()
    assert gone.retry_in == 600
    await h.driver.close()
    assert await h.finished() is None  # long before the 600 s sleep would have ended
    assert server.upgrades == 1


@pytest.mark.parametrize(
    ("act", "reason", "code"),
    [
        (lambda c: c.close(WSCloseCode.INTERNAL_ERROR, b"oops"), "server error (1011)", 1011),
        (lambda c: c.close(WSCloseCode.GOING_AWAY), "server going away (1001)", 1001),
        (lambda c: c.close(WSCloseCode(4000), b"custom"), "closed (4000)", 4000),
        (lambda c: c.abort(), "connection dropped (1006)", None),
        (lambda c: c.send(b"~kick"), "kicked", None),  # we closed: no close code came back
    ],
    ids=["1011", "1001", "4000", "abort", "session"],
)
async def test_disconnected_says_why(
    server: TinyServer,
    harnesses: list[Harness],
    act: Callable[[_ServerConnection], None],
    reason: str,
    code: int | None,
) -> None:
    h = Harness(server.url, fast_config())
    harnesses.append(h)
    conn = await server.accepted()
    await h.until(lambda e: isinstance(e, Connected))
    act(conn)
    (gone,) = await h.disconnected()
    assert (gone.reason, gone.code, gone.epoch, gone.will_reconnect) == (reason, code, 1, True)
    assert gone.retry_in is not None and gone.retry_in > 0
    if code == 1011:
        assert gone.message == "oops"
    assert h.session.lost == 1
    await server.accepted()  # reconnects after each of them


async def test_close_transport_reports_the_reason_given(server: TinyServer, harnesses: list[Harness]) -> None:
    h = Harness(server.url, fast_config())
    harnesses.append(h)
    await server.accepted()
    await h.until(lambda e: isinstance(e, Connected))
    h.driver.close_transport("resubscribe_needed")
    (gone,) = await h.disconnected()
    assert gone.reason == "resubscribe_needed" and gone.will_reconnect
    await server.accepted()


async def test_an_oversize_frame_is_refused_unread(server: TinyServer, harnesses: list[Harness]) -> None:
    h = Harness(server.url, fast_config(max_frame_size=1024))
    harnesses.append(h)
    conn = await server.accepted()
    await h.until(lambda e: isinstance(e, Connected))
    conn.send(b"x" * 4096)
    (gone,) = await h.disconnected()
    assert (gone.reason, gone.code) == ("frame_too_big", 1009)
    assert h.driver.metrics.rejected_frames == 1
    await asyncio.wait_for(conn.gone.wait(), WITHIN)
    assert conn.close_code == 1009
    assert not any(isinstance(e, Status) and e.status == "data" for e in h.events)  # never delivered
    assert all(len(data) <= 1024 for data, _ in h.taps)
    conn2 = await server.accepted()  # and it reconnects
    await h.until(connected_on(2))
    conn2.send(b"small")
    await h.until(lambda e: isinstance(e, Status) and e.message == "small")


def test_config_rejects_a_negative_max_reconnects() -> None:
    with pytest.raises(ValueError, match="max_reconnects"):
        DriverConfig(max_reconnects=-1)


async def test_the_url_is_asked_at_every_attempt(server: TinyServer, harnesses: list[Harness]) -> None:
    dead = f"ws://127.0.0.1:{closed_port()}/stream"
    urls = [dead, server.url]
    asked: list[str] = []

    def url() -> str:
        asked.append(urls[min(len(asked), 1)])
        return asked[-1]

    session = ScriptedSession()
    queue = EventQueue(100, decode=_decode)
    driver = Driver(_as_session(session), url, queue, config=fast_config())
    task = asyncio.ensure_future(driver.run())
    try:
        await server.accepted()
        assert asked[:2] == [dead, server.url]
        assert session.url == server.url
    finally:
        await driver.close()
        await asyncio.wait_for(task, WITHIN)


async def test_status_codes_of_http_refusals_are_kept(server: TinyServer, harnesses: list[Harness]) -> None:
    server.refuse = [(int(HTTPStatus.TOO_MANY_REQUESTS), b"slow down")]
    h = Harness(server.url, fast_config(), ScriptedSession(refusal_floor=0.03))
    harnesses.append(h)
    (gone,) = await h.disconnected()
    assert (gone.code, gone.retry_in) == (429, 0.03)
    await h.until(lambda e: isinstance(e, Connected))
