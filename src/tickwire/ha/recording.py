"""``tickwire record --ha``: the recorder run as terms of the HA lease, publishing to JetStream.

Each term (see :mod:`tickwire.ha.supervisor`) builds a fresh :class:`~tickwire.record.Recorder`
whose upstream client reconnects only while the lease is held (:class:`GatedBackoff`) and whose
JetStream sink stamps the epoch on every message and refuses to publish once the lease is not
held (``epoch=Term.fence``, checked before every batch). The sink's watermark for this process's
journal is raised to the journal head at the start of the term, so a leader publishes what it
received in its own term only (what it journaled but did not publish before losing the lease is
the other leader's to cover). The term ends, and the upstream connection is closed, as soon as the
lease is lost.

A term that took over from another holder reports the hole: it reads when the stream last stored
a message (``gap_start``) before its own sink starts, waits until it is connected upstream
(``gap_end``) and ``BACKFILL_SETTLE`` s more, then fetches the complete events of the window over
REST when the provider can (:class:`Backfill`: bars, trades) and publishes, per subject, those
after the last event the stream holds (the old leader's) and before the first event this term
received live (read from its journal tail), both compared by the provider's ordering key (a bar's
start; a trade's ``(time, sequence number)``, as trades share timestamps): an event is neither
missing nor there twice at either edge. Its live data waits for this (the sink's ``hold``, bounded
by ``BACKFILL_TIMEOUT``), so per subject the backfill comes before the live events. The window
is taken in the data's own clock (a simulator's market clock need not be the wall clock): up to the
newest event received live, from a minute before the stream's last message. Then it
publishes a :class:`~tickwire.ha.events.FailoverGap` (``backfilled=0`` for a provider with no REST
history). A backfilled event goes out under the journal ``backfill.<type>.<symbol>`` with the
provider's position for it (a bar's start in ms, a trade's sequence number), so ``Nats-Msg-Id`` is
the same whichever leader fetches it: a second backfill of the same event is dropped by JetStream
(and the sink's watermark for that journal skips it first).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tickwire.events import Event
from tickwire.ha.backfill import Backfill, OrderKey
from tickwire.ha.events import FailoverGap
from tickwire.ha.lease import LeaseMachine
from tickwire.ha.store import LEASE_BUCKET, LeaseStore
from tickwire.ha.supervisor import GatedBackoff, Term, run_ha
from tickwire.journal import JournalWriter
from tickwire.journal.position import position
from tickwire.record.recorder import Recorder, RecorderStatus
from tickwire.redact import escape_terminal
from tickwire.sinks.base import SinkBatch
from tickwire.sinks.nats_jetstream import NatsJetStreamSink, message_decoder, subject_token
from tickwire.tables import TableRegistry

__all__ = ["Backfill", "HaConfig", "holder_id", "record_ha"]

log = logging.getLogger("tickwire.ha")

BACKFILL_SETTLE = 1.5
"""Seconds a new leader receives live data before it backfills: bars that completed since its
connect arrive live first, and the first live event per subject is where the backfill stops."""

BACKFILL_TIMEOUT = 10.0
"""Seconds the backfill (REST and publishing) may take; the live data waits for it that long."""

LOST_FLUSH_TIMEOUT = 1.0
"""Seconds the local sinks get at the end of a term whose lease was lost (the JetStream sink is
fenced; what the others lack is written by the next term or ``tickwire sinks repair``)."""


@dataclass(frozen=True)
class HaConfig:
    """``--ha URLS --ha-name NAME`` and the rest: the lease and where the events go."""

    urls: str
    name: str
    ttl: float = 5.0
    bucket: str = LEASE_BUCKET
    replicas: int = 1
    prefix: str = "md"
    stream: str | None = None
    timeout: float = 2.0


def holder_id(name: str) -> str:
    """``<name>@<host>:<pid>:<nonce>``: unique to this process (a restart is a new holder)."""
    return f"{name}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def record_ha(
    cfg: HaConfig,
    tables: TableRegistry,
    make_recorder: Callable[[NatsJetStreamSink, GatedBackoff], Recorder],
    stop: asyncio.Event,
    *,
    backfill: Backfill | None = None,
    holder: str | None = None,
    run: Callable[[Recorder, asyncio.Event], Awaitable[RecorderStatus]] | None = None,
) -> RecorderStatus | None:
    """Record as terms of the lease until ``stop``; the last term's final status (None: never led).
    ``make_recorder(sink, backoff)`` builds the term's recorder with ``sink`` among its sinks and
    ``backoff`` as its client's reconnect policy; ``run(recorder, done)`` runs it (default
    ``recorder.run(done)``: the CLI adds its status output)."""
    store = LeaseStore(cfg.urls, cfg.name, bucket=cfg.bucket, replicas=cfg.replicas, timeout=cfg.timeout)
    machine = LeaseMachine(
        holder or holder_id(cfg.name), ttl=cfg.ttl, host=socket.gethostname(), pid=os.getpid()
    )

    def sink(t: Term, hold: asyncio.Event | None = None) -> NatsJetStreamSink:
        return NatsJetStreamSink(
            cfg.urls,
            tables,
            prefix=cfg.prefix,
            stream=cfg.stream,
            epoch=t.fence,
            replicas=cfg.replicas,
            connect_timeout=cfg.timeout,
            timeout=max(cfg.timeout, 2.0),
            hold=hold,
        )

    async def term(t: Term) -> RecorderStatus:
        side = sink(t)  # its own connection: the gap and the backfill
        gap_start = await _last_stored(side) if t.previous is not None else None
        backfilled = asyncio.Event() if t.previous is not None else None
        main = sink(t, backfilled)  # live data waits for the backfill (bounded)
        recorder = make_recorder(main, GatedBackoff(base=0.2, cap=2.0, gate=t.valid))

        term_start: list[int] = []

        def from_head(j: JournalWriter) -> None:
            main.floors[j.journal_id] = position(j.next_seq)
            term_start.append(position(j.next_seq))

        recorder.on_journal_open = from_head
        done = asyncio.Event()

        async def watch() -> None:
            waits = [asyncio.ensure_future(t.lost.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if t.lost.is_set():  # the fenced sink cannot catch up: do not wait out the deadline
                    recorder.flush_timeout = min(recorder.flush_timeout, LOST_FLUSH_TIMEOUT)
            finally:
                for w in waits:
                    w.cancel()
                done.set()

        helpers = [asyncio.create_task(watch())]
        if t.previous is not None:
            helpers.append(
                asyncio.create_task(
                    _failover(t, side, recorder, tables, gap_start, backfill, term_start, backfilled)
                )
            )
        try:
            if run is not None:
                return await run(recorder, done)
            return await recorder.run(done)
        finally:
            for h in helpers:
                h.cancel()
            for h in helpers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await h
            await side.close()

    return await run_ha(store, machine, term, stop)


async def _last_stored(side: NatsJetStreamSink) -> float | None:
    """When the stream last stored a message (Unix s), before this term publishes anything."""
    try:
        async with asyncio.timeout(5.0):
            await side.open()
            info = await side.stream_info()
    except Exception as exc:
        log.warning("HA: cannot read the stream's last message time (%s)", escape_terminal(str(exc)))
        return None
    raw = str(info.get("state", {}).get("last_ts", ""))
    if not raw or raw.startswith("0001-"):
        return None
    head, _, frac = raw.rstrip("Z").partition(".")
    stamp = dt.datetime.fromisoformat(head).replace(tzinfo=dt.UTC).timestamp()
    return stamp + (float(f"0.{frac}") if frac.isdigit() else 0.0)


async def _failover(
    t: Term,
    side: NatsJetStreamSink,
    recorder: Recorder,
    tables: TableRegistry,
    gap_start: float | None,
    backfill: Backfill | None,
    term_start: list[int],
    done: asyncio.Event | None,
) -> None:
    """Once connected upstream: backfill the window, then publish the :class:`FailoverGap`; then
    ``done`` (the live data goes out after)."""
    try:
        await _report_gap(t, side, recorder, tables, gap_start, backfill, term_start)
    finally:
        if done is not None:
            done.set()


async def _report_gap(
    t: Term,
    side: NatsJetStreamSink,
    recorder: Recorder,
    tables: TableRegistry,
    gap_start: float | None,
    backfill: Backfill | None,
    term_start: list[int],
) -> None:
    while not recorder.client.metrics().connected:  # noqa: ASYNC110 - the client has no "connected" event
        await asyncio.sleep(0.02)
    gap_end = time.time()
    prev = t.previous
    start = gap_start if gap_start is not None else gap_end - 2 * t.machine.ttl
    count, error = 0, None
    if backfill is not None:
        try:
            # bars complete by then have reached this leader live if it was subscribed in time:
            # what it received (the journal tail) bounds the backfill per subject, exactly
            await asyncio.sleep(BACKFILL_SETTLE)
            now_ms = int(time.time() * 1000)
            first, newest = _first_live(
                side, tables, backfill.key, recorder, term_start[0] if term_start else 0
            )
            # the window in the data's own clock (a vendor's, a simulator's market clock), which the
            # newest live event gives: up to it, and from a minute before the last stored message
            # (bars the old leader had not yet received when it died started before it); what the
            # stream holds is skipped per subject
            skew = newest - now_ms if newest is not None else 0
            lo = int(start * 1000) + skew - 60_000
            hi = newest + 1 if newest is not None else int((gap_end + BACKFILL_SETTLE) * 1000)
            async with asyncio.timeout(BACKFILL_TIMEOUT):
                count = await _backfill(side, tables, backfill, lo, hi, first)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("HA: backfill of the failover gap failed (%s)", escape_terminal(error))
    gap = FailoverGap(
        epoch=t.epoch,
        holder=t.machine.holder,
        previous_epoch=prev.epoch if prev is not None else 0,
        previous_holder=prev.holder if prev is not None else "",
        gap_start=start,
        gap_end=gap_end,
        backfilled=count,
        error=error,
    )
    await side.publish_one("failover._", f"failover:{t.epoch}", [gap], [t.epoch])
    log.info(
        "HA: took over at epoch %d; gap of %.2f s, %d events backfilled", t.epoch, gap.gap_seconds, count
    )


def _first_live(
    side: NatsJetStreamSink, tables: TableRegistry, key: OrderKey, recorder: Recorder, start: int
) -> tuple[dict[str, tuple[int, ...]], int | None]:
    """Per subject, the key of the first event this term received (from the journal tail); and
    the time (ms) of the newest event it received."""
    first: dict[str, tuple[int, ...]] = {}
    newest: int | None = None
    tail = recorder.tail
    pos = start
    while tail is not None:
        chunk = tail.take(max(pos, tail.start), 100_000)
        if chunk is None:
            break
        for ev in chunk.events:
            spec = tables.table_for(type(ev))
            ns = spec.time_ns(ev) if spec is not None else None
            if ns is not None and (newest is None or ns // 1_000_000 > newest):
                newest = ns // 1_000_000
            k = key(ev)
            if k is not None:
                subject = side.subject(ev)
                if subject not in first or k < first[subject]:
                    first[subject] = k
        pos = chunk.end
    return first, newest


async def _backfill(
    side: NatsJetStreamSink,
    tables: TableRegistry,
    backfill: Backfill,
    from_ms: int,
    to_ms: int,
    first_live: dict[str, tuple[int, ...]],
) -> int:
    """Publish the fetched events each subject does not hold yet and this term did not receive
    live (strictly between the stream's last and this term's first, by ``backfill.key``); how
    many were published."""
    if to_ms <= from_ms:
        return 0
    fetched = await backfill.fetch(from_ms, to_ms)
    decode = message_decoder(tables)
    by_subject: dict[str, list[tuple[tuple[int, ...], Event]]] = {}
    for ev in fetched:
        spec = tables.table_for(type(ev))
        ns = spec.time_ns(ev) if spec is not None else None
        k = backfill.key(ev)
        if ns is None or k is None or not from_ms <= ns // 1_000_000 < to_ms:
            continue
        by_subject.setdefault(side.subject(ev), []).append((k, ev))
    published = 0
    for subject, rows in by_subject.items():
        last: tuple[int, ...] | None = None
        raw = await side.last_message(subject)
        if raw is not None:
            for held in decode(subject, {}, raw).events:
                k = backfill.key(held)
                if k is not None and (last is None or k > last):
                    last = k
        stop = first_live.get(subject)
        keep = {
            backfill.position(ev): ev
            for k, ev in sorted(rows, key=lambda r: r[0])
            if (last is None or k > last) and (stop is None or k < stop)
        }
        if not keep:
            continue
        pos = sorted(keep)
        kind, symbol = tables.route(keep[pos[0]])
        journal = f"backfill.{subject_token(kind)}.{subject_token(symbol)}"
        await side.write(SinkBatch(journal, pos[0], pos[-1] + 1, [keep[p] for p in pos], pos))
        published += len(pos)
    return published
