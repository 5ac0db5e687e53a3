"""Gateway fan-out benchmark: 1, 10, 100 clients behind ``tickwire gateway``, against connecting directly.

``stream_server.py --rate R`` sends Polygon ``T`` events at R events/s (B per frame), each trade's
``t`` the ``time.time_ns()`` of its send. In ONE run this script measures:

* **direct**: one receiver connected to the server itself;
* **gateway N** (N = 1, 10, 100): ``tickwire gateway --upstream ws://127.0.0.1:PORT`` in its own
  process holds the one upstream connection; N receivers connect to it and subscribe ``T.*``.

A receiver is a bare picows client (no decoding: it reads the first ``t`` of each frame and counts
the ``"ev"`` keys), so the receivers cost little beside the gateway. For each it records
``time.time_ns() - t`` per event (the first 10 % of each receiver's events left out) and the
delivered rate; the gateway process's CPU time per delivered event comes from psutil. The report
gives p50/p99 against the direct connection's as ratios, and the added latency in µs. Everything
shares the machine's 2 cores (server, gateway, receivers), so absolute numbers include scheduling.

    python benchmarks/gateway.py                       # R=5000 ev/s, B=10, 4 s per phase
    python benchmarks/gateway.py --rate 20000 --duration 3 --out benchmarks/results/gateway.md
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
_T = re.compile(rb'"t":(\d+)')


@dataclass
class Receiver(WSListener):
    """Auths, subscribes ``T.*``, then records per frame: receive time, send time, events."""

    total: int
    lat_ns: list[int] = field(default_factory=list)
    arrivals: list[int] = field(default_factory=list)
    events: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    authed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        super().__init__()
        self.last = b'"q":%d' % self.total

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            return
        now = time.time_ns()
        data = frame.get_payload_as_bytes()
        if b'"status"' in data:
            if b'"connected"' in data:
                transport.send(WSMsgType.TEXT, b'{"action":"auth","params":"bench"}')
            elif b'"auth_success"' in data:
                self.authed.set()
            return
        found = _T.search(data, 0, 400)  # the first event's send time: the whole frame's
        n = data.count(b'"ev"')
        if found is not None:
            self.lat_ns.append(now - int(found.group(1)))
            self.arrivals.append(now)
        self.events += n
        if self.last in data:  # the stream's last event (a client subscribed late missed its first ones)
            self.done.set()


@dataclass
class Phase:
    name: str
    clients: int
    delivered_eps: float
    p50_us: float
    p99_us: float
    complete: float
    events: int
    wall_s: float
    receivers_cpu_s: float
    gateway_cpu_s: float | None = None
    max_buffered: float | None = None
    max_queue: float | None = None


def _pct(values: list[int], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] / 1000.0


async def _receive(
    url: str, n_clients: int, total: int, within: float
) -> tuple[list[Receiver], float, float]:
    """Connect ``n_clients``, subscribe them at once, read until each has the stream's last event (or
    ``within`` s); the receivers, the wall time and this process's CPU time from the subscribe on."""
    receivers: list[Receiver] = []
    transports: list[WSTransport] = []
    for _ in range(n_clients):
        rec = Receiver(total)
        transport, _ = await ws_connect(lambda rec=rec: rec, url)  # type: ignore[misc]
        receivers.append(rec)
        transports.append(transport)
    await asyncio.wait_for(asyncio.gather(*(r.authed.wait() for r in receivers)), 30)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for t in transports:  # all at once: the first one starts the stream upstream
        t.send(WSMsgType.TEXT, b'{"action":"subscribe","params":"T.*"}')
    try:
        await asyncio.wait_for(asyncio.gather(*(r.done.wait() for r in receivers)), within)
    except TimeoutError:
        pass
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    for t in transports:
        t.send_close()
        t.disconnect()
    return receivers, wall, cpu


def _summarise(
    name: str,
    got: tuple[list[Receiver], float, float],
    total: int,
    gateway_cpu: float | None,
    sampled: tuple[float, float] | None = None,
) -> Phase:
    receivers, wall, cpu = got
    lat: list[int] = []
    for r in receivers:
        lat.extend(r.lat_ns[len(r.lat_ns) // 10 :])
    events = sum(r.events for r in receivers)
    last = max((r.arrivals[-1] for r in receivers if r.arrivals), default=0)
    first = min((r.arrivals[0] for r in receivers if r.arrivals), default=0)
    rate = events / ((last - first) / 1e9) if last > first else 0.0
    return Phase(
        name=name,
        clients=len(receivers),
        delivered_eps=rate,
        p50_us=_pct(lat, 0.50),
        p99_us=_pct(lat, 0.99),
        complete=min((r.events for r in receivers), default=0) / total,
        events=events,
        wall_s=wall,
        receivers_cpu_s=cpu,
        gateway_cpu_s=gateway_cpu,
        max_buffered=None if sampled is None else sampled[0],
        max_queue=None if sampled is None else sampled[1],
    )


def _start_server(n: int, batch: int, rate: float, pin: bool) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "stream_server.py"),
            "--n",
            str(n),
            "--batch",
            str(batch),
            "--rate",
            str(rate),
            "--cpu",
            "0" if pin else "-1",
            "--close-wait",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, int(line.split()[1])


def _start_gateway(upstream_port: int) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tickwire",
            "gateway",
            "--upstream",
            f"ws://127.0.0.1:{upstream_port}",
            "--api-key",
            "bench",
            "--port",
            "0",
            "--buffer-bytes",
            str(64 * 1024 * 1024),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    found = re.search(r"(ws://\S+)", line)
    if found is None:
        proc.kill()
        raise SystemExit(f"the gateway did not start: {line!r}")
    return proc, found.group(1)


async def _sample_metrics(url: str, stop: asyncio.Event) -> tuple[float, float]:
    """Poll the gateway's /metrics every 0.25 s: the largest total of bytes waiting in its client
    buffers, and the largest upstream queue depth seen (both 0: the gateway keeps up)."""
    metrics = url.replace("ws://", "http://").rsplit("/", 1)[0] + "/metrics"
    buffered = queued = 0.0

    def fetch() -> str:
        with urllib.request.urlopen(metrics, timeout=5) as resp:
            return str(resp.read().decode())

    while not stop.is_set():
        text = await asyncio.to_thread(fetch)
        lines = text.splitlines()
        total = sum(
            float(x.rsplit(" ", 1)[1]) for x in lines if x.startswith("tickwire_gateway_client_buffer_bytes{")
        )
        depth = [float(x.rsplit(" ", 1)[1]) for x in lines if 'stat="queue_depth"' in x]
        buffered, queued = max(buffered, total), max([queued, *depth])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)
    return buffered, queued


async def run(rate: float, batch: int, duration: float, fanouts: list[int], pin: bool) -> list[Phase]:
    """The direct phase, then one gateway phase per fan-out, against one paced server."""
    total = int(rate * duration)
    if pin:  # the server and the receivers on CPU 0, the gateway on CPU 1
        os.sched_setaffinity(0, {0})
    server, port = _start_server(total, batch, rate, pin)
    phases: list[Phase] = []
    try:
        got = await _receive(f"ws://127.0.0.1:{port}/stocks", 1, total, duration * 2 + 3)
        phases.append(_summarise("direct", got, total, None))
        for n in fanouts:
            gw, url = _start_gateway(port)
            ps = psutil.Process(gw.pid)
            if pin:
                ps.cpu_affinity([1])
            stop = asyncio.Event()
            sampler = asyncio.create_task(_sample_metrics(url, stop))
            try:
                before = sum(ps.cpu_times()[:2])
                got = await _receive(url, n, total, duration * 2 + 3)
                cpu = sum(ps.cpu_times()[:2]) - before
                stop.set()
                sampled = await sampler
            finally:
                stop.set()
                gw.send_signal(signal.SIGINT)
                gw.communicate(timeout=15)
            phases.append(_summarise(f"gateway x{n}", got, total, cpu, sampled))
    finally:
        server.kill()
        server.wait()
    return phases


def report(phases: list[Phase], rate: float, batch: int, duration: float) -> str:
    direct = phases[0]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "# Gateway fan-out: 1, 10, 100 clients behind one upstream connection, against direct",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `python benchmarks/gateway.py "
        f"--rate {rate:g} --batch {batch} --duration {duration:g}`; nproc {os.cpu_count()}, load average at "
        f"start {load}. One run; the server and the receivers pinned to CPU 0, the gateway to CPU 1 "
        "(other work on the machine shares them).",
        "",
        f"Stream: `stream_server.py` paced at {rate:,.0f} Polygon `T` events/s, {batch} per frame, "
        f"{int(rate * duration):,} events per connection; each trade's `t` is the server's send time (ns). "
        "Receivers are bare picows clients subscribing `T.*` (no decoding), latency = receive time - `t` "
        "per frame (its events were sent together), the first 10% of each receiver's frames left out; "
        "delivered ev/s = all receivers' events / (last frame received - first frame received). "
        "The gateway decodes each upstream frame into "
        "typed events (the tickwire client), routes them, encodes each event's JSON once and writes one "
        "shared frame to every client.",
        "",
        "| path | clients | least complete | delivered ev/s | x input rate | p50 µs | p99 µs | "
        "p50 vs direct | p99 vs direct | added p50 µs | added p99 µs | gateway CPU µs/event delivered | "
        "gateway CPU % | receivers CPU % | gateway buffers max B | upstream queue max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in phases:
        per_event = pct = ""
        if p.gateway_cpu_s is not None and p.events:
            per_event = f"{p.gateway_cpu_s * 1e6 / p.events:.2f}"
            pct = f"{100 * p.gateway_cpu_s / p.wall_s:.0f}"
        lines.append(
            f"| {p.name} | {p.clients} | {100 * p.complete:.2f} % | {p.delivered_eps:,.0f} | "
            f"{p.delivered_eps / rate:.1f} | {p.p50_us:,.0f} | {p.p99_us:,.0f} | "
            f"{p.p50_us / direct.p50_us:.1f}x | {p.p99_us / direct.p99_us:.1f}x | "
            f"{p.p50_us - direct.p50_us:,.0f} | {p.p99_us - direct.p99_us:,.0f} | {per_event} | {pct} | "
            f"{100 * p.receivers_cpu_s / p.wall_s:.0f} | "
            f"{'' if p.max_buffered is None else f'{p.max_buffered:,.0f}'} | "
            f"{'' if p.max_queue is None else f'{p.max_queue:,.0f}'} |"
        )
    lines += [
        "",
        "Reading it: *x input rate* at the fan-out (1.0, 10.0, 100.0) means every client got the whole "
        "stream as fast as it was sent; *added* latency is the gateway's hop (a second WebSocket, the "
        "upstream client's decode and queue, routing, one encode per event, N writes of one shared frame). "
        "CPU per delivered event falls with the fan-out because the decode and the encode are paid once per "
        "event, not once per client. *gateway buffers max* (all clients' bytes waiting in the gateway, "
        "sampled from `/metrics` every 0.25 s) and *upstream queue max* at 0 mean the gateway kept up: what "
        "latency remains beyond the hop is time in the kernel and in the receivers (one Python process "
        "reading 100 sockets, on the core it shares with the server). The p99 column is sensitive to "
        "whatever else runs on these 2 cores; compare rows of the same run.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=5000.0, help="events/s the server sends")
    p.add_argument("--batch", type=int, default=10, help="events per upstream frame")
    p.add_argument("--duration", type=float, default=4.0, help="seconds of stream per phase")
    p.add_argument("--fanout", default="1,10,100", help="client counts behind the gateway")
    p.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    p.add_argument("--json", action="store_true", help="print the phases as JSON too")
    p.add_argument("--no-pin", action="store_true", help="do not pin server+receivers to CPU 0, gateway to 1")
    args = p.parse_args()
    fanouts = [int(x) for x in args.fanout.split(",")]
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    phases = asyncio.run(run(args.rate, args.batch, args.duration, fanouts, pin))
    text = report(phases, args.rate, args.batch, args.duration)
    print(text)
    if args.json:
        print(json.dumps([p.__dict__ for p in phases], indent=1))
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
