"""The fault kinds of the matrix and what each must do to each protocol's clients.

Every fault kind has a :class:`Plan` per protocol (``"massive"`` for the async and threaded
clients, ``"polymarket"`` for ``PolymarketClient``, ``"alpaca"`` for ``AlpacaStreamClient`` in
JSON and in msgpack), or :class:`NotApplicable` with the reason when the protocol has no such thing. A plan whose ``mapped`` is set is the nearest real
equivalent in that protocol, named in the results table; nothing is faked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from websockets.asyncio.client import connect

from tickwire.alpaca import AlpacaAuthError
from tickwire.errors import AuthError
from tickwire.events import Disconnected

from .alpaca_harness import AlpacaSide
from .harness import MASSIVE_KEY, WAIT, MassiveSide, PolymarketSide

Inject = Callable[[Any, Any], Awaitable[None]]
"""``inject(side, adapter)``: cause the fault (and, for multi-step faults, see it through)."""

GARBAGE = b"\x00\xff\xfe this is not JSON \x81"
MASSIVE_TRUNCATED = b'[{"ev":"T","sym":"AAPL","i":"1","x":4,"p":230.1,"s":100,"t":17'
PM_TRUNCATED = b'{"requestId":"x","subscriptionType":"SUBSCRIPTION_TYPE_MARKET_DATA","marketData":{"marketSl'
MASSIVE_UNKNOWN = b'[{"ev":"ZZ","sym":"AAPL","note":"an event type from the future"}]'
PM_UNKNOWN = b'{"requestId":"rfq-1","rfqEvent":{"rfqCreated":{"rfqId":"r-1"}}}'
MAX_FRAME = 64 * 1024
OVERSIZE_MARK = b"Z" * 64
"""Fills the oversize frame: no event holding it may ever reach user code."""
MASSIVE_OVERSIZE = b'[{"ev":"T","sym":"' + OVERSIZE_MARK * 3000 + b'"}]'
PM_OVERSIZE = b'{"requestId":"' + OVERSIZE_MARK * 3000 + b'"}'
_ALPACA_TRADE = {"T": "t", "S": "FAKEPACA", "i": 1, "x": "V", "p": 100.5, "s": 3, "c": ["@"], "z": "C"}
ALPACA_TRUNCATED = {
    "json": b'[{"T":"t","S":"FAKEPACA","i":1,"x":"V","p":100.5,"s":3,"t":"2024-01-02T15:00',
    "msgpack": msgspec.msgpack.encode([{**_ALPACA_TRADE, "t": msgspec.msgpack.Ext(-1, bytes(8))}])[:-6],
}
_ALPACA_FUTURE = [{"T": "zz", "S": "FAKEPACA", "note": "a message type from the future"}]
ALPACA_UNKNOWN = {
    "json": msgspec.json.encode(_ALPACA_FUTURE),
    "msgpack": msgspec.msgpack.encode(_ALPACA_FUTURE),
}
ALPACA_UNKNOWN_DATA = (ALPACA_UNKNOWN["json"][1:-1], ALPACA_UNKNOWN["msgpack"][1:])
"""The one message of each frame, as the ``RawEvent`` carries it (the array header stripped)."""
ALPACA_OVERSIZE = b'[{"T":"t","S":"' + OVERSIZE_MARK * 3000 + b'"}]'


@dataclass(frozen=True)
class Plan:
    """How one fault is caused on one protocol and what the client must then do."""

    inject: Inject
    #: The reasons of the first ``Disconnected`` events after the fault, in order.
    reasons: tuple[str, ...] = ()
    #: Their close/HTTP codes, where the code is part of the contract.
    codes: tuple[int | None, ...] | None = None
    #: Reasons allowed after those (more failed attempts while the fault lasts).
    more: frozenset[str] = frozenset()
    #: The designed loud failure (the stream ends with it), or None: the client must survive.
    fatal: type[BaseException] | None = None
    #: Whether the connection is expected to be replaced (False: the stream goes on, same socket).
    reconnect: bool = True
    #: The event the fault must produce in-band when there is no reconnect (``decode_error``, ``raw``).
    marker: str | None = None
    decode_errors: int = 0
    unknown_events: int = 0
    rejected_frames: int = 0
    #: False: the fault hits the very first connection (bad credentials), so nothing streams before.
    streams_first: bool = True
    #: Client credentials / options and simulator options for this cell.
    client: dict[str, Any] = field(default_factory=dict)
    side: dict[str, Any] = field(default_factory=dict)
    #: What the fault is in this protocol when it is an equivalent, not the literal kind.
    mapped: str = ""


@dataclass(frozen=True)
class NotApplicable:
    reason: str


# -- injectors ---------------------------------------------------------------------------------------


async def drop(side: Any, client: Any) -> None:
    await side.drop()


async def drop_graceful(side: Any, client: Any) -> None:
    await side.drop(graceful=True)


async def mute(side: Any, client: Any) -> None:
    await side.mute()


def close(code: int, reason: str = "") -> Inject:
    async def inject(side: Any, client: Any) -> None:
        await side.close(code, reason)

    return inject


def raw(payload: bytes) -> Inject:
    async def inject(side: Any, client: Any) -> None:
        await side.send_raw(payload)

    return inject


def refuse_then_drop(status: int, count: int | None) -> Inject:
    async def inject(side: Any, client: Any) -> None:
        await side.refuse(status, count)
        await side.drop()

    return inject


def alpaca_raw(payloads: dict[str, bytes] | bytes) -> Inject:
    """Send the payload of the client's encoding, as the frame type that encoding uses."""

    async def inject(side: AlpacaSide, client: Any) -> None:
        payload = payloads if isinstance(payloads, bytes) else payloads[client.encoding]
        await side.send_raw(payload, binary=client.encoding == "msgpack")

    return inject


async def nothing(side: Any, client: Any) -> None:
    """The fault is already in place (bad credentials from the start)."""


async def force_disconnect(side: MassiveSide, client: Any) -> None:
    await side.send_status("force_disconnect", "kicked by the fault matrix", 1000)


async def server_slow_consumer(side: MassiveSide, client: Any) -> None:
    """The consumer stalls; the client's bounded queue pauses reading (block policy); the server's
    write buffer grows past its limit and it sends ``slow_consumer`` and closes. Then the consumer
    resumes and reads the status, which the close follows."""
    client.stall()
    try:
        await side.wait_counter("slow_consumers", 1)
    finally:
        side.thread.simulator.slow_consumer_bytes = 8 * 1024 * 1024  # once is the test: no second kick
        client.resume()


async def local_slow_consumer(side: PolymarketSide, client: Any) -> None:
    """The consumer stalls; the queue (overflow ``disconnect``) drops the connection itself."""
    client.stall()
    try:
        await side.sim.wait_until(lambda: len(side.sim.handshakes) >= 2, WAIT, "a reconnect")
    finally:
        client.resume()


async def auth_timeout(side: MassiveSide, client: Any) -> None:
    """After a drop the server answers nothing on new connections (not even ``connected``), so the
    client cannot authenticate; the server's auth timer then sends ``auth_timeout`` and closes."""
    sim = side.thread.simulator
    sim.auth_timeout = 0.2  # read when a connection opens
    side.thread.mute("stocks", new_connections=True)
    await side.drop()
    try:
        await client.log.wait_for(
            lambda: any(
                isinstance(e, Disconnected) and e.reason == "auth_timeout" for e in client.log.snapshot()
            ),
            "an auth_timeout",
        )
    finally:
        side.thread.unmute()
        sim.auth_timeout = 3.0


async def max_connections(side: MassiveSide, client: Any) -> None:
    """A second connection authenticates with the same key; the server evicts the older one (ours).
    The intruder then leaves, and the client is back after its cooldown."""
    quiet = logging.getLogger("fault-matrix.intruder")  # websockets logs frames (the key) at DEBUG
    quiet.setLevel(logging.WARNING)
    side.intruders += 1
    async with connect(side.url() + "/stocks", logger=quiet) as ws:
        assert "connected" in str(await ws.recv())
        await ws.send(json.dumps({"action": "auth", "params": MASSIVE_KEY}))
        assert "auth_success" in str(await ws.recv())
        await client.log.wait_for(
            lambda: any(
                isinstance(e, Disconnected) and e.reason == "max_connections" for e in client.log.snapshot()
            ),
            "the eviction",
        )


async def alpaca_auth_timeout(side: AlpacaSide, client: Any) -> None:
    """After a drop the server greets no new connection (no ``connected``), so the client never
    sends ``auth``; the server's timer then sends error 404 and closes. Then it greets again."""
    sim = side.sim
    sim.auth_timeout = 0.2  # read when a connection opens
    sim.mute("test", new_connections=True)
    await side.drop()
    try:
        await client.log.wait_for(
            lambda: any(
                isinstance(e, Disconnected) and e.reason == "auth_timeout" for e in client.log.snapshot()
            ),
            "an auth_timeout",
        )
    finally:
        sim.unmute()
        sim.auth_timeout = 3.0


async def alpaca_slow_client(side: AlpacaSide, client: Any) -> None:
    """The consumer stalls; the bounded queue pauses reading; the server's write buffer passes its
    limit and it sends error 407 (slow client) and closes. The consumer resumes and reads it."""
    client.stall()
    try:
        await side.wait_counter("slow_clients", 1)
    finally:
        side.sim.slow_client_bytes = 8 * 1024 * 1024  # once is the test: no second kick
        client.resume()


async def restart_new_port(side: Any, client: Any) -> None:
    """The server goes away; while the client backs off and retries the dead address, it comes back
    on another port. The client's URL provider (``url=`` / ``host=`` / ``base_url=`` callable) is
    asked again at each attempt and finds it."""
    old = await side.stop()
    await client.log.wait_for(
        lambda: any(
            isinstance(e, Disconnected) and e.reason == "connect_failed" for e in client.log.snapshot()
        ),
        "a failed attempt at the old port",
    )
    new = await side.restart_new_port()
    assert new != old
    client.ports = (old, new)


# -- the matrix ---------------------------------------------------------------------------------------

DROP = "connection dropped (1006)"
NO_AUTH_STEP = (
    "Polymarket US authenticates only at the HTTP upgrade (signed X-PM-* headers, spec A1): there is no "
    "in-band auth step whose timer could run out; a bad signature is the auth_failed / 401 cells"
)

FAULTS: dict[str, dict[str, Plan | NotApplicable]] = {
    "connection drop": {
        "massive": Plan(drop, (DROP,)),
        "polymarket": Plan(drop, (DROP,)),
        "alpaca": Plan(drop, (DROP,)),
    },
    "mute socket": {
        "massive": Plan(mute, ("stale",)),
        "polymarket": Plan(mute, ("heartbeat_timeout",), mapped="no heartbeats, no data: heartbeat watchdog"),
        "alpaca": Plan(mute, ("stale",)),
    },
    "garbage frame": {
        "massive": Plan(raw(GARBAGE), reconnect=False, marker="decode_error", decode_errors=1),
        "polymarket": Plan(raw(GARBAGE), reconnect=False, marker="decode_error", decode_errors=1),
        "alpaca": Plan(alpaca_raw(GARBAGE), reconnect=False, marker="decode_error", decode_errors=1),
    },
    "truncated JSON": {
        "massive": Plan(raw(MASSIVE_TRUNCATED), reconnect=False, marker="decode_error", decode_errors=1),
        "polymarket": Plan(raw(PM_TRUNCATED), reconnect=False, marker="decode_error", decode_errors=1),
        "alpaca": Plan(
            alpaca_raw(ALPACA_TRUNCATED),
            reconnect=False,
            marker="decode_error",
            decode_errors=1,
            mapped="in msgpack: a trade cut short inside its Timestamp extension",
        ),
    },
    "oversize frame": {
        "massive": Plan(
            raw(MASSIVE_OVERSIZE),
            ("frame_too_big",),
            (1009,),
            rejected_frames=1,
            client={"max_frame_size": MAX_FRAME},
        ),
        "polymarket": Plan(
            raw(PM_OVERSIZE),
            ("frame_too_big",),
            (1009,),
            rejected_frames=1,
            client={"max_frame_size": MAX_FRAME},
        ),
        "alpaca": Plan(
            alpaca_raw(ALPACA_OVERSIZE),
            ("frame_too_big",),
            (1009,),
            rejected_frames=1,
            client={"max_frame_size": MAX_FRAME},
        ),
    },
    "unknown event type": {
        "massive": Plan(raw(MASSIVE_UNKNOWN), reconnect=False, marker="raw", unknown_events=1),
        "polymarket": Plan(
            raw(PM_UNKNOWN), reconnect=False, marker="raw", unknown_events=1, mapped="an rfqEvent payload"
        ),
        "alpaca": Plan(
            alpaca_raw(ALPACA_UNKNOWN),
            reconnect=False,
            marker="raw",
            unknown_events=1,
            mapped="a message type `zz`",
        ),
    },
    "auth_failed": {
        "massive": Plan(
            nothing,
            ("auth_failed",),
            fatal=AuthError,
            reconnect=False,
            streams_first=False,
            client={"bad_key": True},
        ),
        "polymarket": Plan(
            nothing,
            ("handshake_refused",),
            (401,),
            fatal=AuthError,
            reconnect=False,
            streams_first=False,
            client={"bad_key": True},
            mapped="no auth message: the upgrade's signature check fails (wrong secret) with HTTP 401",
        ),
        "alpaca": Plan(
            nothing,
            ("auth_failed",),
            fatal=AlpacaAuthError,
            reconnect=False,
            streams_first=False,
            client={"bad_key": True},
            mapped="a wrong secret: error 402 (auth failed), then the server closes",
        ),
    },
    "auth_timeout": {
        "massive": Plan(auth_timeout, (DROP, "auth_timeout"), more=frozenset({"auth_timeout"})),
        "polymarket": NotApplicable(NO_AUTH_STEP),
        "alpaca": Plan(
            alpaca_auth_timeout,
            (DROP, "auth_timeout"),
            more=frozenset({"auth_timeout"}),
            mapped="no auth within the server's window: error 404 (auth timeout), then it closes",
        ),
    },
    "max_connections eviction": {
        "massive": Plan(max_connections, ("max_connections",)),
        "polymarket": NotApplicable(
            "Polymarket US documents no per-key connection limit (only 100 markets per subscription, spec A1) "
            "and sends no eviction; there is nothing to map it to"
        ),
        "alpaca": Plan(
            drop,
            (DROP, "connection_limit"),
            side={"reap_window": 0.3},
            mapped=(
                "Alpaca evicts no one; its limit is 406 (connection limit exceeded) while the server has not "
                "yet reaped a dropped session (~90 s; 0.3 s here): the fast reconnect after a drop meets one "
                "406 and then waits out the window (connection_limit_cooldown), no 406 storm"
            ),
        ),
    },
    "slow_consumer": {
        "massive": Plan(
            server_slow_consumer,
            ("slow_consumer",),
            client={"queue_size": 4},  # few frames (each ~30 ms of data) fill it: reading pauses soon
            side={
                "rate": 400.0,
                "slow_consumer_bytes": 16 * 1024,
                "socket_send_buffer": 4096,
                "close_timeout": WAIT,  # the close waits for the stalled reader to come back
            },
        ),
        "polymarket": Plan(
            local_slow_consumer,
            ("slow_consumer_local",),
            more=frozenset({"slow_consumer_local"}),
            client={"overflow": "disconnect"},
            mapped="no slow_consumer status in Polymarket US: the client's own bound (overflow='disconnect')",
        ),
        "alpaca": Plan(
            alpaca_slow_client,
            ("slow_consumer",),
            client={"queue_size": 4},
            side={
                "rate": 2000.0,
                "slow_client_bytes": 16 * 1024,
                "socket_send_buffer": 4096,
                "close_timeout": WAIT,
            },
            mapped="error 407 (slow client), then the server closes",
        ),
    },
    "force_disconnect": {
        "massive": Plan(force_disconnect, ("force_disconnect",)),
        "polymarket": Plan(
            close(1008, "policy violation"),
            ("policy violation (1008)",),
            (1008,),
            mapped="no force_disconnect status: the server's policy close (1008)",
        ),
        "alpaca": Plan(
            close(1008, "policy violation"),
            ("policy violation (1008)",),
            (1008,),
            mapped="no force_disconnect status: the server's policy close (1008)",
        ),
    },
    "close 1000": {
        "massive": Plan(close(1000), ("server closed (1000)",), (1000,)),
        "polymarket": Plan(close(1000), ("server closed (1000)",), (1000,)),
        "alpaca": Plan(close(1000), ("server closed (1000)",), (1000,)),
    },
    "close 1001": {
        "massive": Plan(close(1001), ("server going away (1001)",), (1001,)),
        "polymarket": Plan(close(1001), ("server going away (1001)",), (1001,)),
        "alpaca": Plan(close(1001), ("server going away (1001)",), (1001,)),
    },
    "close 1006": {
        "massive": Plan(drop_graceful, (DROP,), mapped="TCP closed cleanly (FIN) with no close frame"),
        "polymarket": Plan(drop_graceful, (DROP,), mapped="TCP closed cleanly (FIN) with no close frame"),
        "alpaca": Plan(drop_graceful, (DROP,), mapped="TCP closed cleanly (FIN) with no close frame"),
    },
    "close 1011": {
        "massive": Plan(close(1011), ("server error (1011)",), (1011,)),
        "polymarket": Plan(close(1011), ("server error (1011)",), (1011,)),
        "alpaca": Plan(close(1011), ("server error (1011)",), (1011,)),
    },
    "handshake refused (503)": {
        "massive": Plan(
            refuse_then_drop(503, 2), (DROP, "handshake_refused", "handshake_refused"), (None, 503, 503)
        ),
        "polymarket": Plan(
            refuse_then_drop(503, 2), (DROP, "handshake_refused", "handshake_refused"), (None, 503, 503)
        ),
        "alpaca": Plan(
            refuse_then_drop(503, 2), (DROP, "handshake_refused", "handshake_refused"), (None, 503, 503)
        ),
    },
    "HTTP 401 at upgrade": {
        "massive": Plan(
            refuse_then_drop(401, None),
            (DROP, "handshake_refused"),
            (None, 401),
            fatal=AuthError,
            reconnect=False,
        ),
        "polymarket": Plan(
            refuse_then_drop(401, None),
            (DROP, "handshake_refused"),
            (None, 401),
            fatal=AuthError,
            reconnect=False,
        ),
        "alpaca": Plan(
            refuse_then_drop(401, None),
            (DROP, "handshake_refused"),
            (None, 401),
            fatal=AuthError,
            reconnect=False,
        ),
    },
    "HTTP 429 at upgrade": {
        "massive": Plan(refuse_then_drop(429, 1), (DROP, "handshake_refused"), (None, 429)),
        "polymarket": Plan(refuse_then_drop(429, 1), (DROP, "handshake_refused"), (None, 429)),
        "alpaca": Plan(refuse_then_drop(429, 1), (DROP, "handshake_refused"), (None, 429)),
    },
    "server restart, new port": {
        "massive": Plan(restart_new_port, (DROP, "connect_failed"), more=frozenset({"connect_failed"})),
        "polymarket": Plan(restart_new_port, (DROP, "connect_failed"), more=frozenset({"connect_failed"})),
        "alpaca": Plan(restart_new_port, (DROP, "connect_failed"), more=frozenset({"connect_failed"})),
    },
}

CLIENTS = ("async", "threaded", "polymarket", "alpaca", "alpaca-msgpack")
PROTOCOL = {
    "async": "massive",
    "threaded": "massive",
    "polymarket": "polymarket",
    "alpaca": "alpaca",
    "alpaca-msgpack": "alpaca",
}
