"""A Massive journal served by the Massive dialect: the recorded cluster, its auth and subscriptions.

:class:`MassiveReplay` is a :class:`~tickwire.sim.server.MassiveSimulator` (``connected``, ``auth``,
``subscribe``, statuses, every fault) whose data comes from a journal instead of the market model:
after a connection's first subscription a :class:`~.journal_pump.JournalPump` sends it the
recorded data frames. Recorded status frames are not replayed (the server answers for itself);
events are filtered by the connection's subscriptions (``T.AAPL``, ``T.*``), and a frame whose
events all match is sent byte for byte as recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any

import msgspec

from tickwire.sim.base import Refusal
from tickwire.sim.channels import parse_route
from tickwire.sim.journal_pump import JournalPump
from tickwire.sim.server import MassiveSimulator, _Connection

__all__ = ["MassiveReplay", "filter_frame"]

_split = msgspec.json.Decoder(list[msgspec.Raw]).decode


class _Key(msgspec.Struct):
    ev: str = ""
    sym: str | None = None
    pair: str | None = None
    T: str | None = None
    p: Any = None


_key = msgspec.json.Decoder(_Key).decode


def _ticker(k: _Key) -> str | None:
    if k.sym is not None:
        return k.sym
    if k.pair is not None:
        return k.pair
    if k.T is not None:
        return k.T
    return k.p if isinstance(k.p, str) else None


def filter_frame(frame: bytes, subs: frozenset[str]) -> tuple[bytes | None, int]:
    """The frame's events that ``subs`` wants (the frame itself if all do); statuses never."""
    try:
        raws = _split(frame)
    except (ValueError, RecursionError):  # not an array, invalid UTF-8, nested too deep
        return None, 0
    kept: list[msgspec.Raw] = []
    for raw in raws:
        try:
            k = _key(raw)
        except (ValueError, RecursionError):
            continue
        if k.ev == "status" or not k.ev:
            continue
        if f"{k.ev}.*" in subs or f"{k.ev}.{_ticker(k)}" in subs:
            kept.append(raw)
    if not kept:
        return None, 0
    if len(kept) == len(raws):
        return frame, len(kept)
    return b"[" + b",".join(bytes(r) for r in kept) + b"]", len(kept)


class MassiveReplay(MassiveSimulator):
    """Serves one recorded cluster (``/<market>`` and ``/delayed/<market>``) from ``pump``.

    There is no ``max_connections`` limit: every client gets the whole recording.
    """

    def __init__(
        self,
        pump: JournalPump,
        market: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        valid_keys: Iterable[str] | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("max_connections", None)
        super().__init__(host=host, port=port, valid_keys=valid_keys, **options)
        self.pump = pump
        self.market = market

    def _loops(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        return []  # no market model: the data is the journal's

    def _resolve(self, path: str) -> str | Refusal:
        route = parse_route(path)
        if route is None or route.market != self.market:
            return Refusal(404, f"this replay serves the {self.market} cluster only: /{self.market}".encode())
        return route.path

    def _subscriptions_changed(self, conn: _Connection) -> None:
        conn.subs_key = frozenset(conn.session.subscriptions)
        if conn.subs_key and conn.task is None:
            conn.task = asyncio.get_running_loop().create_task(
                self.pump.stream(
                    conn,
                    lambda frame: _picked(filter_frame(frame, conn.subs_key)),
                    lambda frame, n: self._send_replayed(conn, frame, n),
                    lambda: self._paused,
                    lambda: self._close(conn, 1000, ""),
                ),
                name=f"tickwire-replay-{conn.id}",
            )

    def _send_replayed(self, conn: _Connection, frame: bytes, n: int) -> bool:
        if not self._send(conn, frame):
            return False
        conn.events_sent += n
        counters = self._counters
        counters.frames_sent += 1
        counters.events_sent += n
        counters.bytes_sent += len(frame)
        return True


def _picked(result: tuple[bytes | None, int]) -> list[tuple[bytes, int]]:
    frame, n = result
    return [] if frame is None else [(frame, n)]
