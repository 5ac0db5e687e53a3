"""Storage throughput with watermarks on: each sink's sustained events/s, next to the previous run.

    python3 benchmarks/storage.py                  # about a minute; services not reachable are noted
    python3 benchmarks/storage.py --events 600000 --sinks duckdb,parquet

Events are the simulator's stock trades and quotes (its market model and wire format, decoded by
the Massive decoder, as the recorder's journal tail hands them out), numbered with journal
positions and written to each sink in :class:`~tickwire.sinks.SinkBatch` es of 50,000 (the
runner's batch; a sink stating a larger ``batch_events``, DuckDB, gets that many, as the runner
gives it): every write stores rows and watermark together. A second pass replays the same batches
into a fresh sink object on the same store (the catch-up after a restart): it must add nothing,
and its rate shows what skipping by watermark costs. File sinks include their final roll.
The journal's own ceiling (append + write + fsync of the same frames) is measured too. Results go
to stdout and ``benchmarks/results/storage.md``; the figures of the previous run are read from that
file first and shown beside the new ones.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tickwire.events import Event
from tickwire.journal import JournalWriter
from tickwire.journal.position import position
from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.tables import massive_tables
from tickwire.sim.channels import Kind
from tickwire.sim.market import MarketModel
from tickwire.sim.wire import BUILDERS, ENCODER
from tickwire.sinks import (
    DuckDBSink,
    FileSink,
    NatsJetStreamSink,
    ParquetSink,
    PostgresSink,
    RedisStreamSink,
    Sink,
    SinkBatch,
)
from tickwire.sinks.base import batch_events

PG = os.environ.get("TICKWIRE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("TICKWIRE_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS = os.environ.get("TICKWIRE_NATS_URL", "nats://127.0.0.1:4222")
RESULTS = Path(__file__).parent / "results" / "storage.md"
BATCH = 50_000
JOURNAL = "0123456789abcdef"


def simulated_frames(n_events: int, per_frame: int = 500) -> list[bytes]:
    """Frames of ``per_frame`` stock trades and quotes, one simulated second after another."""
    model = MarketModel(seed=1)
    stocks = model.universe.instruments("stocks")
    trade, quote = BUILDERS[("stocks", Kind.TRADE)], BUILDERS[("stocks", Kind.QUOTE)]
    t0 = 1_700_000_000_000 + 14 * 3_600_000
    frames: list[bytes] = []
    pending: list[object] = []
    second = 0
    while len(frames) * per_frame < n_events:
        start, end = t0 + second * 1000, t0 + (second + 1) * 1000
        for inst in stocks:
            pending += [trade(inst, t) for t in model.trades("stocks", inst.ticker, start, end)]
            pending += [quote(inst, q) for q in model.quotes("stocks", inst.ticker, start, end)]
        second += 1
        while len(pending) >= per_frame:
            frames.append(ENCODER.encode(pending[:per_frame]))
            pending = pending[per_frame:]
    return frames


def sink_batches(frames: list[bytes], n_events: int, batch: int = BATCH) -> list[SinkBatch]:
    """The frames decoded, one journal record each, cut into batches of ``batch`` events."""
    decoder = MassiveDecoder("stocks")
    events: list[Event] = []
    positions: list[int] = []
    for seq, frame in enumerate(frames):
        for idx, ev in enumerate(decoder.decode(frame)):
            events.append(ev)
            positions.append(position(seq, idx))
    events, positions = events[:n_events], positions[:n_events]
    out = []
    for i in range(0, len(events), batch):
        end = positions[i + batch] if i + batch < len(positions) else positions[-1] + 1
        out.append(SinkBatch(JOURNAL, positions[i], end, events[i : i + batch], positions[i : i + batch]))
    return out


async def sink_rate(make: Callable[[], Sink], batches: list[SinkBatch]) -> tuple[float, float]:
    """Events/s of writing the batches, then the seconds of replaying them into a new sink object
    on the same store."""
    n = sum(len(b) for b in batches)
    rates = []
    for attempt in range(2):
        sink = make()
        await sink.open()
        t0 = time.perf_counter()
        for b in batches:
            await sink.write(b)
        await sink.flush()
        dt = time.perf_counter() - t0
        rates.append(n / dt if attempt == 0 else dt)
        if await sink.watermark(JOURNAL) != batches[-1].end:
            raise RuntimeError("the watermark is not the last batch's end")
        await sink.close()
    return rates[0], rates[1]


def journal_ceiling(root: Path, frames: list[bytes]) -> dict[str, float]:
    w = JournalWriter(root / "ceiling", compress=False).open()
    t0 = time.perf_counter()
    for f in frames:
        w.append(f, time.time_ns(), 1)
    w.sync()
    dt = time.perf_counter() - t0
    w.close()
    events = sum(f.count(b'"ev"') for f in frames)
    return {"frames/s": len(frames) / dt, "events/s": events / dt, "MB/s": sum(map(len, frames)) / dt / 1e6}


def previous_figures() -> dict[str, str]:
    """``sink → events/s`` of the last run's table (``| name | figure |`` lines of the results file)."""
    if not RESULTS.exists():
        return {}
    found = {}
    for line in RESULTS.read_text().splitlines():
        m = re.match(r"^\| (\w+) \| ([\d,]+|not measured[^|]*) \|", line)
        if m:
            found[m[1]] = m[2].strip()
    return found


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300_000, help="events written to each embedded sink")
    ap.add_argument("--service-events", type=int, default=100_000, help="events for the network sinks")
    ap.add_argument("--sinks", default="duckdb,parquet,csv,jsonl,postgres,redis,nats")
    args = ap.parse_args()
    before = previous_figures()
    root = Path(tempfile.mkdtemp(prefix="tickwire-bench-"))
    tag = uuid.uuid4().hex[:8]
    stocks = massive_tables("stocks")
    makers: dict[str, Callable[[], Sink]] = {
        "duckdb": lambda: DuckDBSink(root / "b.duckdb", stocks),
        "parquet": lambda: ParquetSink(root / "parquet", stocks),
        "csv": lambda: FileSink(root / "csv", stocks, "csv"),
        "jsonl": lambda: FileSink(root / "jsonl", stocks, "jsonl"),
        "postgres": lambda: PostgresSink(PG, stocks, schema=f"bench_{tag}"),
        "redis": lambda: RedisStreamSink(REDIS, stocks, prefix=f"bench{tag}"),
        "nats": lambda: NatsJetStreamSink(NATS, stocks, prefix=f"bench{tag}", stream=f"BENCH_{tag.upper()}"),
    }
    frames = simulated_frames(args.events)
    batches = sink_batches(frames, args.events)
    await sink_rate(lambda: DuckDBSink(root / "warm-up.duckdb", stocks), batches[:1])  # first-call costs
    lines = [
        "# Storage benchmark",
        "",
        f"2 vCPU shared machine (other jobs running); {time.ctime()}; Python {sys.version.split()[0]}",
        "",
        "## Journal append + write + fsync (simulated stock frames, 500 events each)",
        "",
    ]
    try:
        lines += [f"* {k}: {v:,.0f}" for k, v in journal_ceiling(root, frames).items()]
    except Exception as exc:  # the journal's API is another part's; the sink figures stand alone
        lines.append(f"* not measured: {type(exc).__name__}: {exc}")
    lines += [
        "",
        f"## Sinks with watermarks: batches of {BATCH:,} events, or the sink's own larger `batch_events` "
        f"(DuckDB), as the runner gives them ({args.events:,} embedded, "
        f"{args.service_events:,} network)",
        "",
        "`replay` is the time to hand the same batches to a new sink object on the same store",
        "(everything below its watermark: nothing is added).",
        "",
        "| sink | events/s | replay (ms) | before (no watermarks) |",
        "|---|---:|---:|---:|",
    ]
    try:
        for name in args.sinks.split(","):
            size = batch_events(makers[name](), BATCH)  # what the runner gives this sink
            n = args.service_events if name in ("postgres", "redis", "nats") else args.events
            todo = batches if (n, size) == (args.events, BATCH) else sink_batches(frames, n, size)
            try:
                rate, replay = await sink_rate(makers[name], todo)
                lines.append(f"| {name} | {rate:,.0f} | {replay * 1000:,.0f} | {before.get(name, '-')} |")
            except Exception as exc:
                lines.append(f"| {name} | not measured: {type(exc).__name__} | | {before.get(name, '-')} |")
            print(lines[-1], flush=True)
        await _cleanup(tag)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report = "\n".join(lines) + "\n"
    print(report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report)


async def _cleanup(tag: str) -> None:
    try:
        import nats
        import psycopg
        import redis.asyncio as aioredis

        async with await psycopg.AsyncConnection.connect(PG, autocommit=True) as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "bench_{tag}" CASCADE')
        r = aioredis.from_url(REDIS)
        keys = [k async for k in r.scan_iter(f"bench{tag}*")]
        for i in range(0, len(keys), 1000):
            await r.delete(*keys[i : i + 1000])
        await r.aclose()
        nc = await nats.connect(NATS, allow_reconnect=False, max_reconnect_attempts=1, connect_timeout=5)
        await nc.jetstream().delete_stream(f"BENCH_{tag.upper()}")
        await nc.close()
    except Exception as exc:  # the figures stand; leftovers are named bench*
        print(f"cleanup incomplete: {type(exc).__name__}")


if __name__ == "__main__":
    asyncio.run(main())
