"""The performance report: every client, every stream, latency and memory, in one run on this machine.

Runs ``throughput.py`` (the Massive stream at B=50 and B=1: the bare picows+msgspec loop,
tickwire async-for / batches / handler / threaded, the official ``massive`` client, the
``polygon`` package; the Polymarket US book stream: a bare loop, tickwire's ``PolymarketClient``,
the official ``polymarket-us`` SDK), then ``latency.py`` (p50/p99/p99.9 from server send to
user code at 10k and 100k events/s, RSS after warm-up and at the end), then
``alpaca_throughput.py`` (alpaca-py's ``StockDataStream`` vs ``AlpacaStreamClient``, JSON and
msgpack, 1 and 50 trades per frame), and writes ``results/report.md``: a headline table of ratios
and target verdicts, then the three full reports.

    benchmarks/report            # the full run, about 10 minutes on 2 vCPUs
    benchmarks/report --quick    # smaller N, 1 repetition, 3 s latency runs: a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import alpaca_throughput
import latency
import throughput

RESULTS = throughput.RESULTS


def _median(runs: list[dict[str, Any]], client: str, key: str, **match: Any) -> float | None:
    vals = [
        r["result"][key]
        for r in runs
        if r["ok"] and r["client"] == client and all(r.get(k) == v for k, v in match.items())
    ]
    return statistics.median(vals) if vals else None


def _fmt_ratio(a: float | None, b: float | None, pct: bool = False) -> str:
    if not a or not b:
        return "n/a"
    return f"{a / b:.0%}" if pct else f"{a / b:.2f}x"


def headline(tp: dict[str, Any], lat: dict[str, Any]) -> list[str]:
    """The table a reader wants first: tickwire against each other client, with the targets."""
    runs = tp["runs"]
    lines = [
        "| stream | tickwire client | vs | ratio (ev/s) | target | verdict |",
        "|---|---|---|---:|---:|---|",
    ]

    def row(stream: str, mine: str, other: str, b: int, target: float | None, pct: bool) -> None:
        a = _median(runs, mine, "ev_per_s", batch=b)
        o = _median(runs, other, "ev_per_s", batch=b)
        ratio = _fmt_ratio(a, o, pct)
        if target is None or not a or not o:
            verdict = "" if a and o else "n/a"
        else:
            verdict = "meets" if a / o >= target else "MISSES"
        tgt = "" if target is None else (f"≥ {target:.0%}" if pct else f"≥ {target:g}x")
        lines.append(f"| {stream} | {mine} | {other} | {ratio} | {tgt} | {verdict} |")

    for b in (50, 1):
        stream = f"Massive `T`, B={b}"
        for mine in ("tickwire_batches", "tickwire_async_for", "tickwire_handler"):
            row(stream, mine, "bare", b, throughput.TARGET_VS_BARE, True)
            row(stream, mine, "massive", b, throughput.TARGET_VS_MASSIVE.get(b), False)
        row(stream, "tickwire_threaded", "polygon_stream", b, None, False)
        row(stream, "tickwire_threaded_raw", "polygon_stream", b, None, False)
    row("Polymarket books", "pm_tickwire", "pm_bare", 1, None, True)
    row("Polymarket books", "pm_tickwire", "pm_sdk", 1, None, False)

    lruns = lat["runs"]
    rate_of = {int(k): v for k, v in lat["settings"]["rate_of"].items()}
    lines += [
        "",
        "| latency at | client | delivered ev/s | p50 µs | p99 µs | p99.9 µs | RSS warm → end MB | verdict |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for n, rate in sorted(rate_of.items(), key=lambda kv: kv[1]):
        for c in latency.CLIENTS:
            p99 = _median(lruns, c, "p99_us", n=n)
            if p99 is None:
                continue
            got = _median(lruns, c, "delivered_per_s", n=n) or 0.0
            p50 = _median(lruns, c, "p50_us", n=n) or 0.0
            p999 = _median(lruns, c, "p999_us", n=n) or 0.0
            warm = _median(lruns, c, "rss_warm_mb", n=n) or 0.0
            end = _median(lruns, c, "rss_end_mb", n=n) or 0.0
            verdict = ""
            if got < 0.95 * rate:
                verdict = "falls behind"
            elif c.startswith("tickwire") and rate == latency.TARGET_RATE:
                verdict = "meets p99 < 1 ms" if p99 < latency.TARGET_P99_US else "MISSES p99 < 1 ms"
            lines.append(
                f"| {rate:,.0f} ev/s | {c} | {got:,.0f} | {p50:,.0f} | {p99:,.0f} | {p999:,.0f} "
                f"| {warm:.1f} → {end:.1f} | {verdict} |"
            )
    floor = lat["settings"].get("floor")
    if floor:
        lines += [
            "",
            f"Machine floor for the latency rows: CPU {lat['settings']['client_cpu']} was taken away "
            f"{floor['stalls_over_200us']} times for more than 200 µs in {floor['seconds']:g} s (longest "
            f"{floor['max_stall_us']:,.0f} µs): a p99 below that is out of reach for any client here, "
            "the bare loop included.",
        ]
    return lines


def alpaca_headline(ap: dict[str, Any]) -> list[str]:
    """The Alpaca rows: each tickwire client against alpaca-py at the same B, with the ≥ 10x target."""
    lines = [
        "| Alpaca trades, B | tickwire client | vs | ratio (ev/s) | target | verdict |",
        "|---:|---|---|---:|---:|---|",
    ]
    target = alpaca_throughput.TARGET_VS_ALPACA_PY
    for b, client, ratio in alpaca_throughput.ratios(ap["runs"]):
        verdict = "n/a" if ratio is None else ("meets" if ratio >= target else "MISSES")
        shown = "n/a" if ratio is None else f"{ratio:.2f}x"
        lines.append(f"| {b} | {client} | alpaca-py (msgpack) | {shown} | ≥ {target:g}x | {verdict} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and write ``results/report.md``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="smoke run: small N, 1 repetition, short latency runs"
    )
    p.add_argument("--reps", type=int, help="throughput repetitions (default 3, quick 1)")
    p.add_argument("--out", type=Path, help="default results/report.md (report-quick.md with --quick)")
    p.add_argument(
        "--reuse-throughput", action="store_true", help="keep the last throughput results; rerun latency only"
    )
    p.add_argument(
        "--reuse-alpaca", action="store_true", help="keep the last Alpaca results instead of rerunning them"
    )
    args = p.parse_args(argv)
    suffix = "-quick" if args.quick else ""
    ap_out = RESULTS / f"alpaca_throughput{suffix}.md"
    ap_args = ["--out", str(ap_out)] + (["--quick"] if args.quick else [])
    ap_args += ["--reps", str(args.reps)] if args.reps else []
    tp_out = RESULTS / f"throughput{suffix}.md"
    lat_out = RESULTS / f"latency{suffix}.md"
    tp_args = ["--out", str(tp_out)] + (["--quick"] if args.quick else [])
    tp_args += ["--reps", str(args.reps)] if args.reps else []
    lat_args = ["--out", str(lat_out)] + (["--duration", "3"] if args.quick else [])
    rc = 0 if args.reuse_throughput else throughput.main(tp_args)
    rc |= latency.main(lat_args)
    rc |= 0 if args.reuse_alpaca else alpaca_throughput.main(ap_args)
    tp = json.loads(tp_out.with_suffix(".json").read_text())
    lat = json.loads(lat_out.with_suffix(".json").read_text())
    ap = json.loads(ap_out.with_suffix(".json").read_text())
    info = tp["machine"]
    lines = [
        "# tickwire performance report",
        "",
        f"Generated {info['date']} by `benchmarks/report{' --quick' if args.quick else ''}`, every client on "
        "this machine in one run. Machine: "
        + ", ".join(f"{k} {v}" for k, v in info.items() if k != "date")
        + ".",
        "",
        "Targets (`perf.md`): ≥ 80 % of the bare picows+msgspec loop; ≥ 8x / 13x the official `massive` "
        "client at B=50 / B=1; p99 < 1 ms from server send to user code at 100k events/s; flat memory; "
        "≥ 10x alpaca-py's events/s on Alpaca's stream (issue 16). "
        "How to read the numbers, and where the remaining gaps come from (with profiles): "
        "`benchmarks/README.md`.",
        "",
        "## Headline",
        "",
        *headline(tp, lat),
        "",
        *alpaca_headline(ap),
        "",
        f"Full tables: [{tp_out.name}]({tp_out.name}), [{lat_out.name}]({lat_out.name}) and "
        f"[{ap_out.name}]({ap_out.name}), reproduced below.",
        "",
        "---",
        "",
        tp_out.read_text().replace("# Throughput", "## Throughput", 1),
        "---",
        "",
        lat_out.read_text().replace("# Latency", "## Latency", 1),
        "---",
        "",
        ap_out.read_text().replace("# Alpaca throughput", "## Alpaca throughput", 1),
    ]
    out = args.out or RESULTS / f"report{suffix}.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
