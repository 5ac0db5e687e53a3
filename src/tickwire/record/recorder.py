"""The recorder: one stream → the raw journal (every frame) → every sink, exactly once, with live status.

Theory of operation
-------------------
::

    socket ─► Driver ─► frame tap ─► JournalWriter.append  (raw bytes + recv ns + epoch, no decoding)
                     └─► client (raw: events only counted, gaps noted)
    journal ─► JournalTail (decoded once) ─► SinkCursor per sink ─► sink.write(SinkBatch)
                                               (from its own watermark; behind: read from disk)

The journal is the source of truth, fed synchronously from the transport's frame tap, so it sees
every frame before anything else. Sinks are fed *from the journal* (see :mod:`.tail` and
:mod:`.runner`): each keeps a watermark (a journal position) atomically with its rows, so after a
crash, an outage or a slow spell it resumes exactly where it is complete, and nothing is dropped
for a slow sink, it only falls behind. The data directory is locked (one recorder at a time), the
journal opens first, and sinks open in the background: a sink that is down never holds up the
recording. A timer hands the journal's buffer to the OS every ``write_interval`` s (then the tail
decodes what is new) and ``fsync``s every ``fsync_interval`` s in a worker thread; a full disk
pauses the journal (it buffers within its bound, then counts what it could not keep as a gap)
without touching the connection.

Shutdown (``stop`` set, ``duration`` over, SIGINT/SIGTERM in the CLI): the client closes, the
journal writes out, every sink is brought up to the journal head in parallel within
``flush_timeout`` s, the journal syncs and closes. The final status says, per sink, whether it is
complete and exactly how many events it lacks otherwise (the next run, or ``tickwire sinks
repair``, completes it from its watermark).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from tickwire._version import __version__
from tickwire.errors import ConfigError
from tickwire.events import Reconnected
from tickwire.journal import JournalWriter, lock_data_dir
from tickwire.journal.position import position
from tickwire.journal.writer import disk_usage
from tickwire.provider import Provider, get_provider
from tickwire.record.runner import SinkCursor, SinkHealth
from tickwire.record.tail import JournalChunks, JournalTail
from tickwire.redact import mask_secrets
from tickwire.sinks import DuckDBSink, Sink, sink_from_url
from tickwire.stream.consumer import StreamConsumer
from tickwire.tables import TableRegistry

__all__ = ["Recorder", "RecorderStatus", "SinkOutcome", "count_stored", "cursor_outcome"]

log = logging.getLogger("tickwire.record")

SINKS_FILE = "sinks.json"
"""The data directory's list of sink URLs (credentials masked): what ``tickwire sinks`` checks."""


class SinkOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """Where a sink stands against the journal at the end of a run: complete, or ``lacking`` events
    (exactly; None when the sink could not be reached, then ``lacking_at_least`` counts this run's)."""

    name: str
    complete: bool
    watermark: int
    head: int
    lacking: int | None
    lacking_at_least: int
    dead_letters: int
    last_error: str | None
    written: int = 0
    """Events written to the sink by this run."""


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
    journal_error: str | None = None
    disk_full: bool = False
    journal_lost: int = 0
    outcomes: list[SinkOutcome] | None = None

    @property
    def complete(self) -> bool:
        """Every sink holds every event of the journal (only meaningful on the final status)."""
        return all(o.complete for o in self.outcomes or ())


class Recorder:
    """Records one stream of any provider into ``data_dir`` (``journal/`` and ``tickwire.duckdb`` by
    default).

    ``provider`` is a :class:`~tickwire.provider.Provider` or its name (``"massive"``,
    ``"polymarket"``); ``market`` one of its markets (its default when None) and ``channels`` what to
    subscribe to (the provider's defaults when None). ``sinks`` are sink URLs (see
    :func:`tickwire.sinks.sink_from_url`) or :class:`~tickwire.sinks.Sink` objects built with this
    market's tables (:attr:`tables`); they are fed from the journal, so they need it (``journal=True``).
    ``client_options`` and any other keyword argument (``url=``, ``api_key=``, ``feed=`` for Massive;
    ``base_url=``, ``key_id=``, ``secret_key=``, ``markets=`` for Polymarket US) go to
    ``provider.open_client``.
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
        sink_batch_size: int = 50_000,
        sink_flush_interval: float = 0.5,
        sink_open_timeout: float = 10.0,
        sink_write_timeout: float = 30.0,
        flush_timeout: float = 30.0,
        window_events: int = 1_000_000,
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
        self.sink_batch_size = sink_batch_size
        self.sink_flush_interval = sink_flush_interval
        self.sink_open_timeout = sink_open_timeout
        self.sink_write_timeout = sink_write_timeout
        self.flush_timeout = flush_timeout
        self.window_events = window_events
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
        built: list[Sink] = []
        urls: list[str] = []
        if duckdb:
            path = self.data_dir / "tickwire.duckdb"
            built.append(DuckDBSink(path, self.tables))
            urls.append(f"duckdb:{path}")
        for s in sinks:
            if isinstance(s, str):
                built.append(sink_from_url(s, self.tables))
                urls.append(s)
            else:
                built.append(s)
        if built and self.journal is None:
            raise ConfigError("sinks are fed from the journal: a recording with sinks needs journal=True")
        self.sinks = built
        self._sink_urls = urls
        self.cursors: list[SinkCursor] = []
        self.tail: JournalTail | None = None
        self.client: StreamConsumer = self.provider.open_client(
            self.market,
            self.channels,
            frame_tap=self.journal.frame_tap if self.journal is not None else None,
            **opts,
        )
        self.events = 0
        self.gaps = 0
        self.gap_seconds = 0.0
        self._started = time.monotonic()
        self._rate = (time.monotonic(), 0, 0.0)
        self._head_at_start = 0
        self._timer_error: str | None = None
        self.on_journal_open: Callable[[JournalWriter], None] | None = None
        """Called with the opened journal before the sinks start (:mod:`tickwire.ha` sets it)."""

    def _meta(self, options: dict[str, Any]) -> dict[str, Any]:
        """The journal's session metadata: what was recorded, from where (no secrets)."""
        url = options.get("url") or options.get("base_url")
        meta: dict[str, Any] = {
            "provider": self.provider.name,
            "market": self.market,
            "url": mask_secrets(url.split("?", 1)[0]) if isinstance(url, str) else "",
            "subscriptions": list(self.channels),
            "tickwire": __version__,
        }
        if isinstance(options.get("feed"), str):
            meta["feed"] = options["feed"]
        markets = options.get("markets")
        if markets:
            meta["markets"] = [str(m) for m in markets]
        return meta

    # ------------------------------------------------------------------ status

    @property
    def stored_events(self) -> int:
        """Events of the tables journaled so far: decoded by the tail when there are sinks (exact),
        counted from the raw frames otherwise."""
        return self.tail.events if self.tail is not None else self.events

    def status(self) -> RecorderStatus:
        now = time.monotonic()
        t0, e0, rate = self._rate
        events = self.stored_events
        if now - t0 >= 0.5:
            rate = (events - e0) / (now - t0)
            self._rate = (now, events, rate)
        m = self.client.metrics()
        j = self.journal
        return RecorderStatus(
            elapsed=now - self._started,
            events=events,
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
            sinks=[c.health() for c in self.cursors],
            journal_error=(j.error if j is not None else None) or self._timer_error,
            disk_full=bool(j is not None and j.disk_full),
            journal_lost=j.lost_records if j is not None else 0,
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
        """Record until ``stop`` is set or ``duration`` s passed; bring the sinks up to the journal
        head (within ``flush_timeout``); the final status (:attr:`RecorderStatus.outcomes` per sink).

        Raises :class:`~tickwire.errors.JournalError` when the data directory is in use by another
        recorder."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        timer = loop.call_later(duration, stop.set) if duration is not None else None
        lock = lock_data_dir(self.data_dir) if self.journal is not None else None
        outcomes: list[SinkOutcome] | None = None
        try:
            j = self.journal
            if j is not None:
                j.open()
                self._head_at_start = j.next_seq
                if self.on_journal_open is not None:  # HA: a new term publishes from here on
                    self.on_journal_open(j)
                self._save_sink_urls()
                if self.sinks:
                    self.tail = JournalTail(
                        j.directory, j.next_seq, self.provider, self.market, window_events=self.window_events
                    )
                    self.cursors = [self._cursor(s, j) for s in self.sinks]
                    for c in self.cursors:
                        c.start()
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
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(consumer, 10.0)
                for h in helpers:
                    h.cancel()
                outcomes = await self._finish_sinks()
                if self.journal is not None:
                    self.journal.close()
        finally:
            if lock is not None:
                lock.release()
        final = msgspec.structs.replace(self.status(), outcomes=outcomes)
        if on_status is not None:
            on_status(final)
        return final

    def _cursor(self, sink: Sink, j: JournalWriter) -> SinkCursor:
        assert self.tail is not None
        return SinkCursor(
            sink,
            tail=self.tail,
            journal_dir=j.directory,
            journal_id=j.journal_id,
            provider=self.provider,
            market=self.market,
            dead_letter_dir=self.data_dir / "dead-letter",
            batch_size=self.sink_batch_size,
            flush_interval=self.sink_flush_interval,
            open_timeout=self.sink_open_timeout,
            write_timeout=self.sink_write_timeout,
        )

    def _save_sink_urls(self) -> None:
        """Keep the sinks' URLs (credentials masked) for ``tickwire sinks status|repair``."""
        path = self.data_dir / SINKS_FILE
        try:
            known = json.loads(path.read_text()) if path.exists() else []
        except (OSError, ValueError):
            known = []
        urls = list(
            dict.fromkeys([*(u for u in known if isinstance(u, str)), *map(mask_secrets, self._sink_urls)])
        )
        with contextlib.suppress(OSError):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(urls, indent=1) + "\n")
            tmp.replace(path)

    async def _finish_sinks(self) -> list[SinkOutcome] | None:
        """Bring every sink up to the journal head in parallel (one deadline); what each lacks."""
        j, tail = self.journal, self.tail
        if j is None or tail is None:
            return None
        with contextlib.suppress(Exception):
            j.write()
        for _ in range(1000):  # decode what the journal holds (bounded: a poll takes at most 64 MiB)
            if tail.poll(max_bytes=64 << 20) == 0 and tail.poll() == 0:
                break
        target = tail.end
        pending = [asyncio.ensure_future(c.finish(target)) for c in self.cursors]
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.flush_timeout)
            for t in late:
                t.cancel()
            for c in self.cursors:
                if not c.complete:
                    await c.abort()
        outcomes = []
        for c in self.cursors:
            outcomes.append(await cursor_outcome(c, target, run_start=position(self._head_at_start)))
        tail.close()
        return outcomes

    async def _consume(self) -> None:
        """Count the stream's events and note its gaps; the journal has the frames already, and
        the sinks decode them from there, so data frames are never decoded here."""
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
                    elif self.tables.table_for(type(ev)) is not None:
                        self.events += 1

    async def _journal_timer(self) -> None:
        """Hand the journal to the OS, let the tail decode it, fsync on the policy. Never dies: an
        error is logged once (and shown in the status) and the next tick tries again."""
        j = self.journal
        if j is None:
            return
        last_sync = time.monotonic()
        while True:
            await asyncio.sleep(self.write_interval)
            try:
                j.write()
                if self.tail is not None:
                    self.tail.poll()
                if self.fsync_interval is not None and time.monotonic() - last_sync >= self.fsync_interval:
                    last_sync = time.monotonic()
                    await asyncio.to_thread(j.finish_sync, j.sync_target())
                self._timer_error = None
            except Exception as exc:
                text = f"{type(exc).__name__}: {mask_secrets(str(exc))}"
                if text != self._timer_error:
                    log.error("journal: %s", text)
                self._timer_error = text

    async def _status_timer(self, on_status: Callable[[RecorderStatus], None], interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            on_status(self.status())


async def cursor_outcome(c: SinkCursor, target: int, *, run_start: int | None = None) -> SinkOutcome:
    """Where the cursor's sink stands against ``target``: what it lacks, counted exactly from the
    journal (a worker thread reads it); for a sink never reached, ``lacking_at_least`` counts the
    events from ``run_start`` (this run's first position; 0 when not given)."""

    def count(start: int) -> int:
        return count_stored(c.journal_dir, c.provider, c.market, start, target)

    lacking: int | None
    if not c.known:
        lacking = None
    elif c.durable >= target:
        lacking = 0
    else:
        lacking = await asyncio.to_thread(count, c.durable)
    if lacking is not None:
        at_least = lacking
    else:
        at_least = 0 if run_start is None else await asyncio.to_thread(count, run_start)
    return SinkOutcome(
        name=c.name,
        complete=lacking == 0,
        watermark=c.durable,
        head=target,
        lacking=lacking,
        lacking_at_least=at_least,
        dead_letters=c.dead.count,
        last_error=c.last_error,
        written=c.written,
    )


def count_stored(journal_dir: Path, provider: Provider, market: str, start: int, end: int) -> int:
    """How many stored events the journal holds at positions ``[start, end)`` (reads the disk)."""
    from tickwire.journal.position import seq_of

    reader = JournalChunks(journal_dir, seq_of(start), provider, market)
    n = 0
    try:
        while True:
            chunk = reader.next()
            if chunk is None or chunk.start >= end:
                return n
            n += sum(1 for p in chunk.positions if start <= p < end)
    finally:
        reader.close()
