"""Alpaca throughput: alpaca-py's ``StockDataStream`` vs tickwire's ``AlpacaStreamClient``, same run.

One loopback server (this file, ``serve`` mode, pinned to CPU 1) speaks just enough of Alpaca's
stream (``connected``, ``auth`` → ``authenticated``, ``subscribe`` → the ``subscription`` ack)
and then sends prebuilt frames: N stock trades, B per frame, in the encoding the client's upgrade
asked for (``Content-Type: application/msgpack``: binary msgpack frames with ``t`` as the
Timestamp extension; otherwise JSON text frames with RFC 3339 times), built once at start-up with
the simulator's own wire encoder, so the server does no Python work per frame. Each client runs
in a fresh process pinned to CPU 0 (``python alpaca_throughput.py CLIENT --port ...``), measured
with the Massive benchmark's meter (``bench_clients.Meter``: from the first data event delivered
to user code to the N-th), and checked: exactly N trades, the last with id N.

* ``alpaca_py``: ``StockDataStream(url_override=...)``, unmodified, ``subscribe_trades(fn, "*")``;
  ``fn`` (a coroutine, as alpaca-py requires) counts the ``Trade`` models. alpaca-py speaks
  msgpack only, so its row is msgpack whatever the stream; tickwire's JSON rows are compared with it.
* ``tickwire_async_for_{json,msgpack}``: ``async for ev in client``, one typed ``Trade`` a step.
* ``tickwire_batches_{json,msgpack}``: ``async for batch in client.batches()``, ``len(batch)``.

    python benchmarks/alpaca_throughput.py           # B=50 (N=500,000) and B=1 (N=100,000), 3 reps
    python benchmarks/alpaca_throughput.py --quick   # smoke run, 1 rep, small N

Writes ``results/alpaca_throughput.md`` (``-quick`` with ``--quick``) and the raw runs as ``.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import throughput
from stream_server import _Conn, frame

HERE = Path(__file__).resolve().parent
RESULTS = throughput.RESULTS
ALPACA_PY = "alpaca_py"
CLIENTS = (
    ALPACA_PY,
    "tickwire_async_for_json",
    "tickwire_async_for_msgpack",
    "tickwire_batches_json",
    "tickwire_batches_msgpack",
)
DEFAULT_N = {50: 500_000, 1: 100_000}
QUICK_N = {50: 50_000, 1: 10_000}
TARGET_VS_ALPACA_PY = 10.0
SYMBOLS = ("AAPL", "MSFT", "AMZN", "NVDA", "GOOG", "META", "TSLA", "NFLX")
_T0_NS = 1_764_600_000_000_000_000  # 2025-12-01T14:40:00Z


def encoding_of(name: str) -> str:
    """The encoding a client asks for (alpaca-py: msgpack, always)."""
    return "json" if name.endswith("_json") else "msgpack"


# --- the server -----------------------------------------------------------------------------


def build_stream(n: int, batch: int, encoding: str) -> bytes:
    """The whole post-subscribe byte stream: ``ceil(n / batch)`` frames of ``batch`` trades, ids 1..n."""
    from tickwire.sim.alpaca import wire

    opcode = 0x2 if encoding == "msgpack" else 0x1
    out = []
    for start in range(1, n + 1, batch):
        parts = []
        for q in range(start, min(start + batch, n + 1)):
            k = (q - 1) % len(SYMBOLS)
            trade = wire.Trade(
                SYMBOLS[k], q, "V", 100.0 + k + (q % 97) / 100, 100.0 * (1 + q % 5), ["@"], "C",
                wire.WireTime(_T0_NS + q * 1_000),
            )  # fmt: skip
            parts.append(wire.encode(trade, encoding))  # type: ignore[arg-type]
        out.append(frame(wire.frame(parts, encoding), opcode))  # type: ignore[arg-type]
    return b"".join(out)


class _AlpacaConn(_Conn):
    """``stream_server``'s blocking connection, plus the upgrade's headers and fragmented messages."""

    def upgrade(self) -> dict[str, str]:
        """Answer the upgrade (as ``stream_server``), returning the request's headers, lower-cased."""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("client closed during the handshake")
            self.buf += chunk
        head = self.buf.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in head[1:])}
        self.handshake()
        return headers

    def recv_message(self) -> bytes:
        """The next whole text/binary message (fragments joined), answering pings on the way."""
        parts: list[bytes] = []
        while True:
            fin = bool(self._peek() & 0x80)
            opcode, payload = self.recv_frame()
            if opcode == 0x9:
                self.sock.sendall(frame(payload, 0xA))
            elif opcode == 0x8:
                raise EOFError("client sent close during setup")
            elif opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if fin:  # alpaca-py sends its subscribe as fragments
                    return b"".join(parts)

    def _peek(self) -> int:
        """The first byte of the next frame (FIN and opcode), without consuming it."""
        first = self._read(1)
        self.buf = first + self.buf
        return first[0]


def _control(item: dict[str, Any], encoding: str) -> bytes:
    from tickwire.sim.alpaca import wire

    return frame(wire.control_frame(item, encoding), 0x2 if encoding == "msgpack" else 0x1)  # type: ignore[arg-type]


def _decode(payload: bytes, encoding: str) -> dict[str, Any]:
    import msgspec

    msg = msgspec.msgpack.decode(payload) if encoding == "msgpack" else msgspec.json.decode(payload)
    return msg if isinstance(msg, dict) else {}


def serve_one(conn: _AlpacaConn, streams: dict[str, bytes], close_wait: float) -> str:
    """One connection: the Alpaca handshake, the whole stream in the client's encoding, the close."""
    conn.sock.settimeout(30.0)
    headers = conn.upgrade()
    encoding = "msgpack" if "application/msgpack" in headers.get("content-type", "").lower() else "json"
    conn.sock.sendall(_control({"T": "success", "msg": "connected"}, encoding))
    while True:
        msg = _decode(conn.recv_message(), encoding)
        if msg.get("action") == "auth":
            conn.sock.sendall(_control({"T": "success", "msg": "authenticated"}, encoding))
        elif msg.get("action") == "subscribe":
            trades = msg.get("trades") or []
            ack = {"T": "subscription", "trades": trades, "quotes": [], "bars": [], "corrections": trades}
            conn.sock.sendall(_control({**ack, "cancelErrors": trades}, encoding))
            break
    conn.sock.settimeout(None)
    t0 = time.perf_counter()
    conn.sock.sendall(streams[encoding])
    sent = time.perf_counter() - t0
    conn.sock.settimeout(close_wait)
    while True:
        opcode, payload = conn.recv_frame()
        if opcode == 0x8:
            with contextlib.suppress(OSError):
                conn.sock.sendall(frame(payload[:2] or b"\x03\xe8", 0x8))
            return f"{encoding}: streamed in {sent:.3f} s; client closed cleanly"
        if opcode == 0x9:
            conn.sock.sendall(frame(payload, 0xA))


def serve(argv: list[str]) -> int:
    """``serve --n N --batch B``: build both encodings' streams, print ``READY <port>``, serve forever."""
    p = argparse.ArgumentParser(prog="alpaca_throughput.py serve")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--cpu", type=int, default=1)
    p.add_argument("--close-wait", type=float, default=30.0)
    args = p.parse_args(argv)
    if 0 <= args.cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {args.cpu})
    streams = {enc: build_stream(args.n, args.batch, enc) for enc in ("json", "msgpack")}
    with socket.create_server(("127.0.0.1", 0)) as srv:
        print(f"READY {srv.getsockname()[1]}", flush=True)
        while True:
            sock, _ = srv.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                serve_one(_AlpacaConn(sock), streams, args.close_wait)
            except (OSError, EOFError, ValueError) as exc:
                print(f"alpaca server: connection ended: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                sock.close()


class Server(throughput.Server):
    """This file's ``serve`` mode for one (N, B), with ``throughput.Server``'s lifecycle."""

    def start(self, timeout: float = 120.0) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "serve", "--n", str(self.n)]
        cmd += ["--batch", str(self.batch), "--cpu", str(self.cpu)]
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
        raise RuntimeError(f"alpaca server (N={self.n}, B={self.batch}) did not start")


# --- the clients ----------------------------------------------------------------------------


def run_alpaca_py(port: int, n: int, batch: int) -> dict[str, Any]:
    """alpaca-py's ``StockDataStream`` unmodified; an async handler counts the ``Trade`` models."""
    from bench_clients import Meter

    with warnings.catch_warnings():  # alpaca-py imports websockets.legacy (deprecated)
        warnings.simplefilter("ignore", DeprecationWarning)
        from alpaca.data.live import StockDataStream

    stream = StockDataStream("k", "s", url_override=f"ws://127.0.0.1:{port}/v2/iex")
    meter = Meter(n)
    count = 0
    result: dict[str, Any] = {}

    async def on_trade(trade: Any) -> None:
        nonlocal count, result
        count += 1
        if count >= meter.target and meter.hit(count, first=1) and not result:
            result = meter.report(ALPACA_PY, batch, count, trade.id)
            await stream.stop_ws()

    stream.subscribe_trades(on_trade, "*")
    stream.run()
    if not result:
        raise RuntimeError(f"alpaca-py stopped after {count} of {n} trades")
    return result


def _tickwire(port: int, encoding: str) -> Any:
    from tickwire.alpaca import AlpacaStreamClient

    return AlpacaStreamClient(
        "k",
        "s",
        "iex",
        url=f"ws://127.0.0.1:{port}/v2/iex",
        encoding=encoding,  # type: ignore[arg-type]
        ping_interval=None,
        stale_timeout=None,
        dotenv_path=None,
    )


async def run_tickwire_async_for(port: int, n: int, batch: int, encoding: str) -> dict[str, Any]:
    """``async for ev in client``: control events skipped with a type check before the window."""
    from bench_clients import Meter
    from tickwire.alpaca import Trade

    meter = Meter(n)
    async with _tickwire(port, encoding) as c:
        await c.subscribe_trades("*")
        it = aiter(c)
        ev = await anext(it)
        while type(ev) is not Trade:
            ev = await anext(it)
        count = 1
        if not meter.hit(count, first=batch):
            async for event in it:
                count += 1
                if count >= n:
                    meter.hit(count)
                    ev = event
                    break
        return meter.report(f"tickwire_async_for_{encoding}", batch, count, ev.id)


async def run_tickwire_batches(port: int, n: int, batch: int, encoding: str) -> dict[str, Any]:
    """``async for batch in client.batches()``: one list per frame, counted with ``len``."""
    from bench_clients import Meter
    from tickwire.alpaca import Trade

    meter = Meter(n)
    async with _tickwire(port, encoding) as c:
        await c.subscribe_trades("*")
        it = c.batches()
        events = await anext(it)
        while not any(type(e) is Trade for e in events):
            events = await anext(it)
        count = sum(type(e) is Trade for e in events)
        if not meter.hit(count):
            async for events in it:
                count += len(events)
                if count >= n:
                    meter.hit(count)
                    break
        await it.aclose()
        return meter.report(f"tickwire_batches_{encoding}", batch, count, events[-1].id)


def client(argv: list[str]) -> int:
    """``CLIENT --port P --n N --batch B [--cpu C]``: one measured run (``RESULT``/``CLOSED`` lines)."""
    from bench_clients import REPORTED_AT, peak_rss_mb

    p = argparse.ArgumentParser(prog="alpaca_throughput.py CLIENT")
    p.add_argument("client", choices=CLIENTS)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--cpu", type=int, default=0)
    args = p.parse_args(argv)
    if 0 <= args.cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {args.cpu})
    name = args.client
    if name == ALPACA_PY:
        run_alpaca_py(args.port, args.n, args.batch)
    else:
        run = run_tickwire_async_for if "async_for" in name else run_tickwire_batches
        asyncio.run(run(args.port, args.n, args.batch, encoding_of(name)))
    closed = {"close_s": time.perf_counter() - REPORTED_AT[0], "rss_mb": peak_rss_mb()}
    print("CLOSED " + json.dumps(closed), flush=True)
    return 0


# --- the run and the report -----------------------------------------------------------------


def _cell(runs: list[throughput.Run]) -> dict[str, float] | None:
    ok = [r.result for r in runs if r.ok]
    if not ok:
        return None
    return {
        "ev": statistics.median(r["ev_per_s"] for r in ok),
        "min": min(r["ev_per_s"] for r in ok),
        "max": max(r["ev_per_s"] for r in ok),
        "us": statistics.median(r["us_cpu_per_event"] for r in ok),
        "util": statistics.median(r.get("cpu_per_wall", 1.0) for r in ok),
        "rss": statistics.median(r["rss_mb"] for r in ok),
    }


def ratios(runs: list[dict[str, Any]]) -> list[tuple[int, str, float | None]]:
    """``(B, tickwire client, median ev/s ÷ alpaca-py's median ev/s at that B)`` from raw runs."""

    def median(client: str, b: int) -> float | None:
        vals = [
            r["result"]["ev_per_s"] for r in runs if r["ok"] and r["client"] == client and r["batch"] == b
        ]
        return statistics.median(vals) if vals else None

    out = []
    for b in sorted({r["batch"] for r in runs}, reverse=True):
        theirs = median(ALPACA_PY, b)
        for c in CLIENTS[1:]:
            mine = median(c, b)
            out.append((b, c, mine / theirs if mine and theirs else None))
    return out


def summarize(runs: list[throughput.Run], settings: dict[str, Any], info: dict[str, str]) -> str:
    """The markdown report: settings, machine, one table with the ratios, the target, failures."""
    batches = list(dict.fromkeys(r.batch for r in runs))
    cells = {
        (c, b): _cell([r for r in runs if r.client == c and r.batch == b]) for c in CLIENTS for b in batches
    }
    lines = [
        "# Alpaca throughput: tickwire's AlpacaStreamClient vs alpaca-py's StockDataStream",
        "",
        f"Run {info['date']} with `{settings['command']}`.",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in info.items() if k != "date") + ".",
        "",
        "Stream: N stock trades (`T: t`, 8 rotating symbols, ids 1..N), B per frame, prebuilt by one "
        f"loopback server (pinned to CPU {settings['server_cpu']}) in the encoding each client asks for: "
        "msgpack (binary frames, `t` a Timestamp extension) or JSON (RFC 3339 times). Each client is a "
        f"fresh process pinned to CPU {settings['client_cpu']}; {settings['reps']} interleaved "
        "repetition(s), median shown. "
        "alpaca-py speaks msgpack only: its row is msgpack, and tickwire's JSON rows are compared with it. "
        "ev/s = (N - first frame) / (time from the first trade delivered to user code to the N-th); "
        "µs CPU/event from `time.process_time()` over the same window; CPU/wall below ~0.9 means the "
        "client was starved. Ratios compare median ev/s of the same run.",
        "",
        "| client | encoding | B | N | ok runs | median ev/s | min..max ev/s | µs CPU/event | CPU/wall "
        "| peak RSS MB | vs alpaca-py | CPU/event vs alpaca-py | target | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for b in batches:
        base = cells.get((ALPACA_PY, b))
        for c in CLIENTS:
            cr = [r for r in runs if r.client == c and r.batch == b]
            if not cr:
                continue
            cell = cells[(c, b)]
            okn = f"{sum(r.ok for r in cr)}/{len(cr)}"
            if cell is None:
                lines.append(
                    f"| {c} | {encoding_of(c)} | {b} | {cr[0].n:,} | {okn} | FAILED | | | | | | | | |"
                )
                continue
            ratio = cell["ev"] / base["ev"] if base else None
            cost = base["us"] / cell["us"] if base and cell["us"] else None
            mine = c != ALPACA_PY
            verdict = (
                "" if not mine or ratio is None else ("meets" if ratio >= TARGET_VS_ALPACA_PY else "MISSES")
            )
            lines.append(
                f"| {c} | {encoding_of(c)} | {b} | {cr[0].n:,} | {okn} | {cell['ev']:,.0f} "
                f"| {cell['min']:,.0f}..{cell['max']:,.0f} | {cell['us']:.2f} | {cell['util']:.2f} "
                f"| {cell['rss']:.0f} | {'n/a' if ratio is None else f'{ratio:.1f}x'} "
                f"| {'n/a' if cost is None else f'{cost:.1f}x'} "
                f"| {f'≥ {TARGET_VS_ALPACA_PY:g}x' if mine else ''} | {verdict} |"
            )
    starved = [f"{c} B={b}" for (c, b), cell in cells.items() if cell and cell["util"] < 0.9]
    if starved:
        lines += [
            "",
            "Starved (median CPU/wall < 0.9: the shared machine was busy), so their ev/s understate them; "
            "the CPU/event ratio is not affected: " + ", ".join(starved) + ".",
        ]
    failures = [r for r in runs if not r.ok]
    if failures:
        lines += ["", "Failures:", ""]
        lines += [f"* {r.client} B={r.batch} rep {r.rep}: {r.error}" for r in failures]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="50,1", help="trades per frame, comma-separated (default 50,1)")
    p.add_argument(
        "--n", type=int, help="trades per run for every B (default 500,000 at B=50, 100,000 at B=1)"
    )
    p.add_argument("--reps", type=int, help="repetitions (default 3, quick 1; the median is shown)")
    p.add_argument("--clients", default=",".join(CLIENTS), help=f"comma-separated, from {', '.join(CLIENTS)}")
    p.add_argument("--quick", action="store_true", help="smoke run: N=50,000 at B=50, 10,000 at B=1, 1 rep")
    p.add_argument(
        "--timeout", type=float, help="kill a client after this many seconds (default 180, quick 60)"
    )
    p.add_argument("--out", type=Path, help="report path (default results/alpaca_throughput[-quick].md)")
    p.add_argument("--server-cpu", type=int, default=1, help="CPU for the server (-1: no pinning)")
    p.add_argument("--client-cpu", type=int, default=0, help="CPU for the clients (-1: no pinning)")
    args = p.parse_args(argv)
    args.batches = [int(x) for x in args.batches.split(",") if x.strip()]
    args.clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = set(args.clients) - set(CLIENTS)
    if unknown:
        p.error(f"unknown client(s): {', '.join(sorted(unknown))}")
    args.reps = args.reps or (1 if args.quick else 3)
    args.timeout = args.timeout or (60.0 if args.quick else 180.0)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every client against one server per B, interleaved; write the report and the raw runs."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve":
        return serve(argv[1:])
    if argv and argv[0] in CLIENTS:
        return client(argv)
    args = parse_args(argv)
    table = QUICK_N if args.quick else DEFAULT_N
    ns = {b: args.n or table.get(b, table[50] if b >= 10 else table[1]) for b in args.batches}
    info = throughput.machine_info()
    info["alpaca-py"] = _version("alpaca-py")
    runs: list[throughput.Run] = []
    for b in args.batches:
        server = Server(ns[b], b, args.server_cpu, False)
        server.start()
        try:
            for rep in range(1, args.reps + 1):
                for name in args.clients:
                    if not server.alive():
                        server.start()
                    run = throughput.run_client(
                        name,
                        server,
                        rep,
                        cpu=args.client_cpu,
                        timeout=args.timeout,
                        script=Path(__file__).name,
                    )
                    runs.append(run)
                    throughput._progress(run, args.reps)
                    if not run.ok:
                        server.stop()
                        server.start()
        finally:
            server.stop()
    settings = {
        "command": "python benchmarks/alpaca_throughput.py" + "".join(f" {a}" for a in argv),
        "reps": args.reps,
        "server_cpu": args.server_cpu,
        "client_cpu": args.client_cpu,
    }
    report = summarize(runs, settings, info)
    print(report)
    out = args.out or RESULTS / ("alpaca_throughput-quick.md" if args.quick else "alpaca_throughput.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    raw = {"settings": settings, "machine": info, "n": ns, "runs": [asdict(r) for r in runs]}
    out.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
    print(f"wrote {out} and {out.with_suffix('.json').name}", file=sys.stderr)
    return 0 if all(r.ok for r in runs) else 1


def _version(package: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    raise SystemExit(main())
