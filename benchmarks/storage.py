"""Storage throughput: the raw journal against the fastest simulator stream, and each sink's
sustained events/s on events recorded from the local stream.

    python3 benchmarks/storage.py                  # about a minute; services skipped when down
    python3 benchmarks/storage.py --events 200000 --sinks duckdb,parquet

1. *live*: ``Recorder`` (journal only) on the simulator (its own process) streaming every stock's
   trades and quotes at two rates; events/s, disconnects (a recorder that cannot keep up is cut off
   as a slow consumer) and the recorder's CPU share.
2. *journal append*: the same frames appended + written + synced in a loop (the journal's ceiling).
3. *sinks*: the recorded events (repeated to ``--events``) written in batches of 50,000 to each sink.
Results go to stdout and ``benchmarks/results/storage.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tickwire.events import Event
from tickwire.journal import FRAME, JournalWriter, read_records
from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.models import MassiveEvent
from tickwire.massive.tables import massive_tables
from tickwire.record import Recorder
from tickwire.sinks import (
    DuckDBSink,
    FileSink,
    NatsJetStreamSink,
    ParquetSink,
    PostgresSink,
    RedisStreamSink,
    Sink,
)

PG = os.environ.get("TICKWIRE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("TICKWIRE_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS = os.environ.get("TICKWIRE_NATS_URL", "nats://127.0.0.1:4222")


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def live(root: Path, seconds: float, rate: float) -> tuple[dict[str, float], list[bytes]]:
    """The simulator in its own process (its own core), the recorder (journal only) in this one."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sim = subprocess.Popen(  # noqa: ASYNC220 (a benchmark: the server process lives for the whole run)
        [
            sys.executable,
            "-m",
            "tickwire",
            "sim",
            "--port",
            str(port),
            "--rate",
            str(rate),
            "--no-polymarket",
            "--no-rest",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.1)
        rec = Recorder(
            root,
            url=f"ws://127.0.0.1:{port}",
            api_key="k",
            channels=["T.*", "Q.*"],
            duckdb=False,
            client_options={"dotenv_path": None},
        )
        c0, t0 = cpu(), time.perf_counter()
        final = await rec.run(duration=seconds)
        wall, used = time.perf_counter() - t0, cpu() - c0
    finally:
        sim.terminate()
        sim.wait()
    frames = [r.data for r in read_records(root / "journal") if r.kind == FRAME]
    return {
        "simulator rate (trades/s/ticker)": rate,
        "events received and journaled": final.events,
        "journal records": final.journal_records,
        "events/s": final.events / wall,
        "disconnects (slow consumer...)": final.reconnects,
        "recorder CPU (% of one core)": 100 * used / wall,
    }, frames


def journal_ceiling(root: Path, frames: list[bytes], target_events: int) -> dict[str, float]:
    per_frame = max(1, sum(f.count(b'"ev"') for f in frames) // max(1, len(frames)))
    loops = max(1, target_events // max(1, per_frame * len(frames)))
    w = JournalWriter(root / "ceiling", compress=False).open()
    t0 = time.perf_counter()
    n = 0
    for _ in range(loops):
        for f in frames:
            w.append(f, time.time_ns(), 1)
            n += 1
    w.sync()
    dt = time.perf_counter() - t0
    w.close()
    return {"frames": n, "frames/s": n / dt, "events/s": n * per_frame / dt, "MB/s": w.bytes / dt / 1e6}


async def sink_rate(sink: Sink, events: list[Event], batch: int = 50_000) -> float:
    await sink.open()
    t0 = time.perf_counter()
    for i in range(0, len(events), batch):
        await sink.write(events[i : i + batch])
    dt = time.perf_counter() - t0
    await sink.close()
    return len(events) / dt


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rate", type=float, default=3000.0, help="simulator trades/s per ticker")
    ap.add_argument("--events", type=int, default=300_000, help="events written to each sink")
    ap.add_argument("--sinks", default="duckdb,parquet,csv,jsonl,postgres,redis,nats")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tickwire-bench-"))
    lines = [
        "# Storage benchmark",
        "",
        f"2 vCPU shared machine (other jobs running); {time.ctime()}",
        "",
    ]
    try:
        frames: list[bytes] = []
        for rate in (args.rate / 10, args.rate):
            stats, frames = await live(root / f"live{rate:g}", args.seconds, rate)
            lines += [f"## Live: journal on the simulator stream (T.* + Q.*, rate {rate:g})", ""]
            lines += [f"* {k}: {v:,.0f}" for k, v in stats.items()]
            lines.append("")
        ceiling = journal_ceiling(root, frames, 2_000_000)
        lines += ["", "## Journal append + write + fsync (same frames, in a loop)", ""]
        lines += [f"* {k}: {v:,.0f}" for k, v in ceiling.items()]
        dec = MassiveDecoder("stocks")
        recorded = [e for f in frames for e in dec.decode(f) if isinstance(e, MassiveEvent)]
        events: list[Event] = []
        while len(events) < args.events:
            events += recorded
        events = events[: args.events]
        tag = uuid.uuid4().hex[:8]
        stocks = massive_tables("stocks")
        makers = {
            "duckdb": lambda: DuckDBSink(root / "b.duckdb", stocks),
            "parquet": lambda: ParquetSink(root / "parquet", stocks),
            "csv": lambda: FileSink(root / "csv", stocks, "csv"),
            "jsonl": lambda: FileSink(root / "jsonl", stocks, "jsonl"),
            "postgres": lambda: PostgresSink(PG, stocks, schema=f"bench_{tag}"),
            "redis": lambda: RedisStreamSink(REDIS, stocks, prefix=f"bench{tag}"),
            "nats": lambda: NatsJetStreamSink(
                NATS, stocks, prefix=f"bench{tag}", stream=f"BENCH_{tag.upper()}"
            ),
        }
        lines += [
            "",
            f"## Sinks: {len(events):,} recorded events, batches of 50,000",
            "",
            "| sink | events/s |",
            "|---|---:|",
        ]
        for name in args.sinks.split(","):
            n = len(events) if name in ("duckdb", "parquet", "csv", "jsonl") else min(len(events), 100_000)
            try:
                rate = await sink_rate(makers[name](), events[:n])
                lines.append(f"| {name} | {rate:,.0f} |")
            except Exception as exc:
                lines.append(f"| {name} | not measured: {type(exc).__name__} |")
            print(lines[-1], flush=True)
        await _cleanup(tag)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report = "\n".join(lines) + "\n"
    print(report)
    out = Path(__file__).parent / "results" / "storage.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)


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
        nc = await nats.connect(NATS)
        await nc.jetstream().delete_stream(f"BENCH_{tag.upper()}")
        await nc.close()
    except Exception as exc:  # the figures stand; leftovers are named bench*
        print(f"cleanup incomplete: {type(exc).__name__}")


if __name__ == "__main__":
    asyncio.run(main())
