"""The data pump of a replay: a journal's received frames sent to one connection at the recorded pace.

A dialect's replay server (``MassiveReplay``, ``PolymarketReplay``) starts :meth:`JournalPump.stream`
for a connection once it has subscribed; the dialect says, for each recorded frame, what this
connection gets (``pick``: nothing, the frame as recorded, or it rewritten for the connection's
subscriptions) and how it is sent (``send``: through the server's fault API, so a muted
connection gets nothing and a paused server skips frames, as the live simulator would).

Pacing: ``speed`` 1 sends at the recorded pace, 10 ten times faster, ``None`` as fast as the
socket takes them (waiting while the transport's write buffer is full: TCP backpressure).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tickwire.journal import FRAME, read_records
from tickwire.sim.connection import SimConnection

__all__ = ["JournalPump", "Pick", "Send"]

log = logging.getLogger("tickwire.sim.replay")

Pick = Callable[[bytes], Iterable[tuple[bytes, int]]]
"""A recorded frame → the frames (with their event counts) one connection is sent for it."""
Send = Callable[[bytes, int], bool]
"""Sends one frame with its event count to the connection through the dialect's send path
(``False``: not sent, e.g. the connection is muted)."""

YIELD_EVERY = 256
"""Frames sent between two yields to the event loop at full speed."""


class JournalPump:
    """Streams ``journal`` (a directory or one segment) to connections; counts what it sent."""

    def __init__(
        self,
        journal: str | os.PathLike[str],
        *,
        speed: float | None = None,
        close_at_end: bool = False,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be > 0 (or None for as fast as possible)")
        self.journal = Path(journal)
        self.speed = speed
        self.close_at_end = close_at_end
        self.frames_sent = 0
        self.events_sent = 0
        self.finished = 0
        """Connections that were sent the whole journal."""
        self._done = asyncio.Event()

    def frames(self) -> Iterable[bytes]:
        """Every received frame of the journal, oldest first (no pacing)."""
        for rec in read_records(self.journal, frames_only=True):
            if rec.kind == FRAME:
                yield rec.data

    async def stream(
        self,
        conn: SimConnection[Any],
        pick: Pick,
        send: Send,
        paused: Callable[[], bool],
        close: Callable[[], None],
    ) -> None:
        """Send ``conn`` the journal; ``close`` ends the connection at the end with ``close_at_end``."""
        loop = asyncio.get_running_loop()
        speed = self.speed
        t0: int | None = None
        w0 = loop.time()
        n = 0
        try:
            for rec in read_records(self.journal, frames_only=True):
                if rec.kind != FRAME:
                    continue
                out = list(pick(rec.data))
                if not out:
                    continue
                if speed is not None:
                    if t0 is None:
                        t0, w0 = rec.recv_ns, loop.time()
                    delay = w0 + (rec.recv_ns - t0) / 1e9 / speed - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                if not conn.writable.is_set():
                    await conn.writable.wait()
                if not conn.live:
                    return
                if paused():
                    continue  # the gap is lost, as with the live simulator's pause_data
                for payload, count in out:
                    if send(payload, count):
                        self.frames_sent += 1
                        self.events_sent += count
                    n += 1
                    if n % YIELD_EVERY == 0:
                        await asyncio.sleep(0)
            self.finished += 1
            self._done.set()
            log.info("replay: journal sent (%d frames)", n)
            if self.close_at_end:
                close()
        except asyncio.CancelledError:
            return

    async def wait_finished(self, n: int = 1, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Wait until ``n`` connections have been sent the whole journal."""
        async with asyncio.timeout(timeout):
            while self.finished < n:
                self._done.clear()
                await self._done.wait()
