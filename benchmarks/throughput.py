"""Throughput benchmark: tickwire vs the official ``massive`` client vs a bare picows+msgspec loop.

One local stream (``stream_server.py``, pinned to CPU 1) serves every client the same pre-encoded
bytes; each client runs in a fresh process pinned to CPU 0 (``bench_clients.py``). Repetitions
are interleaved (outer loop: repetition, inner loop: client) and each cell is the median. The
result is a markdown table printed on stdout and written to ``benchmarks/results/throughput.md``
(``throughput-quick.md`` with ``--quick``), plus the raw runs as JSON next to it.

    python benchmarks/throughput.py            # full run: B=50 (N=1,000,000) and B=1 (N=200,000), 3 reps
    python benchmarks/throughput.py --quick    # smoke run, well under a minute
    python benchmarks/throughput.py --profile  # one cProfile run per client -> results/profiles/

See ``benchmarks/README.md`` for how to read the numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import pstats
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
CLIENTS = (
    "bare",
    "massive",
    "tickwire_async_for",
    "tickwire_batches",
    "tickwire_handler",
    "polygon_stream",
    "tickwire_threaded_raw",
    "tickwire_threaded",
)
UVLOOP_CLIENTS = tuple(
    f"{c}_uvloop" for c in ("bare", "tickwire_async_for", "tickwire_batches", "tickwire_handler")
)  # the same clients on uvloop's event loop (tickwire[uvloop]); in the default run when it is installed
PURE_CLIENTS = tuple(
    f"{c}_pure" for c in ("tickwire_async_for", "tickwire_batches", "tickwire_handler", "tickwire_threaded")
)  # the same clients without tickwire's C code (TICKWIRE_PURE_PYTHON=1): what it buys, in one run
PM_CLIENTS = ("pm_bare", "pm_tickwire", "pm_sdk")  # the Polymarket US book stream
CALLBACK_CLIENTS = ("tickwire_threaded_raw", "tickwire_threaded")  # compared with polygon_stream
EXTRA_CLIENTS = ("bare_queue", "bare_queue_raw")  # diagnostics, only with --clients
TICKWIRE_CLIENTS = tuple(c for c in CLIENTS if c.startswith("tickwire"))
DEFAULT_N = {50: 1_000_000, 1: 200_000}
QUICK_N = {50: 100_000, 1: 20_000}
PM_N, PM_QUICK_N = 100_000, 10_000  # book frames (~1.4 KB, 10 levels a side)
TARGET_VS_BARE = 0.80
TARGET_VS_MASSIVE = {50: 8.0, 1: 13.0}
PACKAGES = (
    "tickwire",
    "picows",
    "msgspec",
    "massive",
    "websockets",
    "polygon",
    "websocket-client",
    "polymarket-us",
)


@dataclass
class Run:
    """One client process: its measurement (``RESULT`` line) and how it ended."""

    client: str
    batch: int
    n: int
    rep: int
    ok: bool
    error: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    closed: dict[str, Any] | None = None
    rc: int | None = None
    elapsed_s: float = 0.0


# --- processes ------------------------------------------------------------------------------


class Server:
    """``stream_server.py`` for one (kind, N, B), restarted on demand (e.g. after a failed client)."""

    def __init__(
        self, n: int, batch: int, cpu: int, verbose: bool, kind: str = "massive", rate: float = 0.0
    ) -> None:
        self.n, self.batch, self.cpu, self.verbose, self.kind, self.rate = n, batch, cpu, verbose, kind, rate
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self, timeout: float = 120.0) -> None:
        """Spawn the server and wait for its ``READY <port>`` line."""
        cmd = [sys.executable, str(HERE / "stream_server.py"), "--n", str(self.n), "--batch", str(self.batch)]
        cmd += ["--cpu", str(self.cpu), "--kind", self.kind, "--rate", str(self.rate)]
        cmd += ["--verbose"] if self.verbose else []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=HERE)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("READY "):
                    self.port = int(line.split()[1])
                    return
                if not line:
                    break
        self.stop()
        raise RuntimeError(f"stream_server (N={self.n}, B={self.batch}) did not start")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Terminate the server process this object started."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def run_client(
    name: str,
    server: Server,
    rep: int,
    *,
    cpu: int,
    timeout: float,
    profile: Path | None = None,
    script: str = "bench_clients.py",
    wrapper: Sequence[str] = (),
) -> Run:
    """Run one client process against ``server``; kill it after ``timeout`` s and record why it failed.
    ``wrapper`` is a command the client runs under (``instructions.py``: valgrind)."""
    n, batch = server.n, server.batch
    cmd = [*wrapper, sys.executable, str(HERE / script), name, "--port", str(server.port)]
    cmd += ["--n", str(n), "--batch", str(batch), "--cpu", str(cpu)]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    run = Run(name, batch, n, rep, ok=False)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        out, err = proc.communicate()
    run.elapsed_s = time.perf_counter() - t0
    run.rc = proc.returncode
    for line in out.splitlines():
        tag, _, payload = line.partition(" ")
        if tag == "RESULT":
            run.result = json.loads(payload)
        elif tag == "CLOSED":
            run.closed = json.loads(payload)
    err_tail = " | ".join(ln.strip() for ln in err.strip().splitlines()[-3:])
    res = run.result
    if not res:
        why = f"killed after {timeout:g} s timeout" if timed_out else f"exit code {proc.returncode}"
        run.error = f"no result ({why}){': ' + err_tail if err_tail else ''}"
    elif res["count"] != n or res["last_q"] != n:
        run.error = f"wrong data: count={res['count']}, last q={res['last_q']} (want {n})"
    elif timed_out or run.closed is None:
        why = f"killed after {timeout:g} s" if timed_out else f"exit code {proc.returncode}"
        run.error = f"measured, but did not close cleanly ({why}){': ' + err_tail if err_tail else ''}"
    elif proc.returncode != 0:
        run.error = f"exit code {proc.returncode}: {err_tail}"
    else:
        run.ok = True
    return run


# --- summary ------------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    """nproc, CPU model, kernel, Python, package versions and the tickwire source state."""
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    for pkg in PACKAGES:
        try:
            info[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            info[pkg] = "not installed"
    info["tickwire source"] = _source_state()
    from tickwire import speedups

    info["tickwire C pass"] = "built" if speedups.available() else "not built (pure Python)"
    return info


def _source_state() -> str:
    """Git commit of the repo plus a hash of ``src/`` (others may be editing it uncommitted)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "?", ""
    h = hashlib.sha256()
    for p in sorted((ROOT / "src").rglob("*.py")):
        h.update(p.relative_to(ROOT).as_posix().encode() + b"\0" + p.read_bytes())
    return f"git {commit}{' + uncommitted changes' if dirty else ''}, src sha256 {h.hexdigest()[:12]}"


def _cell(runs: list[Run]) -> dict[str, float] | None:
    ok = [r.result for r in runs if r.ok]
    if not ok:
        return None
    return {
        "ev": statistics.median(r["ev_per_s"] for r in ok),
        "min": min(r["ev_per_s"] for r in ok),
        "max": max(r["ev_per_s"] for r in ok),
        "us": statistics.median(r["us_cpu_per_event"] for r in ok),
        "cpu": statistics.median(r["cpu_s"] for r in ok),
        "rss": statistics.median(r["rss_mb"] for r in ok),
        "gc": statistics.median(r.get("gc_s", 0.0) for r in ok),
        "util": statistics.median(r.get("cpu_per_wall", 1.0) for r in ok),
    }


def _ratio(a: float | None, b: float | None, pct: bool = False) -> str:
    if not a or not b:
        return "n/a"
    return f"{a / b:.0%}" if pct else f"{a / b:.2f}x"


def summarize(
    runs: list[Run],
    settings: dict[str, Any],
    info: dict[str, str],
    floors: dict[int, dict[str, float]] | None = None,
) -> str:
    """The markdown report: settings, machine, the table, the targets, the interpreter's floor
    under them (``floors``: :func:`measure_floor` per B) and any failures."""
    pm_runs = [r for r in runs if r.client in PM_CLIENTS]
    all_runs, runs = runs, [r for r in runs if r.client not in PM_CLIENTS]
    batches = list(dict.fromkeys(r.batch for r in runs))
    clients = list(dict.fromkeys(r.client for r in runs))
    cells = {
        (c, b): _cell([r for r in runs if r.client == c and r.batch == b]) for c in clients for b in batches
    }

    def ev(c: str, b: int) -> float | None:
        cell = cells.get((c, b))
        return cell["ev"] if cell else None

    def us(c: str, b: int) -> float | None:
        cell = cells.get((c, b))
        return cell["us"] if cell else None

    lines = [
        "# Throughput: tickwire vs massive vs a bare picows+msgspec loop",
        "",
        f"Run {info['date']} with `{settings['command']}`.",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items() if k != "date") + ".",
        "",
        f"Stream: Polygon `T` events (~107 bytes each), 8 rotating symbols, `q` = 1..N; server pinned to "
        f"CPU {settings['server_cpu']}, each client a fresh process pinned to CPU {settings['client_cpu']}; "
        f"{settings['reps']} interleaved repetition(s), median shown. ev/s = (N - first frame) / window; "
        "CPU s = `time.process_time()` over the same window; µs CPU/event = CPU s / (N - first frame); "
        "GC s = time in the cyclic garbage collector within the window (`gc.callbacks`), part of CPU s; "
        "CPU/wall below ~0.9 means the client was starved (the shared machine or the server was busy), "
        "so its ev/s understates it; RSS = the client process's peak (`ru_maxrss`). "
        "Ratios compare median ev/s.",
        "",
        "| client | B | N | ok runs | median ev/s | min..max ev/s | µs CPU/event | CPU s (window) "
        "| of which GC s | CPU/wall | peak RSS MB | vs bare | vs massive | vs polygon |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b in batches:
        for c in clients:
            cr = [r for r in runs if r.client == c and r.batch == b]
            cell = cells[(c, b)]
            n = cr[0].n
            okn = f"{sum(r.ok for r in cr)}/{len(cr)}"
            if cell is None:
                lines.append(f"| {c} | {b} | {n:,} | {okn} | FAILED | | | | | | | | | |")
                continue
            lines.append(
                f"| {c} | {b} | {n:,} | {okn} | {cell['ev']:,.0f} | {cell['min']:,.0f}..{cell['max']:,.0f} "
                f"| {cell['us']:.2f} | {cell['cpu']:.2f} | {cell['gc']:.2f} | {cell['util']:.2f} "
                f"| {cell['rss']:.0f} "
                f"| {_ratio(cell['ev'], ev('bare', b), pct=True)} | {_ratio(cell['ev'], ev('massive', b))} "
                f"| {_ratio(cell['ev'], ev('polygon_stream', b))} |"
            )
    lines += [
        "",
        f"Targets (perf.md): tickwire ≥ {TARGET_VS_BARE:.0%} of the bare loop; "
        + "; ".join(f"≥ {x:g}x massive at B={b}" for b, x in TARGET_VS_MASSIVE.items())
        + ".",
        "",
        "| B | client | vs bare | target | vs massive | target | verdict | cross-check on CPU/event: "
        "vs bare, vs massive |",
        "|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for b in batches:
        for c in clients:
            if not c.startswith("tickwire") or c in CALLBACK_CLIENTS or c in UVLOOP_CLIENTS + PURE_CLIENTS:
                continue
            mine, bare, mass = ev(c, b), ev("bare", b), ev("massive", b)
            want_m = TARGET_VS_MASSIVE.get(b)
            checks = []
            if mine and bare:
                checks.append(mine / bare >= TARGET_VS_BARE)
            if mine and mass and want_m:
                checks.append(mine / mass >= want_m)
            verdict = "n/a" if not checks else ("meets both" if all(checks) else "MISSES")
            if mine is None:
                verdict = "FAILED"
            lines.append(
                f"| {b} | {c} | {_ratio(mine, bare, pct=True)} | ≥ {TARGET_VS_BARE:.0%} "
                f"| {_ratio(mine, mass)} | {f'≥ {want_m:g}x' if want_m else 'n/a'} | {verdict} "
                f"| {_ratio(us('bare', b), us(c, b), pct=True)}, {_ratio(us('massive', b), us(c, b))} |"
            )
    lines += stability_section(runs, batches, clients)
    lines += uvloop_section(batches, clients, ev)
    lines += pure_section(batches, clients, ev)
    if floors:
        lines += floor_section(floors, us)
    callback = [c for c in clients if c in CALLBACK_CLIENTS]
    if callback and "polygon_stream" in clients:
        lines += [
            "",
            "Callback clients (issue 3): `tickwire.StreamClient` beside `polygon.StreamClient`, the same "
            "handler (`json.loads` of each raw frame) for `tickwire_threaded_raw`, typed events for "
            "`tickwire_threaded`.",
            "",
            "| B | client | ev/s | polygon ev/s | vs polygon | CPU/event vs polygon |",
            "|---:|---|---:|---:|---:|---:|",
        ]
        for b in batches:
            for c in callback:
                mine, theirs = ev(c, b), ev("polygon_stream", b)
                lines.append(
                    f"| {b} | {c} | {mine or 0:,.0f} | {theirs or 0:,.0f} | {_ratio(mine, theirs)} "
                    f"| {_ratio(us('polygon_stream', b), us(c, b))} |"
                )
    if pm_runs:
        lines += pm_section(pm_runs)
        for c in PM_CLIENTS:
            cells[(c, 0)] = _cell([r for r in pm_runs if r.client == c])
    starved = [
        f"{c} B={b}" if b else f"{c} (books)" for (c, b), cell in cells.items() if cell and cell["util"] < 0.9
    ]
    if starved:
        lines += [
            "",
            "Starved (median CPU/wall < 0.9), so ev/s ratios involving them are unreliable; the "
            "CPU/event cross-check is not affected: " + ", ".join(starved) + ".",
        ]
    failures = [r for r in all_runs if not r.ok]
    if failures:
        lines += ["", "Failures:", ""]
        lines += [f"* {r.client} B={r.batch} rep {r.rep}: {r.error}" for r in failures]
    return "\n".join(lines) + "\n"


STABLE_WITHIN = 0.10
"""A ratio counts as reproducible when every repetition's lies within this of the median's."""


def rep_ratios(runs: list[Run], client: str, batch: int, base: str = "bare") -> list[float]:
    """``client``'s ev/s over ``base``'s, repetition by repetition (the two ran back to back)."""
    by_rep: dict[int, dict[str, float]] = {}
    for r in runs:
        if r.ok and r.batch == batch and r.client in (client, base) and r.result.get("ev_per_s"):
            by_rep.setdefault(r.rep, {})[r.client] = float(r.result["ev_per_s"])
    return [got[client] / got[base] for got in by_rep.values() if client in got and base in got]


def stability_section(runs: list[Run], batches: list[int], clients: list[str]) -> list[str]:
    """Each tickwire client's ratio to the bare loop per repetition: the spread says whether the
    median ratio would come out the same in another run (each repetition is one run of every client)."""
    rows = []
    for b in batches:
        for c in clients:
            if not c.startswith("tickwire"):
                continue
            ratios = rep_ratios(runs, c, b)
            if len(ratios) < 2:
                continue
            mid = statistics.median(ratios)
            worst = max(abs(x / mid - 1) for x in ratios)
            verdict = "stable" if worst <= STABLE_WITHIN else "UNSTABLE"
            each = ", ".join(f"{x:.0%}" for x in ratios)
            rows.append(f"| {b} | {c} | {each} | {mid:.0%} | ±{worst:.0%} | {verdict} |")
    if not rows:
        return []
    return [
        "",
        f"Stability: the ratio to the bare loop in each repetition (one run of every client, back to "
        f"back); reproducible when each lies within {STABLE_WITHIN:.0%} of their median.",
        "",
        "| B | client | vs bare per repetition | median | worst deviation | verdict |",
        "|---:|---|---|---:|---:|---|",
        *rows,
    ]


FLOOR_SHAPES = {
    "tickwire_batches": "batches",
    "tickwire_async_for": "async_for",
    "tickwire_handler": "handler",
    "tickwire_threaded": "handler",
}
"""Each front-end's user-side shape in ``floor.py`` (the threaded client calls a handler per event)."""


def measure_floor(batch: int, cpu: int) -> dict[str, float]:
    """``floor.py``'s ns per event of each shape at ``batch``, in a fresh process pinned to ``cpu``."""
    cmd = [sys.executable, str(HERE / "floor.py"), "--batch", str(batch), "--cpu", str(cpu)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=HERE, check=True).stdout
    for line in out.splitlines():
        tag, _, payload = line.partition(" ")
        if tag == "FLOOR":
            return {k: float(v) for k, v in json.loads(payload).items()}
    raise RuntimeError(f"floor.py printed no FLOOR line: {out[-200:]!r}")


def floor_section(floors: dict[int, dict[str, float]], us: Callable[[str, int], float | None]) -> list[str]:
    """What each target leaves once the interpreter's own cost of the front-end's shape is paid:
    the ceiling a front-end would reach if tickwire cost nothing beyond the bare loop."""
    lines = [
        "",
        "The interpreter's floor (`floor.py`, same run, same CPU): what each front-end's user code "
        "costs in CPython with no socket or decode, shaped as tickwire hands events over (with its C "
        "steps when built: a `Flatten` step per frame or per event, a handler call through "
        "`dispatch_single` per event; `json.loads` of a frame). The bare loop runs no Python per "
        "event, so a front-end can reach at most bare / (bare + floor) of it.",
        "",
        "| B | client | floor ns/event | bare µs/event | ceiling vs bare | target | measured "
        "| within reach |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for b, floor in floors.items():
        bare = us("bare", b)
        for client, shape in FLOOR_SHAPES.items():
            mine = us(client, b)
            if bare is None or mine is None:
                continue
            ceiling = bare / (bare + floor[shape] / 1000)
            lines.append(
                f"| {b} | {client} | {floor[shape]:.0f} | {bare:.2f} | {ceiling:.0%} "
                f"| ≥ {TARGET_VS_BARE:.0%} | {bare / mine:.0%} "
                f"| {'yes' if ceiling >= TARGET_VS_BARE else 'no: the floor alone exceeds the budget'} |"
            )
    lines += [
        "",
        "The drop-in callback client runs the same `json.loads` handler as `polygon`; that handler's "
        "cost is in both, so the most tickwire can be ahead is polygon's µs/event over the handler's.",
        "",
        "| B | json.loads ns/event | polygon µs/event | ceiling vs polygon | target | measured |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for b, floor in floors.items():
        poly, raw = us("polygon_stream", b), us("tickwire_threaded_raw", b)
        if poly is None or raw is None:
            continue
        lines.append(
            f"| {b} | {floor['json_loads']:.0f} | {poly:.2f} | {poly / (floor['json_loads'] / 1000):.2f}x "
            f"| ≥ 1.5x | {poly / raw:.2f}x |"
        )
    return lines


def uvloop_section(
    batches: list[int], clients: list[str], ev: Callable[[str, int], float | None]
) -> list[str]:
    """Each client run on uvloop beside itself on asyncio's loop, and against both bare loops."""
    ran = [c for c in UVLOOP_CLIENTS if c in clients]
    if not ran:
        return []
    lines = [
        "",
        "uvloop (`pip install 'tickwire[uvloop]'`): the same client on uvloop's event loop "
        "(`uvloop.run`) beside itself on asyncio's.",
        "",
        "| B | client | asyncio ev/s | uvloop ev/s | uvloop vs asyncio | vs bare (asyncio) "
        "| vs bare (uvloop) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for b in batches:
        for c in ran:
            base = c.removesuffix("_uvloop")
            mine, theirs = ev(c, b), ev(base, b)
            lines.append(
                f"| {b} | {base} | {theirs or 0:,.0f} | {mine or 0:,.0f} | {_ratio(mine, theirs)} "
                f"| {_ratio(mine, ev('bare', b), pct=True)} "
                f"| {_ratio(mine, ev('bare_uvloop', b), pct=True)} |"
            )
    return lines


def pure_section(batches: list[int], clients: list[str], ev: Callable[[str, int], float | None]) -> list[str]:
    """Each client with tickwire's C code beside itself without it (``TICKWIRE_PURE_PYTHON=1``)."""
    ran = [c for c in PURE_CLIENTS if c in clients]
    if not ran:
        return []
    lines = [
        "",
        "C hot path (`tickwire._hotpath`, built by `pip install`): each client beside itself with "
        "`TICKWIRE_PURE_PYTHON=1` (the same Python engine without it), in this run.",
        "",
        "| B | client | pure Python ev/s | with C ev/s | C vs pure | pure vs bare | with C vs bare |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for b in batches:
        for c in ran:
            base = c.removesuffix("_pure")
            pure, mine = ev(c, b), ev(base, b)
            lines.append(
                f"| {b} | {base} | {pure or 0:,.0f} | {mine or 0:,.0f} | {_ratio(mine, pure)} "
                f"| {_ratio(pure, ev('bare', b), pct=True)} | {_ratio(mine, ev('bare', b), pct=True)} |"
            )
    return lines


def pm_section(runs: list[Run]) -> list[str]:
    """The Polymarket US table: book frames through each client, against the bare loop and the SDK."""
    clients = [c for c in PM_CLIENTS if any(r.client == c for r in runs)]
    cells = {c: _cell([r for r in runs if r.client == c]) for c in clients}

    def fps(c: str) -> float | None:
        cell = cells.get(c)
        return cell["ev"] if cell else None

    lines = [
        "",
        "## Polymarket US: order-book frames",
        "",
        f"Stream: {runs[0].n:,} `marketData` frames of the markets socket (one whole book, 10 levels a side, "
        "~1.4 KB), 8 rotating markets. `pm_bare`: picows + one msgspec decode into typed Structs, prices "
        "left as the wire's strings. `pm_tickwire`: `PolymarketClient`, `async for`, `MarketData` events "
        "with `Decimal` prices and the client's books kept (its defaults). `pm_sdk`: the official "
        '`polymarket-us` SDK, `ws.markets().on("market_data", fn)`, one dict per frame.',
        "",
        "| client | ok runs | median frames/s | min..max frames/s | µs CPU/frame | of which GC s | CPU/wall "
        "| peak RSS MB | vs pm_bare | vs pm_sdk |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in clients:
        cr = [r for r in runs if r.client == c]
        cell = cells[c]
        okn = f"{sum(r.ok for r in cr)}/{len(cr)}"
        if cell is None:
            lines.append(f"| {c} | {okn} | FAILED | | | | | | | |")
            continue
        lines.append(
            f"| {c} | {okn} | {cell['ev']:,.0f} | {cell['min']:,.0f}..{cell['max']:,.0f} | {cell['us']:.2f} "
            f"| {cell['gc']:.2f} | {cell['util']:.2f} | {cell['rss']:.0f} "
            f"| {_ratio(cell['ev'], fps('pm_bare'), pct=True)} | {_ratio(cell['ev'], fps('pm_sdk'))} |"
        )
    return lines


# --- modes --------------------------------------------------------------------------------


def streams(args: argparse.Namespace, ns: dict[int, int]) -> list[tuple[Server, list[str]]]:
    """One server per stream (the Massive stream at each B; the Polymarket book stream) and its clients."""
    massive = [c for c in args.clients if c not in PM_CLIENTS]
    pm = [c for c in args.clients if c in PM_CLIENTS]
    out = [(Server(ns[b], b, args.server_cpu, args.verbose), massive) for b in args.batches if massive]
    if pm:
        out.append((Server(args.pm_n, 1, args.server_cpu, args.verbose, kind="polymarket"), pm))
    return out


def benchmark(args: argparse.Namespace, ns: dict[int, int]) -> list[Run]:
    """All (stream, repetition, client) runs; one server per stream, restarted after a failed client."""
    runs: list[Run] = []
    for server, clients in streams(args, ns):
        server.start()
        try:
            for rep in range(1, args.reps + 1):
                for name in clients:
                    if not server.alive():
                        server.start()
                    run = run_client(name, server, rep, cpu=args.client_cpu, timeout=args.timeout)
                    runs.append(run)
                    _progress(run, args.reps)
                    if not run.ok:
                        server.stop()
                        server.start()
        finally:
            server.stop()
    return runs


def _progress(run: Run, reps: int) -> None:
    head = f"[B={run.batch} rep {run.rep}/{reps}] {run.client:<19}"
    if run.result:
        r = run.result
        print(
            f"{head} {r['ev_per_s'] / 1e6:7.3f} M ev/s  {r['us_cpu_per_event']:6.2f} µs/ev  "
            f"{r['rss_mb']:5.0f} MB  ({run.elapsed_s:.1f} s){'' if run.ok else '  FAILED: ' + run.error}",
            file=sys.stderr,
        )
    else:
        print(f"{head} FAILED: {run.error}", file=sys.stderr)


def profile(args: argparse.Namespace, ns: dict[int, int]) -> None:
    """One cProfile run per client and B; writes ``results/profiles/<client>_B<b>.{pstats,txt}``."""
    out = RESULTS / "profiles"
    out.mkdir(parents=True, exist_ok=True)
    for server, clients in streams(args, ns):
        server.start()
        b = server.batch
        try:
            for name in clients:
                stats_path = out / f"{name}_B{b}.pstats"
                run = run_client(
                    name, server, 1, cpu=args.client_cpu, timeout=args.timeout, profile=stats_path
                )
                _progress(run, 1)
                if not stats_path.exists():
                    continue
                txt = out / f"{name}_B{b}.txt"
                with txt.open("w") as fh:
                    fh.write(
                        f"# {name}, B={b}, N={server.n:,} (under cProfile: absolute times are inflated)\n"
                    )
                    st = pstats.Stats(str(stats_path), stream=fh)
                    st.sort_stats("tottime").print_stats(30)
                    st.sort_stats("cumulative").print_stats(30)
                print(f"  -> {txt.relative_to(ROOT)}", file=sys.stderr)
                if not run.ok:
                    server.stop()
                    server.start()
        finally:
            server.stop()


def _has_uvloop() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line flags (see ``--help``)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="50,1", help="events per frame, comma-separated (default 50,1)")
    p.add_argument(
        "--n", type=int, help="events per run for every B (default 1,000,000 at B=50, 200,000 at B=1)"
    )
    p.add_argument("--reps", type=int, help="repetitions (default 3, quick 1; the median is shown)")
    p.add_argument(
        "--clients",
        default=",".join(CLIENTS + (UVLOOP_CLIENTS if _has_uvloop() else ()) + PURE_CLIENTS + PM_CLIENTS),
        help="comma-separated, from "
        + ", ".join(CLIENTS + UVLOOP_CLIENTS + PURE_CLIENTS + PM_CLIENTS + EXTRA_CLIENTS),
    )
    p.add_argument("--pm-n", type=int, help="book frames per Polymarket run (default 100,000, quick 10,000)")
    p.add_argument("--quick", action="store_true", help="smoke run: N=100,000 at B=50, 20,000 at B=1, 1 rep")
    p.add_argument(
        "--timeout", type=float, help="kill a client after this many seconds (default 120, quick 30)"
    )
    p.add_argument("--out", type=Path, help="markdown report path (default results/throughput[-quick].md)")
    p.add_argument("--profile", action="store_true", help="cProfile each client once instead of benchmarking")
    p.add_argument("--server-cpu", type=int, default=1, help="CPU for the server (-1: no pinning)")
    p.add_argument("--client-cpu", type=int, default=0, help="CPU for the clients (-1: no pinning)")
    p.add_argument("--verbose", action="store_true", help="let the server log each connection")
    args = p.parse_args(argv)
    args.batches = [int(x) for x in args.batches.split(",") if x.strip()]
    args.clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = (
        set(args.clients) - set(CLIENTS) - set(UVLOOP_CLIENTS) - set(PURE_CLIENTS) - set(PM_CLIENTS)
    ) - set(EXTRA_CLIENTS)
    if unknown:
        p.error(f"unknown client(s): {', '.join(sorted(unknown))}")
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    if args.pm_n is None:
        args.pm_n = PM_QUICK_N if args.quick else PM_N
    if args.timeout is None:
        args.timeout = 30.0 if args.quick else 120.0
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or the profiles) and write the report."""
    args = parse_args(argv)
    table = QUICK_N if args.quick else DEFAULT_N
    ns = {b: args.n or table.get(b, table[50] if b >= 10 else table[1]) for b in args.batches}
    if (os.cpu_count() or 1) < 2:
        print("warning: fewer than 2 CPUs; server and client will share a core", file=sys.stderr)
    if args.profile:
        profile(args, ns)
        return 0
    info = machine_info()
    runs = benchmark(args, ns)
    floors = {b: measure_floor(b, args.client_cpu) for b in args.batches}
    settings = {
        "command": "python benchmarks/throughput.py" + ("".join(f" {a}" for a in (argv or sys.argv[1:]))),
        "reps": args.reps,
        "server_cpu": args.server_cpu,
        "client_cpu": args.client_cpu,
    }
    report = summarize(runs, settings, info, floors)
    print(report)
    out = args.out or RESULTS / ("throughput-quick.md" if args.quick else "throughput.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    raw = {
        "settings": settings,
        "machine": info,
        "n": ns,
        "floors": floors,
        "runs": [asdict(r) for r in runs],
    }
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
    print(f"wrote {out} and {out.with_suffix('.json').name}", file=sys.stderr)
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
