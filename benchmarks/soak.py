"""Soak run: a long stream at a high event rate with periodic faults, then 1,000 reconnects per client.

The simulator (Massive and Polymarket US on one port) runs in a child process driven over a pipe,
so the process measured holds only the client under test. Every ``--sample-every`` seconds the
script samples RSS, asyncio tasks, OS threads, open file descriptors, queue depth, events and
reconnects. Phases:

* ``async``, ``threaded``: ``AsyncStreamClient`` (``batches()``) and the callback ``StreamClient``
  (typed events) on ``T.*`` and ``Q.*`` of the stocks cluster, for ``--sim-minutes`` of market time
  (the simulator runs ``--speed`` times faster than the wall clock, so a minute of market time takes
  ``60 / speed`` seconds and carries ``speed`` times as many events per second), with a fault every
  ``--fault-every`` seconds, cycling through drops, close codes, garbage / truncated / unknown frames,
  ``slow_consumer``, ``force_disconnect``, refused handshakes, a mute socket and a server restart.
* ``polymarket``: ``PolymarketClient`` on the markets socket (books and trades of every market) for
  ``--pm-seconds`` (its simulator runs at wall speed), with drops, close codes, garbage, a mute
  socket (heartbeats stop) and refused handshakes.
* ``reconnects``: ``--reconnects`` back-to-back reconnects of each client (1-5 ms backoff), each
  waited for until the client streams again; tasks, threads and fds are compared with their values
  at the first connection, and after ``close`` with their values before the client existed.

Bounds checked (exit code 1 if one is exceeded): RSS growth (median of the first 10 % of samples
after warm-up vs the last 10 %) within ``--max-rss-growth-mib``; tasks, threads and fds never above
their streaming values plus a small allowance; the queue within its bound; the stream resumed after
every fault with exactly the desired subscriptions; nothing left once closed.

    python3 benchmarks/soak.py                 # full run (~25 min wall), writes results/soak.md + .json
    python3 benchmarks/soak.py --quick         # ~2 min smoke run, prints only
    python3 benchmarks/soak.py --phases async,reconnects --sim-minutes 60

Outside CI; the CI-sized leak checks are ``tests/system/soak/test_leaks.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import inspect
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil

from tickwire import AsyncStreamClient, Backoff, StreamClient, __version__
from tickwire.events import Disconnected, Event
from tickwire.polymarket_us.client import PolymarketClient
from tickwire.stream.consumer import StreamConsumer
from tickwire.stream.metrics import MetricsSnapshot

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
KEY = "soak-key"
DESIRED = ("T.*", "Q.*")
QUEUE_SIZE = 10_000
MiB = 1024 * 1024
DETECT_SILENCE = 2.0
"""``stale_timeout`` (Massive) and ``heartbeat_timeout`` (Polymarket): how soon a mute socket is dropped."""

# A fault: a name and the simulator calls that make it, as (target, method, args).
Call = tuple[str, str, tuple[Any, ...]]
Fault = tuple[str, list[Call]]

MASSIVE_FAULTS: list[Fault] = [
    ("drop (1006)", [("massive", "drop", ())]),
    ("close 1000", [("massive", "close", (1000,))]),
    ("garbage frame", [("massive", "send_raw", ("\x00 not json {",))]),
    ("close 1001", [("massive", "close", (1001,))]),
    ("truncated JSON", [("massive", "send_raw", ('[{"ev":"T","sym":"AAPL","p":1',))]),
    ("close 1011", [("massive", "close", (1011,))]),
    ("unknown event type", [("massive", "send_raw", ('[{"ev":"ZZ","sym":"AAPL"}]',))]),
    ("slow_consumer", [("massive", "send_status", ("slow_consumer", "soak: too slow", 1000))]),
    ("force_disconnect", [("massive", "send_status", ("force_disconnect", "soak", 1000))]),
    ("refused handshakes (503 x2)", [("massive", "refuse_handshakes", (503, 2)), ("massive", "drop", ())]),
    ("mute socket", [("massive", "mute", ())]),
    ("server restart", [("massive", "restart", ())]),
]
PM_FAULTS: list[Fault] = [
    ("drop (1006)", [("polymarket", "drop", ())]),
    ("close 1000", [("polymarket", "close", (1000,))]),
    ("garbage frame", [("polymarket", "send_raw", ("\x00 not json {",))]),
    ("close 1011", [("polymarket", "close", (1011,))]),
    ("mute socket", [("polymarket", "mute", ())]),
    (
        "refused handshakes (503 x2)",
        [("polymarket", "refuse_handshakes", (503, 2)), ("polymarket", "drop", ())],
    ),
]
NOT_DISRUPTIVE = {"garbage frame", "truncated JSON", "unknown event type"}
# Back-to-back reconnects: every fault ends the connection at once (no mute, no restart).
MASSIVE_RECONNECT_FAULTS: list[Fault] = [
    ("drop (1006)", [("massive", "drop", ())]),
    ("close 1000", [("massive", "close", (1000,))]),
    ("close 1001", [("massive", "close", (1001,))]),
    ("close 1011", [("massive", "close", (1011,))]),
    ("slow_consumer", [("massive", "send_status", ("slow_consumer", "soak: too slow", 1000))]),
    ("force_disconnect", [("massive", "send_status", ("force_disconnect", "soak", 1000))]),
    ("refused handshake (503)", [("massive", "refuse_handshakes", (503, 1)), ("massive", "drop", ())]),
]
PM_RECONNECT_FAULTS: list[Fault] = [
    ("drop (1006)", [("polymarket", "drop", ())]),
    ("close 1000", [("polymarket", "close", (1000,))]),
    ("close 1011", [("polymarket", "close", (1011,))]),
    ("refused handshake (503)", [("polymarket", "refuse_handshakes", (503, 1)), ("polymarket", "drop", ())]),
]


# ---------------------------------------------------------------------------------------- simulator


def _portable(value: Any) -> Any:
    """A simulator answer as plain data for the pipe."""
    if isinstance(value, frozenset | set):
        return sorted(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, list):
        return [_portable(v) for v in value]
    return value


async def _serve(conn: Connection, options: dict[str, Any]) -> None:
    from tickwire.sim import MassiveSimulator
    from tickwire.sim.polymarket import attach_polymarket

    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[str, str, tuple[Any, ...]]] = asyncio.Queue()

    def readable() -> None:
        try:
            inbox.put_nowait(conn.recv())
        except EOFError:  # the soak process is gone
            loop.remove_reader(conn.fileno())
            inbox.put_nowait(("exit", "", ()))

    async with MassiveSimulator(**options["massive"]) as massive:
        pm = attach_polymarket(massive, announce=None, **options["polymarket"])
        targets = {"massive": massive, "polymarket": pm}
        loop.add_reader(conn.fileno(), readable)
        conn.send(
            {"url": massive.url, "key_id": pm.key_id, "secret_key": pm.secret_key, "markets": pm.markets}
        )
        while True:
            target, method, args = await inbox.get()
            if target == "exit":
                break
            try:
                value = getattr(targets[target], method)
                if callable(value):
                    value = value(*args)
                if inspect.isawaitable(value):
                    value = await value
                conn.send(("ok", _portable(value)))
            except Exception as exc:
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
        await pm.aclose()


def _sim_main(conn: Connection, options: dict[str, Any]) -> None:
    asyncio.run(_serve(conn, options))


class SimProcess:
    """The simulator in a child process; :meth:`call` runs one of its methods there."""

    def __init__(self, options: dict[str, Any]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_sim_main, args=(child, options), name="tickwire-soak-sim", daemon=True
        )
        self.info: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        self.process.start()
        if not self.conn.poll(60):
            raise RuntimeError("the simulator process did not start")
        self.info = self.conn.recv()
        return self.info

    async def call(self, target: str, method: str, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[tuple[str, Any]] = loop.create_future()
        fd = self.conn.fileno()

        def readable() -> None:
            loop.remove_reader(fd)
            if not answer.done():
                answer.set_result(self.conn.recv())

        loop.add_reader(fd, readable)
        self.conn.send((target, method, args))
        try:
            status, value = await asyncio.wait_for(answer, 30)
        finally:
            loop.remove_reader(fd)
        if status != "ok":
            raise RuntimeError(f"simulator {target}.{method}{args}: {value}")
        return value

    def stop(self) -> None:
        if self.process.is_alive():
            self.conn.send(("exit", "", ()))
            self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# ---------------------------------------------------------------------------------------- clients


def own_tasks(loop: asyncio.AbstractEventLoop | None = None) -> int:
    """Tasks of ``loop`` (the running one by default), less this script's own (named ``soak-...``)."""
    if loop is None:
        loop = asyncio.get_running_loop()
    if loop.is_closed():
        return 0
    return sum(1 for t in asyncio.all_tasks(loop) if not t.get_name().startswith("soak-"))


class Subject:
    """A client under test: start, close, count what it delivers, report its metrics and tasks."""

    kind = ""

    def __init__(self) -> None:
        self.events = 0
        self.controls: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()  # Disconnected.reason

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def metrics(self) -> MetricsSnapshot:
        raise NotImplementedError

    def tasks(self) -> int:
        return own_tasks()

    def count(self, ev: Event) -> None:
        tag = ev.event_type
        if tag in ("connected", "disconnected", "reconnected", "decode_error", "raw", "dropped", "status"):
            self.controls[tag] += 1
            if isinstance(ev, Disconnected):
                self.reasons[ev.reason] += 1
        else:
            self.events += 1


class AsyncSubject(Subject):
    """``AsyncStreamClient`` or ``PolymarketClient``, consumed with ``batches()`` in a task."""

    def __init__(
        self, kind: str, make: Callable[[], StreamConsumer], subscribe: Callable[[Any], Any]
    ) -> None:
        super().__init__()
        self.kind = kind
        self.client = make()
        self._subscribe = subscribe
        self._consumer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._subscribe(self.client)
        await self.client.start()
        self._consumer = asyncio.get_running_loop().create_task(self._consume(), name="tickwire-consumer")

    async def _consume(self) -> None:
        count = self.count
        async for batch in self.client.batches():
            for ev in batch:
                count(ev)

    async def close(self) -> None:
        await self.client.close()
        if self._consumer is not None:
            await asyncio.wait_for(self._consumer, 10)  # ends with the stream

    def metrics(self) -> MetricsSnapshot:
        return self.client.metrics()


class ThreadedSubject(Subject):
    """The callback ``StreamClient`` with typed events; handlers run on its dispatch thread."""

    kind = "StreamClient (threaded)"

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        super().__init__()
        self.client = StreamClient(
            KEY, "stocks", host=url, on_message=self.count, on_status=self.count, messages="events", **options
        )

    async def start(self) -> None:
        self.client.subscribe(*DESIRED)
        self.client.start_stream_thread()

    async def close(self) -> None:
        self.client.close_stream()  # blocks until its threads end (no executor: it would add threads)

    def metrics(self) -> MetricsSnapshot:
        return self.client.metrics()

    def tasks(self) -> int:
        loop = self.client._loop  # the private loop of its I/O thread
        return 0 if loop is None or not self.client.is_alive else own_tasks(loop)


# ---------------------------------------------------------------------------------------- sampling


@dataclass
class Resources:
    tasks: int
    threads: int
    fds: int
    rss_mib: float


@dataclass
class Sample:
    t: float
    rss_mib: float
    tasks: int
    threads: int
    fds: int
    queue: int
    events: int
    reconnects: int


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class PhaseResult:
    phase: str
    client: str
    wall_s: float
    sim_minutes: float
    events: int
    reconnects: int
    before: Resources
    first_connection: Resources
    end: Resources
    after_close: Resources
    rss_growth_mib: float | None = None
    faults: dict[str, int] = field(default_factory=dict)
    controls: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def peak(self, name: str) -> float:
        values = [getattr(s, name) for s in self.samples] + [
            getattr(self.end, name),
            getattr(self.first_connection, name),
        ]
        return float(max(values))


PROC = psutil.Process()


def resources(subject: Subject | None) -> Resources:
    tasks = subject.tasks() if subject is not None else own_tasks()
    return Resources(tasks, PROC.num_threads(), PROC.num_fds(), PROC.memory_info().rss / MiB)


def sample(subject: Subject, t0: float) -> Sample:
    r = resources(subject)
    m = subject.metrics()
    return Sample(
        round(time.monotonic() - t0, 2),
        round(r.rss_mib, 2),
        r.tasks,
        r.threads,
        r.fds,
        m.queue_depth,
        subject.events,
        m.reconnects,
    )


async def sample_loop(subject: Subject, samples: list[Sample], t0: float, every: float) -> None:
    while True:
        samples.append(sample(subject, t0))
        await asyncio.sleep(every)


async def until(predicate: Callable[[], bool], within: float, what: str, poll: float = 0.001) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(poll)


async def streaming(subject: Subject, within: float = 30.0) -> None:
    """Connected, and events arriving."""
    await until(lambda: subject.metrics().connected, within, "the client to stream", 0.01)
    n = subject.events
    await until(lambda: subject.events > n, within, "events", 0.01)


def rss_growth(samples: Sequence[Sample], warmup: float) -> tuple[float, float, float]:
    """(first, last, growth) in MiB: medians of the first and last 10 % of the samples after ``warmup`` s."""
    steady = [s.rss_mib for s in samples if s.t >= warmup] or [s.rss_mib for s in samples]
    k = max(1, len(steady) // 10)
    first, last = statistics.median(steady[:k]), statistics.median(steady[-k:])
    return first, last, last - first


def resource_checks(result: PhaseResult, *, tasks_slack: int, fds_slack: int) -> None:
    ref, end, after, before = result.first_connection, result.end, result.after_close, result.before
    checks = result.checks
    checks.append(
        Check(
            "tasks bounded",
            result.peak("tasks") <= ref.tasks + tasks_slack,
            f"max {result.peak('tasks'):g} (streaming {ref.tasks} + {tasks_slack})",
        )
    )
    checks.append(
        Check(
            "threads bounded",
            result.peak("threads") <= ref.threads,
            f"max {result.peak('threads'):g} (streaming {ref.threads})",
        )
    )
    checks.append(
        Check(
            "fds bounded",
            result.peak("fds") <= ref.fds + fds_slack,
            f"max {result.peak('fds'):g} (streaming {ref.fds} + {fds_slack})",
        )
    )
    checks.append(
        Check(
            "tasks/threads/fds at the end not above the first connection's",
            within(end, ref),
            f"{end.tasks}/{end.threads}/{end.fds} vs {ref.tasks}/{ref.threads}/{ref.fds}",
        )
    )
    checks.append(
        Check(
            "nothing left after close",
            within(after, before),
            f"{fmt_res(after)} vs {fmt_res(before)} before (tasks / threads / fds)",
        )
    )


async def steady(subject: Subject | None) -> Resources:
    """Tasks, threads and fds, each the highest seen over 0.2 s (on Python 3.11 ``wait_for()`` runs its
    awaitable in a task of its own that comes and goes, so one reading can be one low); RSS now."""
    peak = resources(subject)
    for _ in range(40):
        await asyncio.sleep(0.005)
        r = resources(subject)
        peak = Resources(
            max(peak.tasks, r.tasks), max(peak.threads, r.threads), max(peak.fds, r.fds), r.rss_mib
        )
    return peak


def within(r: Resources, ref: Resources) -> bool:
    return r.tasks <= ref.tasks and r.threads <= ref.threads and r.fds <= ref.fds


async def settled(subject: Subject | None, ref: Resources, wait: float = 3.0) -> Resources:
    """The steady resources once no higher than ``ref``, or after ``wait`` s (a closing socket's fd
    goes after its last callback, an ending thread after its last line): a leak stays."""
    deadline = time.monotonic() + wait
    while True:
        r = await steady(subject)
        if within(r, ref) or time.monotonic() > deadline:
            return r


# ---------------------------------------------------------------------------------------- phases


async def soak_phase(
    phase: str,
    subject: Subject,
    sim: SimProcess,
    faults: list[Fault],
    *,
    duration: float,
    sim_minutes: float,
    fault_every: float,
    sample_every: float,
    max_rss_growth: float,
    subscriptions_check: bool,
) -> PhaseResult:
    before = await steady(None)
    await subject.start()
    await streaming(subject)
    await asyncio.sleep(1.0)
    first = await steady(subject)
    samples: list[Sample] = []
    t0 = time.monotonic()
    sampler = asyncio.get_running_loop().create_task(
        sample_loop(subject, samples, t0, sample_every), name="soak-sampler"
    )
    injected: Counter[str] = Counter()
    delivered: Counter[str] = Counter()
    i = 0
    next_fault = t0 + fault_every
    while time.monotonic() < t0 + duration:
        if time.monotonic() >= next_fault:
            name, calls = faults[i % len(faults)]
            i += 1
            next_fault += fault_every
            reached = False  # whether it hit a connection (a frame sent while reconnecting is lost)
            for target, method, args in calls:
                value = await sim.call(target, method, *args)
                reached = reached or method == "restart" or (isinstance(value, int) and value > 0)
            injected[name] += 1
            delivered[name] += reached
        await asyncio.sleep(min(0.1, max(0.0, next_fault - time.monotonic())))
    wall = time.monotonic() - t0
    await streaming(subject)  # the last fault has healed
    sampler.cancel()
    end = await settled(subject, first)
    m = subject.metrics()
    result = PhaseResult(
        phase,
        subject.kind,
        round(wall, 1),
        sim_minutes,
        subject.events,
        m.reconnects,
        before,
        first,
        end,
        before,
        faults=dict(injected),
        controls=dict(subject.controls),
        reasons=dict(subject.reasons),
        metrics=_metrics_dict(m),
        samples=samples,
    )
    first_mib, last_mib, growth = rss_growth(samples, warmup=max(30.0, duration / 10))
    result.rss_growth_mib = round(growth, 2)
    checks = result.checks
    checks.append(
        Check(
            "RSS growth",
            growth <= max_rss_growth,
            f"{first_mib:.1f} -> {last_mib:.1f} MiB ({growth:+.2f}, bound {max_rss_growth:g})",
        )
    )
    checks.append(
        Check(
            "queue bounded",
            max(s.queue for s in samples) <= QUEUE_SIZE,
            f"max depth {max(s.queue for s in samples)} of {QUEUE_SIZE}",
        )
    )
    disruptive = sum(n for f, n in delivered.items() if f not in NOT_DISRUPTIVE)
    resumed = subject.controls["reconnected"]
    checks.append(
        Check(
            "every disconnect reported and healed",
            resumed >= disruptive and m.connected,
            f"{disruptive} disruptive faults delivered, {resumed} Reconnected events, "
            f"{subject.controls['disconnected']} Disconnected",
        )
    )
    tail = [s.events for s in samples[-max(3, len(samples) // 10) :]]
    checks.append(
        Check(
            "streaming at the end", tail[-1] > tail[0], f"{tail[-1] - tail[0]:,} events in the last samples"
        )
    )
    bad_frames = delivered["garbage frame"] + delivered["truncated JSON"]
    checks.append(
        Check(
            "bad frames counted",
            m.decode_errors >= bad_frames,
            f"{m.decode_errors} decode errors for {bad_frames} bad frames delivered",
        )
    )
    if subscriptions_check:
        subs = set(await sim.call("massive", "subscriptions", "stocks"))
        checks.append(Check("resubscribed set = desired", subs == set(DESIRED), f"server has {sorted(subs)}"))
    await subject.close()
    result.after_close = await settled(None, before)
    resource_checks(result, tasks_slack=3, fds_slack=4)
    return result


def _metrics_dict(m: MetricsSnapshot) -> dict[str, Any]:
    return {name: getattr(m, name) for name in m.__struct_fields__}


async def reconnect_phase(
    subject: Subject, sim: SimProcess, faults: list[Fault], n: int, target: str
) -> PhaseResult:
    before = await steady(None)
    await subject.start()
    await streaming(subject)
    first = await steady(subject)
    samples: list[Sample] = []
    t0 = time.monotonic()
    injected: Counter[str] = Counter()
    for i in range(n):
        name, calls = faults[i % len(faults)]
        r0 = subject.metrics().reconnects
        for tgt, method, args in calls:
            await sim.call(tgt, method, *args)
        injected[name] += 1

        def back(r0: int = r0) -> bool:
            return subject.metrics().reconnects > r0 and subject.metrics().connected

        await until(
            back,
            10.0,
            f"reconnect {i + 1} ({name})",
        )
        if (i + 1) % max(1, n // 20) == 0:
            samples.append(sample(subject, t0))
    wall = time.monotonic() - t0
    await streaming(subject)
    end = await settled(subject, first)
    m = subject.metrics()
    live = await sim.call(target, "connections")
    result = PhaseResult(
        "reconnects",
        subject.kind,
        round(wall, 1),
        0.0,
        subject.events,
        m.reconnects,
        before,
        first,
        end,
        before,
        faults=dict(injected),
        controls=dict(subject.controls),
        reasons=dict(subject.reasons),
        metrics=_metrics_dict(m),
        samples=samples,
    )
    result.rss_growth_mib = round(end.rss_mib - first.rss_mib, 2)
    result.checks.append(Check(f"{n} reconnects", m.reconnects >= n, f"{m.reconnects} counted"))
    result.checks.append(
        Check("one server-side connection", len(live) == 1, f"{len(live)} open on the server")
    )
    await subject.close()
    result.after_close = await settled(None, before)
    resource_checks(result, tasks_slack=3, fds_slack=2)
    return result


# ---------------------------------------------------------------------------------------- report


def fmt_res(r: Resources) -> str:
    return f"{r.tasks} / {r.threads} / {r.fds}"


def render(
    results: list[PhaseResult], args: argparse.Namespace, command: str, sim_info: dict[str, Any], started: str
) -> str:
    lines = [
        "# Soak run",
        "",
        f"`{command}` — {started}, tickwire {__version__}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs (shared with other work), "
        "simulator in a child process; the client process is the one measured.",
        "",
        f"Massive stream: stocks `T.*` + `Q.*`, {args.rate:g} trades/s per ticker (market time), "
        f"speed {args.speed:g}x, a fault every {args.fault_every:g} s (wall). "
        f"Polymarket US: markets socket, books and trades of {len(sim_info.get('markets', []))} markets.",
        "",
        "## Streaming with periodic faults",
        "",
        "| phase | client | simulated time | wall time | events | events/s | faults | reconnects "
        "| RSS first → end (peak), MiB | RSS growth (steady) | max tasks / threads / fds | max queue "
        "| result |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---|",
    ]
    for r in results:
        if r.phase == "reconnects":
            continue
        sim_time = f"{r.sim_minutes:.1f} min" if r.sim_minutes else f"{r.wall_s / 60:.1f} min"
        lines.append(
            f"| {r.phase} | {r.client} | {sim_time} | {r.wall_s / 60:.1f} min | {r.events:,} | "
            f"{r.events / r.wall_s:,.0f} | {sum(r.faults.values())} | {r.reconnects} | "
            f"{r.first_connection.rss_mib:.1f} → {r.end.rss_mib:.1f} ({r.peak('rss_mib'):.1f}) | "
            f"{r.rss_growth_mib:+.2f} MiB | "
            f"{r.peak('tasks'):g} / {r.peak('threads'):g} / {r.peak('fds'):g} | "
            f"{max((s.queue for s in r.samples), default=0):,} | {'pass' if r.ok else '**FAIL**'} |"
        )
    recon = [r for r in results if r.phase == "reconnects"]
    if recon:
        lines += [
            "",
            "## Back-to-back reconnects",
            "",
            "Tasks / threads / fds before the client, at its first connection, after the last reconnect "
            "(still streaming), and after `close`. `reconnects` is `metrics().reconnects`, which counts "
            "every attempt after a disconnect: a refused handshake adds one.",
            "",
            "| client | reconnects | wall time | before | first connection | after reconnects | after close "
            "| RSS first → after, MiB | result |",
            "|---|---:|---:|---|---|---|---|---|---|",
        ]
        for r in recon:
            lines.append(
                f"| {r.client} | {r.reconnects:,} | {r.wall_s:.1f} s | {fmt_res(r.before)} | "
                f"{fmt_res(r.first_connection)} | {fmt_res(r.end)} | {fmt_res(r.after_close)} | "
                f"{r.first_connection.rss_mib:.1f} → {r.end.rss_mib:.1f} ({r.rss_growth_mib:+.2f}) | "
                f"{'pass' if r.ok else '**FAIL**'} |"
            )
    lines += ["", "## Faults injected", ""]
    for r in results:
        faults = ", ".join(f"{name} x{n}" for name, n in r.faults.items())
        reasons = ", ".join(f"{name} x{n}" for name, n in sorted(r.reasons.items()))
        lines.append(f"* {r.phase} / {r.client}: {faults}; disconnect reasons seen: {reasons}")
    lines += ["", "## Checks", ""]
    for r in results:
        for c in r.checks:
            lines.append(f"* {'pass' if c.ok else '**FAIL**'} — {r.phase} / {r.client}: {c.name}: {c.detail}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------- main


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phases", default="async,threaded,polymarket,reconnects")
    p.add_argument("--sim-minutes", type=float, default=30.0, help="market time of each Massive phase")
    p.add_argument("--speed", type=float, default=6.0, help="market time / wall time")
    p.add_argument(
        "--rate", type=float, default=100.0, help="mean trades per second per ticker (market time)"
    )
    p.add_argument(
        "--pm-seconds", type=float, default=300.0, help="wall (= simulated) time of the Polymarket phase"
    )
    p.add_argument("--fault-every", type=float, default=5.0, help="wall seconds between faults")
    p.add_argument("--sample-every", type=float, default=1.0)
    p.add_argument(
        "--reconnects", type=int, default=1000, help="reconnects per client in the reconnect phase"
    )
    p.add_argument("--max-rss-growth-mib", type=float, default=8.0)
    p.add_argument("--quick", action="store_true", help="a short smoke run (2 simulated min, 100 reconnects)")
    p.add_argument(
        "--out", type=Path, default=None, help="markdown report (default results/soak.md; none with --quick)"
    )
    args = p.parse_args(argv)
    if args.fault_every < 2 * DETECT_SILENCE:
        p.error(
            f"--fault-every must be >= {2 * DETECT_SILENCE:g} s "
            f"(a mute socket is detected after {DETECT_SILENCE:g} s)"
        )
    if args.quick:
        args.sim_minutes, args.pm_seconds, args.reconnects = 3.0, 30.0, 100
    elif args.out is None:
        args.out = RESULTS / "soak.md"
    return args


async def run(args: argparse.Namespace, sim: SimProcess) -> list[PhaseResult]:
    asyncio.current_task().set_name("soak-main")  # type: ignore[union-attr]
    info = sim.info
    url, phases = info["url"], args.phases.split(",")
    soak_options: dict[str, Any] = {
        "backoff": Backoff(base=0.05, cap=2.0),
        "stable_after": 5.0,
        "ping_interval": 2.0,
        "ping_timeout": 4.0,
        "queue_size": QUEUE_SIZE,
        "dotenv_path": None,
    }
    fast_options = {
        **soak_options,
        "backoff": Backoff(base=0.002, cap=0.005, minimum=0.001),
        "stable_after": 1e9,
    }
    massive: dict[str, Any] = {"stale_timeout": DETECT_SILENCE, "max_connections_cooldown": 1.0}
    duration = args.sim_minutes * 60 / args.speed

    def async_subject(options: dict[str, Any]) -> AsyncSubject:
        return AsyncSubject(
            "AsyncStreamClient",
            lambda: AsyncStreamClient(KEY, "stocks", url=url, **options, **massive),
            lambda c: c.subscribe(*DESIRED),
        )

    def pm_subject(options: dict[str, Any]) -> AsyncSubject:
        async def subscribe(c: PolymarketClient) -> None:
            await c.subscribe_market_data(*info["markets"])
            await c.subscribe_trades(*info["markets"])

        return AsyncSubject(
            "PolymarketClient",
            lambda: PolymarketClient(
                "markets",
                info["key_id"],
                info["secret_key"],
                base_url=url,
                heartbeat_timeout=DETECT_SILENCE,
                **options,
            ),
            subscribe,
        )

    common = {
        "fault_every": args.fault_every,
        "sample_every": args.sample_every,
        "max_rss_growth": args.max_rss_growth_mib,
    }
    results: list[PhaseResult] = []

    def report(r: PhaseResult) -> None:
        results.append(r)
        status = (
            "pass" if r.ok else "FAIL: " + "; ".join(f"{c.name} ({c.detail})" for c in r.checks if not c.ok)
        )
        print(
            f"[soak] {r.phase} / {r.client}: {r.events:,} events, {r.reconnects} reconnects "
            f"in {r.wall_s:.0f} s, "
            f"RSS {r.first_connection.rss_mib:.1f} -> {r.end.rss_mib:.1f} MiB: {status}",
            flush=True,
        )

    if "async" in phases:
        report(
            await soak_phase(
                "async",
                async_subject(soak_options),
                sim,
                MASSIVE_FAULTS,
                duration=duration,
                sim_minutes=args.sim_minutes,
                subscriptions_check=True,
                **common,
            )
        )
    if "threaded" in phases:
        subject = ThreadedSubject(url, {**soak_options, **massive})
        report(
            await soak_phase(
                "threaded",
                subject,
                sim,
                MASSIVE_FAULTS,
                duration=duration,
                sim_minutes=args.sim_minutes,
                subscriptions_check=True,
                **common,
            )
        )
    if "polymarket" in phases:
        report(
            await soak_phase(
                "polymarket",
                pm_subject(soak_options),
                sim,
                PM_FAULTS,
                duration=args.pm_seconds,
                sim_minutes=0.0,
                subscriptions_check=False,
                **common,
            )
        )
    if "reconnects" in phases:
        n = args.reconnects
        report(
            await reconnect_phase(async_subject(fast_options), sim, MASSIVE_RECONNECT_FAULTS, n, "massive")
        )
        threaded = ThreadedSubject(url, {**fast_options, **massive})
        report(await reconnect_phase(threaded, sim, MASSIVE_RECONNECT_FAULTS, n, "massive"))
        report(await reconnect_phase(pm_subject(fast_options), sim, PM_RECONNECT_FAULTS, n, "polymarket"))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    command = "python3 benchmarks/soak.py" + (
        ""
        if argv is None and len(sys.argv) == 1
        else " " + " ".join(argv if argv is not None else sys.argv[1:])
    )
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sim = SimProcess(
        {
            "massive": {
                "seed": 1,
                "rate": args.rate,
                "speed": args.speed,
                "tick_interval": 0.02,
                "max_connections": None,
                "close_timeout": 0.5,
                "auth_timeout": 5.0,
            },
            "polymarket": {"tick_interval": 0.005, "heartbeat_interval": 0.5, "close_timeout": 0.5},
        }
    )
    sim.start()
    try:
        results = asyncio.run(run(args, sim))
    finally:
        sim.stop()
    text = render(results, args, command, sim.info, started)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        data = [asdict(r) for r in results]
        args.out.with_suffix(".json").write_text(json.dumps(data, indent=1, default=str))
        print(f"written to {args.out} and {args.out.with_suffix('.json')}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
