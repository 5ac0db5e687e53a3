"""Serve a recorded journal in the dialect of the provider that recorded it: yesterday's session, as if live.

Theory of operation
-------------------
:class:`JournalReplayer` reads the journal's metadata (:func:`~tickwire.journal.journal_meta`):
``provider`` (``massive``, ``polymarket_us`` or ``alpaca``; missing means ``massive``, for journals older
than the field) and ``market`` (the Massive cluster; the Polymarket socket, ``markets`` or
``private``; the Alpaca stream, ``iex``, ``crypto``, ``opra``...). It then runs that provider's
simulator dialect with a journal pump in place of the market model
(:class:`~.massive_replay.MassiveReplay`, :class:`~.polymarket.replay.PolymarketReplay`,
:class:`~.alpaca.replay.AlpacaReplay`), so any client of that protocol, ours or an official SDK,
consumes the recording unmodified, and every fault of the simulator applies
(``replayer.server.drop()``, ``mute``, ``refuse_handshakes``...). An Alpaca replay serves each
client in the encoding it asks for (JSON, or msgpack as alpaca-py does), whatever was recorded.

After a connection's first subscription it is sent the journal's data frames in order, at the
recorded pace divided by ``speed`` (``None``: as fast as the socket takes them, with TCP
backpressure), filtered by its subscriptions. When the journal ends the connection stays open
(``close_at_end`` closes it with 1000).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from tickwire.errors import ConfigError
from tickwire.journal import journal_meta
from tickwire.sim.base import SimulatorBase
from tickwire.sim.journal_pump import JournalPump
from tickwire.sim.massive_replay import MassiveReplay, filter_frame

__all__ = ["PROVIDERS", "JournalReplayer"]

PROVIDERS = ("massive", "polymarket_us", "alpaca")
"""The providers whose journals can be replayed."""


class JournalReplayer:
    """Replays ``journal`` (a directory or one segment) to every client that connects and subscribes.

    :param speed: 1 = recorded pace, 10 = ten times faster, ``None`` = as fast as possible.
    :param market: what is served (default: the journal's recorded ``market``): a Massive cluster,
        a Polymarket socket (``markets``, ``private``), an Alpaca stream (``iex``, ``crypto``...).
    :param provider: the dialect (default: the journal's recorded ``provider``, else ``massive``).
    :param valid_keys: Massive keys that authenticate (``None``: any non-empty key).
    :param keys: key id → secret beside the dialect's built-in test key ``SIM_KEY_ID`` (Polymarket:
        base64 Ed25519 secrets; Alpaca: secret keys).
    :param close_at_end: close each connection with 1000 once it was sent the whole journal.
    :param options: passed on to the dialect's simulator (``close_timeout``, ``heartbeat_interval``...).
    """

    _filter = staticmethod(filter_frame)  # the Massive subscription filter (fuzzed on its own)

    def __init__(
        self,
        journal: str | os.PathLike[str],
        *,
        speed: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        market: str | None = None,
        provider: str | None = None,
        valid_keys: Iterable[str] | None = None,
        keys: Mapping[str, str] | None = None,
        close_at_end: bool = False,
        **options: Any,
    ) -> None:
        self.journal = Path(journal)
        if not self.journal.exists():
            raise FileNotFoundError(f"no journal at {self.journal}")
        meta = journal_meta(self.journal)
        self.provider = provider or str(meta.get("provider") or "massive")
        if self.provider not in PROVIDERS:
            known = ", ".join(PROVIDERS)
            raise ConfigError(
                f"{self.journal}: cannot replay a {self.provider!r} journal; replayable: {known}"
            )
        self.pump = JournalPump(self.journal, speed=speed, close_at_end=close_at_end)
        recorded = market or (str(meta["market"]) if meta.get("market") else None)
        self.server: SimulatorBase[Any, Any, Any]
        if self.provider == "massive":
            self.market = recorded or "stocks"
            self.server = MassiveReplay(
                self.pump, self.market, host=host, port=port, valid_keys=valid_keys, **options
            )
            self._path = "/" + self.market
        elif self.provider == "alpaca":
            from tickwire.sim.alpaca.replay import AlpacaReplay, journal_feed

            feed = journal_feed(recorded)
            self.market = feed.name
            self.server = AlpacaReplay(self.pump, feed, host=host, port=port, keys=keys, **options)
            self._path = feed.path
        else:
            from tickwire.sim.polymarket.replay import PolymarketReplay, journal_socket

            socket = journal_socket(recorded, self.journal)
            self.market = socket.value
            self.server = PolymarketReplay(self.pump, socket, host=host, port=port, keys=keys, **options)
            self._path = socket.path

    def __repr__(self) -> str:
        return f"<JournalReplayer {self.journal} {self.provider}/{self.market} {self.server!r}>"

    # ------------------------------------------------------------------ addresses

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def speed(self) -> float | None:
        return self.pump.speed

    @property
    def url(self) -> str:
        """The served endpoint: ``ws://host:port/<cluster>``, ``…/v1/ws/<socket>`` or ``…/v2/iex``."""
        return self.server.url + self._path

    @property
    def base_url(self) -> str:
        """``ws://host:port``: a ``PolymarketClient`` ``base_url``."""
        return self.server.url

    @property
    def feed_host(self) -> str:
        """``host:port``, the ``feed`` for the official Massive client."""
        return f"{self.host}:{self.port}"

    # ------------------------------------------------------------------ what was sent

    @property
    def frames_sent(self) -> int:
        return self.pump.frames_sent

    @property
    def events_sent(self) -> int:
        return self.pump.events_sent

    @property
    def finished(self) -> int:
        """Connections that were sent the whole journal."""
        return self.pump.finished

    async def wait_finished(self, n: int = 1, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Wait until ``n`` connections have been sent the whole journal."""
        await self.pump.wait_finished(n, timeout)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> JournalReplayer:
        await self.server.start()
        return self

    async def aclose(self) -> None:
        await self.server.aclose()

    async def __aenter__(self) -> JournalReplayer:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
