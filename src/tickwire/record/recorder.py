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
:func:`tickwire.journal.load_journal`, which is also how a database is rebuilt from a recording.

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

from tickwire._version import __version__
from tickwire.events import Event, Reconnected
from tickwire.journal import JournalWriter
from tickwire.journal.writer import disk_usage
from tickwire.provider import Provider, get_provider
from tickwire.sinks import DuckDBSink, Sink, SinkHealth, SinkRunner, sink_from_url
from tickwire.sinks.base import mask_url
from tickwire.stream.consumer import StreamConsumer
from tickwire.tables import TableRegistry

__all__ = ["Recorder", "RecorderStatus"]

log = logging.getLogger("tickwire.record")


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
    """Records one stream of any provider into ``data_dir`` (``journal/`` and ``tickwire.duckdb`` by
    default).

    ``provider`` is a :class:`~tickwire.provider.Provider` or its name (``"massive"``,
    ``"polymarket"``); ``market`` one of its markets (its default when None) and ``channels`` what to
    subscribe to (the provider's defaults when None). ``sinks`` are sink URLs (see
    :func:`tickwire.sinks.sink_from_url`) or :class:`~tickwire.sinks.Sink` objects built with this
    market's tables (:attr:`tables`). ``client_options`` and any other keyword argument (``url=``,
    ``api_key=``, ``feed=`` for Massive; ``base_url=``, ``key_id=``, ``secret_key=``, ``markets=``
    for Polymarket US) go to ``provider.open_client``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = "tickwire-data",
        *,
        provider: Provider | str = "massive",
        market: str | None = None,
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
        **options: Any,
    ) -> None:
        self.provider = get_provider(provider) if isinstance(provider, str) else provider
        self.market = self.provider.market(market)
        self.tables: TableRegistry = self.provider.tables(self.market)
        self.data_dir = Path(data_dir)
        self.channels = tuple(channels) if channels else self.provider.default_channels(self.market)
        self.fsync_interval = fsync_interval
        self.write_interval = write_interval
        opts: dict[str, Any] = {"queue_size": 20_000, "overflow": "drop_oldest"}
        opts.update(client_options or {})
        opts.update(options)
        self.journal: JournalWriter | None = None
        if journal:
            self.journal = JournalWriter(
                self.data_dir / "journal",
                segment_bytes=segment_bytes,
                compress=compress,
                meta=self._meta(opts),
            )
        built: list[SinkRunner] = []
        if duckdb:
            built.append(
                SinkRunner(
                    DuckDBSink(self.data_dir / "tickwire.duckdb", self.tables),
                    max_pending=sink_queue,
                    flush_interval=sink_flush_interval,
                )
            )
        for s in sinks:
            sink, policy = sink_from_url(s, self.tables) if isinstance(s, str) else (s, "drop_oldest")
            built.append(
                SinkRunner(sink, max_pending=sink_queue, flush_interval=sink_flush_interval, policy=policy)
            )
        self.runners = built
        self.client: StreamConsumer = self.provider.open_client(
            self.market,
            self.channels,
            frame_tap=self.journal.frame_tap if self.journal is not None else None,
            **opts,
        )
        self._stored: dict[type[Event], bool] = {}
        self.events = 0
        self.gaps = 0
        self.gap_seconds = 0.0
        self._started = time.monotonic()
        self._rate = (time.monotonic(), 0, 0.0)

    def _meta(self, options: dict[str, Any]) -> dict[str, Any]:
        """The journal's session metadata: what was recorded, from where (no secrets)."""
        url = options.get("url") or options.get("base_url")
        meta: dict[str, Any] = {
            "provider": self.provider.name,
            "market": self.market,
            "url": mask_url(url.split("?", 1)[0]) if isinstance(url, str) else "",
            "subscriptions": list(self.channels),
            "tickwire": __version__,
        }
        if isinstance(options.get("feed"), str):
            meta["feed"] = options["feed"]
        markets = options.get("markets")
        if markets:
            meta["markets"] = [str(m) for m in markets]
        return meta

    def _is_stored(self, cls: type[Event]) -> bool:
        ok = self._stored.get(cls)
        if ok is None:
            ok = self._stored[cls] = self.tables.table_for(cls) is not None
        return ok

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
        stored = self._stored
        async for batch in self.client.batches():
            data: list[Event] = []
            for ev in batch:
                keep = stored.get(type(ev))
                if keep is None:
                    keep = self._is_stored(type(ev))
                if keep:
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
        count = self.client.count_events
        async for items in self.client.raw_items():
            for item in items:
                if isinstance(item, bytes):
                    self.events += count(item)
                    continue
                for ev in item:
                    if isinstance(ev, Reconnected):
                        self.gaps += 1
                        self.gap_seconds += ev.gap_seconds
                    elif self._is_stored(type(ev)):
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
