"""The matrix's Alpaca column: an :class:`AlpacaSimulator` side and an ``AlpacaStreamClient`` adapter.

The same two interfaces as :mod:`.harness` (a *side* that injects faults and reports what the
server saw, an *adapter* that records what the client hands to user code). The simulator runs
on the test's loop next to the async client, on the ``/v2/test`` stream (``FAKEPACA`` trades
and quotes), with the matrix's own key. The adapter runs in either encoding (``json`` or
``msgpack``): the fault payloads are chosen by :attr:`AlpacaAdapter.encoding`.

What the server received comes from :meth:`AlpacaSimulator.actions`: every subscribe and
unsubscribe a connection sent, exactly as sent, so "resubscribed exactly" is the server's word.
"""

from __future__ import annotations

from typing import Any

from tickwire.alpaca import AlpacaStreamClient
from tickwire.backoff import Backoff
from tickwire.sim.alpaca import AlpacaSimulator

from .harness import QUEUE_SIZE, WAIT, _AsyncConsumer, _PortBlocker

__all__ = [
    "ALPACA_BAD_SECRET",
    "ALPACA_KEY_ID",
    "ALPACA_SECRET",
    "ALPACA_SECRETS",
    "AlpacaAdapter",
    "AlpacaSide",
]

ALPACA_KEY_ID = "PKFAULTMATRIX7Q2Z91C3"
ALPACA_SECRET = "faultMatrixAlpacaSecret-NEVER-in-logs-4b1e"
ALPACA_BAD_SECRET = "faultMatrixAlpacaWRONG-NEVER-in-logs-77d0"
ALPACA_SECRETS = (ALPACA_KEY_ID, ALPACA_SECRET, ALPACA_BAD_SECRET)
"""Neither the key id nor a secret may appear in a log line, a repr or an exception text."""

FEED = "test"
ALPACA_DESIRED = {"trades": ["FAKEPACA"], "quotes": ["FAKEPACA"], "bars": ["*"]}
ALPACA_REMOVED = ("quotes", "AAPL")
"""Subscribed, then unsubscribed before the fault: must not come back after a reconnect."""


def keys_of(channels: dict[str, list[str]] | dict[str, tuple[str, ...]]) -> list[str]:
    """``{"trades": ["FAKEPACA"]}`` → ``["trades:FAKEPACA"]``, in order."""
    return [f"{channel}:{symbol}" for channel, symbols in channels.items() for symbol in symbols]


def channels_of(keys: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in keys:
        channel, _, symbol = key.partition(":")
        out.setdefault(channel, []).append(symbol)
    return out


class AlpacaSide:
    """An :class:`AlpacaSimulator` on the test's loop that knows the matrix's key.

    ``reap_window`` is 0 unless a cell sets it: a dropped session frees its slot at once, so only
    the cell about the 406 connection limit meets one."""

    protocol = "alpaca"

    def __init__(self, **options: Any) -> None:
        base: dict[str, Any] = {
            "seed": 8,
            "tick_interval": 0.03,
            "rate": 10.0,
            "auth_timeout": 3.0,
            "close_timeout": 0.3,
            "reap_window": 0.0,
            "news_interval": None,
            "keys": {ALPACA_KEY_ID: ALPACA_SECRET},
        }
        base.update(options)
        self.sim = AlpacaSimulator(**base)
        self._blocker = _PortBlocker()

    async def start(self) -> None:
        await self.sim.start()

    async def shutdown(self) -> None:
        await self.sim.aclose()
        self._blocker.release()

    def url(self) -> str:
        return self.sim.url

    async def drop(self, *, graceful: bool = False) -> None:
        assert self.sim.drop(FEED, graceful=graceful) == 1

    async def close(self, code: int, reason: str = "") -> None:
        assert self.sim.close(code, reason, FEED) == 1

    async def mute(self) -> None:
        assert self.sim.mute(FEED) == 1

    async def send_raw(self, payload: bytes, *, binary: bool = False) -> None:
        assert self.sim.send_raw(payload, FEED, binary=binary) == 1

    async def refuse(self, status: int, count: int | None) -> None:
        self.sim.refuse_handshakes(status, count)

    async def stop(self) -> int:
        port = self.sim.port
        await self.sim.stop()
        self._blocker.hold(port)
        return port

    async def restart_new_port(self) -> int:
        await self.sim.restart(port=0)
        self._blocker.release()
        return self.sim.port

    def attempts(self) -> int:
        return len(self.sim.handshakes)

    def live_connection(self) -> int | None:
        live = self.sim.connections(FEED, authenticated=True)
        assert len(live) <= 1, f"more than one live connection: {live}"
        return live[0].id if live else None

    def sent_on(self, conn_id: int) -> tuple[list[str], list[str]]:
        """The ``channel:SYMBOL`` keys subscribed and unsubscribed on one connection, as received."""
        acts = self.sim.actions(FEED, conn_id=conn_id)
        subs = [k for a in acts if a.action == "subscribe" for k in keys_of(a.channels)]
        unsubs = [k for a in acts if a.action == "unsubscribe" for k in keys_of(a.channels)]
        return subs, unsubs

    def confirmed(self, conn_id: int) -> frozenset[str]:
        """What the server acked and now serves on ``conn_id``."""
        info = next(c for c in self.sim.connections(FEED) if c.id == conn_id)
        return frozenset(keys_of(info.subscriptions))

    async def wait_subscribed(self, keys: list[str]) -> None:
        await self.sim.wait_subscribed(FEED, channels_of(keys), timeout=WAIT)

    async def wait_counter(self, name: str, n: int) -> None:
        await self.sim.wait_counter(name, n, timeout=WAIT)


class AlpacaAdapter(_AsyncConsumer):
    """``AlpacaStreamClient`` on ``/v2/test`` in ``encoding``, consumed by ``async for``."""

    def __init__(
        self, side: AlpacaSide, *, encoding: str = "json", secret_key: str = ALPACA_SECRET, **overrides: Any
    ) -> None:
        options: dict[str, Any] = {
            "url": side.url,
            "encoding": encoding,
            "backoff": Backoff(base=0.02, cap=0.1, seed=3),
            "stable_after": 60.0,
            "auth_timeout": 2.0,
            "stale_timeout": 0.5,
            "connection_limit_cooldown": 0.4,
            "ping_interval": 0.2,
            "ping_timeout": 2.0,
            "queue_size": QUEUE_SIZE,
            "dotenv_path": None,
        }
        options.update(overrides)
        self.kind = "alpaca" if encoding == "json" else f"alpaca-{encoding}"
        self.encoding = encoding
        self.queue_size = options["queue_size"]
        self.alpaca = AlpacaStreamClient(ALPACA_KEY_ID, secret_key, FEED, **options)
        self.client = self.alpaca
        self._init_consumer()

    async def subscribe_desired(self) -> list[str]:
        for channel, symbols in ALPACA_DESIRED.items():
            await self.alpaca.subscribe(channel, *symbols)
        await self.alpaca.subscribe(*ALPACA_REMOVED)
        await self.alpaca.unsubscribe(*ALPACA_REMOVED)
        return keys_of(ALPACA_DESIRED)

    def desired(self) -> list[str]:
        return keys_of(self.alpaca.subscriptions)
