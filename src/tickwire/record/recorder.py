"""The recorder: one stream → the raw journal (every frame) + sinks (typed events), with live status.

Theory of operation
-------------------
::

    socket ─► Driver ─┬─► frame tap ─► JournalWriter.append  (raw bytes + recv ns + epoch, no decoding)
                      └─► EventQueue ─► consumer ─► SinkRunner.offer ─► [bounded queue] ─► sink.write
                                                  (one runner per sink: DuckDB, Parquet, PostgreSQL...)

The journal is fed synchronously from the transport's frame tap, so it sees every frame before
anything else can drop it, and the client's queue sheds (counts) rather than pauses reading when
the consumer falls behind (``overflow="drop_oldest"``), so a busy sink or decoder never makes the
journal miss data; with no sinks at all, data frames are not even decoded. A timer hands the
journal's buffer to the OS every ``write_interval`` s and
``fsync``s every ``fsync_interval`` s (in a worker thread). Sinks never stall the reader (see
:mod:`tickwire.sinks.base`); whatever a sink missed can be loaded again from the journal with
:func:`load_journal`, which is also how a database is rebuilt from a recording.

Shutdown (``stop`` set, ``duration`` over, SIGINT/SIGTERM in the CLI): the client closes, the
consumer drains what was received, every sink flushes, the journal syncs and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from tickwire import __version__
from tickwire.events import Event, RawEvent, Reconnected
from tickwire.journal import FRAME, JournalWriter, journal_meta, read_records
from tickwire.journal.writer import disk_usage
from tickwire.massive.client import AsyncStreamClient
from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.models import MassiveEvent
from tickwire.sinks import DuckDBSink, Sink, SinkHealth, SinkRunner, sink_from_url

__all__ = ["DEFAULT_CHANNELS", "Recorder", "RecorderStatus", "load_journal"]

log = logging.getLogger("tickwire.record")

DEFAULT_CHANNELS: dict[str, tuple[str, ...]] = {
    "stocks": ("T.*", "Q.*", "AM.*"),
    "options": ("T.*", "AM.*"),
    "indices": ("V.*", "AM.*"),
    "futures": ("T.*", "Q.*", "AM.*"),
    "crypto": ("XT.*", "XQ.*", "XA.*"),
    "forex": ("C.*", "CA.*"),
}


class RecorderStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What the recorder is doing (the CLI's status line; ``--status-json`` prints these)."""

    elapsed: float
    events: int
    events_per_second: float
    frames: int
    journal_records: int
    journal_synced: int
    disk_bytes: int
    connected: bool
    reconnects: int
    gaps: int
    gap_seconds: float
    dropped: int
    sinks: list[SinkHealth]


class Recorder:
    """Records one Massive stream into ``data_dir`` (``journal/`` and ``tickwire.duckdb`` by default).

    ``sinks`` are sink URLs (see :func:`tickwire.sinks.sink_from_url`) or :class:`~tickwire.sinks.Sink`
    objects; ``client_options`` go to :class:`~tickwire.massive.client.AsyncStreamClient`.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = "tickwire-data",
        *,
        market: str = "stocks",
        feed: str = "realtime",
        url: str | None = None,
        api_key: str | None = None,
        channels: Iterable[str] | None = None,
        sinks: Sequence[str | Sink] = (),
        journal: bool = True,
        duckdb: bool = True,
        fsync_interval: float | None = 1.0,
        write_interval: float = 0.05,
        segment_bytes: int = 64 * 1024 * 1024,
        compress: bool = True,
        sink_queue: int = 500_000,
        sink_flush_interval: float = 0.5,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.market = market
        self.channels = tuple(channels) if channels else DEFAULT_CHANNELS.get(market, ())
        self.fsync_interval = fsync_interval
        self.write_interval = write_interval
        self.journal: JournalWriter | None = None
        if journal:
            self.journal = JournalWriter(
                self.data_dir / "journal",
                segment_bytes=segment_bytes,
                compress=compress,
                meta={
                    "market": market,
                    "feed": feed,
                    "url": (url or "").split("?", 1)[0],
                    "subscriptions": list(self.channels),
                    "tickwire": __version__,
                },
            )
        built: list[SinkRunner] = []
        if duckdb:
            built.append(
                SinkRunner(
                    DuckDBSink(self.data_dir / "tickwire.duckdb", market),
                    max_pending=sink_queue,
                    flush_interval=sink_flush_interval,
                )
            )
        for s in sinks:
            sink, policy = sink_from_url(s, market) if isinstance(s, str) else (s, "drop_oldest")
            built.append(
                SinkRunner(sink, max_pending=sink_queue, flush_interval=sink_flush_interval, policy=policy)
            )
        self.runners = built
        options: dict[str, Any] = {"queue_size": 20_000, "overflow": "drop_oldest"}
        options.update(client_options or {})
        self.client = AsyncStreamClient(
            api_key=api_key,
            market=market,
            feed=feed,
            url=url,
            subscriptions=self.channels,
            frame_tap=self.journal.frame_tap if self.journal is not None else None,
            **options,
        )
        self.events = 0
        self.gaps = 0
        self.gap_seconds = 0.0
        self._started = time.monotonic()
        self._rate = (time.monotonic(), 0, 0.0)

    # ------------------------------------------------------------------ status

    def status(self) -> RecorderStatus:
        now = time.monotonic()
        t0, e0, rate = self._rate
        if now - t0 >= 0.5:
            rate = (self.events - e0) / (now - t0)
            self._rate = (now, self.events, rate)
        m = self.client.metrics()
        j = self.journal
        return RecorderStatus(
            elapsed=now - self._started,
            events=self.events,
            events_per_second=rate,
            frames=m.frames,
            journal_records=j.records if j is not None else 0,
            journal_synced=j.synced_records if j is not None else 0,
            disk_bytes=disk_usage(self.data_dir) + (disk_usage(j.directory) if j is not None else 0),
            connected=m.connected,
            reconnects=m.reconnects,
            gaps=self.gaps,
            gap_seconds=self.gap_seconds,
            dropped=m.dropped,
            sinks=[r.health() for r in self.runners],
        )

    # ------------------------------------------------------------------ running

    async def run(
        self,
        stop: asyncio.Event | None = None,
        *,
        duration: float | None = None,
        on_status: Callable[[RecorderStatus], None] | None = None,
        status_interval: float = 1.0,
    ) -> RecorderStatus:
        """Record until ``stop`` is set or ``duration`` s passed; flush everything; the final status."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        timer = loop.call_later(duration, stop.set) if duration is not None else None
        if self.journal is not None:
            self.journal.open()
        for r in self.runners:
            await r.start()
        self._started = time.monotonic()
        self._rate = (self._started, 0, 0.0)
        await self.client.start()
        consumer = loop.create_task(self._consume(), name="tickwire-record-consume")
        helpers = [loop.create_task(self._journal_timer(), name="tickwire-record-journal")]
        if on_status is not None:
            helpers.append(loop.create_task(self._status_timer(on_status, status_interval)))
        stopper = loop.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if consumer in done:
                consumer.result()  # a fatal stream error (bad key...) ends the recording loudly
        finally:
            if timer is not None:
                timer.cancel()
            stopper.cancel()
            await self.client.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(consumer, 10.0)
            for h in helpers:
                h.cancel()
            for r in self.runners:
                await r.close()
            if self.journal is not None:
                self.journal.close()
        final = self.status()
        if on_status is not None:
            on_status(final)
        return final

    async def _consume(self) -> None:
        if not self.runners:
            await self._consume_raw()
            return
        runners = self.runners
        block = [r for r in runners if r.policy == "block"]
        async for batch in self.client.batches():
            data: list[Event] = []
            for ev in batch:
                if isinstance(ev, MassiveEvent | RawEvent):
                    data.append(ev)
                elif isinstance(ev, Reconnected):
                    self.gaps += 1
                    self.gap_seconds += ev.gap_seconds
            if data:
                self.events += len(data)
                for r in runners:
                    r.offer(data)
                for r in block:
                    await r.room()

    async def _consume_raw(self) -> None:
        """Journal only: nothing needs decoded events, so data frames are only counted, never decoded."""
        queue = self.client.queue
        take = queue.get_raw_nowait
        while True:
            item = take()
            if item is None:
                if not await queue.wait():
                    if self.client.driver.error is not None:
                        raise self.client.driver.error
                    return
                continue
            if isinstance(item, bytes):
                self.events += item.count(b'"ev"') - item.count(b'"status"')
                continue
            for ev in item:
                if isinstance(ev, Reconnected):
                    self.gaps += 1
                    self.gap_seconds += ev.gap_seconds
                elif isinstance(ev, MassiveEvent | RawEvent):
                    self.events += 1

    async def _journal_timer(self) -> None:
        j = self.journal
        if j is None:
            return
        last_sync = time.monotonic()
        while True:
            await asyncio.sleep(self.write_interval)
            j.write()
            if self.fsync_interval is not None and time.monotonic() - last_sync >= self.fsync_interval:
                last_sync = time.monotonic()
                await asyncio.to_thread(j.finish_sync, j.sync_target())

    async def _status_timer(self, on_status: Callable[[RecorderStatus], None], interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            on_status(self.status())


async def load_journal(
    journal: str | os.PathLike[str],
    sinks: Sequence[Sink],
    *,
    market: str | None = None,
    batch_size: int = 50_000,
) -> int:
    """Decode a journal's frames and write the market events to ``sinks`` (a rebuild or a backfill;
    idempotent sinks make loading twice harmless). Returns the number of events loaded."""
    m = market or str(journal_meta(journal).get("market") or "stocks")
    decoder = MassiveDecoder(m)
    for s in sinks:
        await s.open()
    total = 0
    batch: list[Event] = []
    try:
        for rec in read_records(journal, frames_only=True):
            if rec.kind != FRAME:
                continue
            batch.extend(ev for ev in decoder.decode(rec.data) if isinstance(ev, MassiveEvent | RawEvent))
            if len(batch) >= batch_size:
                for s in sinks:
                    await s.write(batch)
                total += len(batch)
                batch = []
        if batch:
            for s in sinks:
                await s.write(batch)
            total += len(batch)
    finally:
        for s in sinks:
            await s.close()
    return total
