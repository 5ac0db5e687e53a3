"""Instructions and cache misses per event, counted by valgrind's cachegrind: the noise-free view.

On this shared VM a client's events/s moves by up to 2x between runs (the bare loop's µs CPU/event
by ±20 % within one run), more than the effects left to find. Cachegrind runs the client on a
simulated CPU and counts what it executes, which no neighbour changes: the same code gives the same
count to within a few tenths of a percent. Each client runs twice against ``stream_server.py``
(``--n`` and 3x ``--n`` events); the difference divided by the extra events is the per-event cost
of the streaming loop alone, without start-up, imports and the handshake.

Columns: ``instr/event`` (instructions executed), ``D1 misses/event`` (reads and writes missing a
32 KiB 8-way L1), ``LL misses/event`` (missing the simulated last level, ``--ll-kib``; the default
1 MiB is near this CPU's L2, while its real L3 is shared with the VM's neighbours). Instructions are
not time (the interpreter's instructions are slower per instruction than msgspec's parser, a cache
miss costs tens of cycles), but a change that removes instructions on the hot path shows up here in
one run, where the throughput report needs several quiet ones.

Needs ``valgrind`` (``apt-get install valgrind``); a run of the default five clients takes about
four minutes. ``python benchmarks/instructions.py --clients bare,tickwire_batches --n 100000``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import Server, run_client

DEFAULT_CLIENTS = "bare,tickwire_batches,tickwire_async_for,tickwire_handler,tickwire_threaded"
_SUMMARY = re.compile(r"^summary:\s+(.*)$", re.MULTILINE)
_EVENTS = re.compile(r"^events:\s+(.*)$", re.MULTILINE)


def count(client: str, n: int, batch: int, ll_kib: int, out_dir: Path) -> dict[str, int]:
    """One cachegrind run of ``client`` for ``n`` events (checked as the throughput runs are: all N
    events, the last one N, a clean close): the whole process's event totals."""
    server = Server(n, batch, cpu=-1, verbose=False)
    server.start()
    out = out_dir / f"{client}-{n}.cg"
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", f"--LL={ll_kib * 1024},16,64"]
    valgrind.append(f"--cachegrind-out-file={out}")
    try:
        run = run_client(client, server, 1, cpu=-1, timeout=1800, wrapper=valgrind)
    finally:
        server.stop()
    if not run.ok:
        raise RuntimeError(f"{client} (N={n}) failed under valgrind: {run.error}")
    text = out.read_text()
    names = _EVENTS.search(text)
    totals = _SUMMARY.search(text)
    if names is None or totals is None:
        raise RuntimeError(f"{out}: no cachegrind summary")
    return dict(zip(names.group(1).split(), map(int, totals.group(1).split()), strict=True))


def per_event(client: str, n: int, batch: int, ll_kib: int, out_dir: Path) -> dict[str, float]:
    """The streaming loop's cost per event: (run of 3n - run of n) / 2n."""
    small = count(client, n, batch, ll_kib, out_dir)
    large = count(client, 3 * n, batch, ll_kib, out_dir)
    extra = 2 * n

    def d(*keys: str) -> float:
        return sum(large[k] - small[k] for k in keys) / extra

    return {"ir": d("Ir"), "d1": d("D1mr", "D1mw"), "ll": d("DLmr", "DLmw")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", default=DEFAULT_CLIENTS, help=f"comma-separated (default {DEFAULT_CLIENTS})")
    p.add_argument("--batch", type=int, default=50, help="events per frame (default 50)")
    p.add_argument("--n", type=int, default=100_000, help="events of the smaller run (default 100,000)")
    p.add_argument("--ll-kib", type=int, default=1024, help="simulated last-level cache, KiB (default 1024)")
    args = p.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("instructions.py: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    clients = [c for c in args.clients.split(",") if c]
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="tickwire-cg-") as tmp:
        for client in clients:
            rows[client] = per_event(client, args.n, args.batch, args.ll_kib, Path(tmp))
            r = rows[client]
            print(f"{client:28} {r['ir']:8.0f} instr/event", file=sys.stderr, flush=True)
    base = rows.get("bare")
    runs = f"{args.n:,} vs {3 * args.n:,} events"
    print(f"Per event at B={args.batch} (cachegrind, {runs}; LL {args.ll_kib} KiB)\n")
    print("| client | instr/event | vs bare | D1 misses/event | LL misses/event |")
    print("|---|---:|---:|---:|---:|")
    for client, r in rows.items():
        ratio = f"{r['ir'] / base['ir']:.2f}x" if base else ""
        print(f"| {client} | {r['ir']:,.0f} | {ratio} | {r['d1']:.1f} | {r['ll']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
