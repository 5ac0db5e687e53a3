#!/usr/bin/env python3
"""Render the fault matrix's results (JSON lines) as ``RESULTS.md``: a fault-by-client grid and details.

Plain Python, independent of tickwire: it reads what ``test_fault_matrix.py`` wrote with
``TICKWIRE_FAULT_RESULTS=<file>`` set, one JSON object per cell.

    python3 tests/system/faults/make_table.py --run               # run the matrix (pytest -n auto), then render
    python3 tests/system/faults/make_table.py results.jsonl       # render results written earlier
    python3 tests/system/faults/make_table.py --run -o /tmp/R.md  # somewhere else

Exits non-zero if the matrix run failed (the table then shows which cells did).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_OUT = HERE / "RESULTS.md"
CLIENT_ORDER = ["async", "threaded", "polymarket", "alpaca", "alpaca-msgpack"]
CLIENT_TITLES = {
    "async": "`AsyncStreamClient`",
    "threaded": "`StreamClient` (threaded)",
    "polymarket": "`PolymarketClient`",
    "alpaca": "`AlpacaStreamClient` (JSON)",
    "alpaca-msgpack": "`AlpacaStreamClient` (msgpack)",
}
RUN_COMMAND = "python3 -m pytest tests/system/faults/test_fault_matrix.py -q -n auto -p no:cacheprovider"


def load(path: Path) -> list[dict[str, Any]]:
    """The last record of each (client, fault) cell."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            cells[(rec["client"], rec["fault"])] = rec
    return list(cells.values())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def grid_cell(rec: dict[str, Any], marks: dict[str, int]) -> str:
    if rec["outcome"] == "n/a":
        return f"n/a [{marks[rec['note']]}]"
    if not rec["passed"]:
        return "❌ **FAILED**"
    mark = f" [{marks[rec['mapped']]}]" if rec.get("mapped") else ""
    if rec["outcome"] == "failed-loudly":
        return f"✅ fails loudly: `{rec['error']}`{mark}"
    if rec["reconnects"]:
        return f"✅ survived, {_plural(rec['reconnects'], 'reconnect')}{mark}"
    return f"✅ survived, same socket{mark}"


def _yes_no(value: Any) -> str:
    return "—" if value is None else ("yes" if value else "**no**")


def _leaked(value: Any) -> str:
    return "—" if value is None else ("**YES**" if value else "no")


def render(records: list[dict[str, Any]], *, source: str) -> str:
    faults = [r["fault"] for r in sorted(records, key=lambda r: r["order"])]
    faults = list(dict.fromkeys(faults))
    clients = [c for c in CLIENT_ORDER if any(r["client"] == c for r in records)]
    clients += sorted({r["client"] for r in records} - set(clients))
    by_cell = {(r["client"], r["fault"]): r for r in records}

    notes: dict[str, int] = {}  # footnote text -> number, in order of appearance
    for fault in faults:
        for client in clients:
            rec = by_cell.get((client, fault))
            if rec is None:
                continue
            text = rec["note"] if rec["outcome"] == "n/a" else rec.get("mapped", "")
            if text and text not in notes:
                notes[text] = len(notes) + 1

    ran = [r for r in records if r["outcome"] != "n/a"]
    failed = [r for r in ran if not r["passed"]]
    leaked = [r for r in ran if r.get("secrets_leaked")]
    seconds = sum(r["duration_s"] for r in records)
    out = [
        "# Fault matrix results",
        "",
        f"Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `tests/system/faults/make_table.py` from {source} "
        f"(Python {platform.python_version()}, {platform.system()} {platform.machine()}).",
        f"Regenerate: `python3 tests/system/faults/make_table.py --run` (runs `{RUN_COMMAND}`).",
        "",
        f"**{len(ran)} cells run, {len(ran) - len(failed)} passed, {len(failed)} failed; "
        f"{len(records) - len(ran)} n/a; secrets found in {len(leaked)} cells; "
        f"{seconds:.1f} s of cell time in all.**",
        "",
        "Every cell asserts: the client survives (or fails loudly with the designed error and never retries); "
        "one `Disconnected` per lost connection or failed attempt and a `Reconnected` covering each run of them; "
        "the new connection is sent exactly the desired subscriptions (the simulator's record); bad frames are "
        "counted in `metrics()` and the stream goes on; the queue stays within its bound; the key and secret "
        "appear in no log record (every level and logger), event, exception or repr. "
        "See `tests/system/faults/test_fault_matrix.py`.",
        "",
        "| fault | " + " | ".join(CLIENT_TITLES.get(c, c) for c in clients) + " |",
        "|---|" + "---|" * len(clients),
    ]
    for fault in faults:
        row = [grid_cell(by_cell[(c, fault)], notes) if (c, fault) in by_cell else "not run" for c in clients]
        out.append(f"| {fault} | " + " | ".join(row) + " |")
    if notes:
        out += ["", "Notes (mapped to the nearest real equivalent, or why not applicable):", ""]
        out += [f"{n}. {text}" for text, n in notes.items()]
    out += [
        "",
        "## Details",
        "",
        "| fault | client | outcome | disconnect reasons, in order | `Disconnected` / `Reconnected` | "
        "resubscribed exactly | decode errors / unknown / rejected frames | queue peak / bound | "
        "secrets leaked | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for fault in faults:
        for client in clients:
            rec = by_cell.get((client, fault))
            if rec is None:
                continue
            if rec["outcome"] == "n/a":
                out.append(f"| {fault} | {client} | n/a | | | | | | | |")
                continue
            outcome = rec["outcome"] if rec["passed"] else f"**FAILED**: {rec['failure'][:120]}"
            if rec["outcome"] == "failed-loudly" and rec["passed"]:
                outcome = f"failed loudly (`{rec['error']}`)"
            reasons = ", ".join(f"`{r}`" for r in rec["reasons"]) or "none"
            out.append(
                f"| {fault} | {client} | {outcome} | {reasons} | "
                f"{rec['disconnects_reported']} / {rec['gaps_reported']} | {_yes_no(rec['resubscribe_exact'])} | "
                f"{rec['decode_errors']} / {rec['unknown_events']} / {rec['rejected_frames']} | "
                f"{rec['queue_peak']} / {rec['queue_size']} | {_leaked(rec['secrets_leaked'])} | "
                f"{rec['duration_s']:.2f} |"
            )
    out += [
        "",
        "“resubscribed exactly: —” means no new connection by design (the stream went on on the same socket, "
        "or the error was fatal). Queue peak: the deepest the event queue got (sampled every 5 ms, and at "
        "overflows); the bound is `queue_size` plus one socket read (64 items).",
        "",
    ]
    return "\n".join(out)


def run_matrix(results: Path, extra: list[str]) -> int:
    env = dict(os.environ, TICKWIRE_FAULT_RESULTS=str(results))
    cmd = [sys.executable, *RUN_COMMAND.split()[1:], *extra]
    print("running:", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", nargs="?", type=Path, help="JSON lines written by the matrix")
    parser.add_argument("--run", action="store_true", help="run the matrix first (pytest -n auto)")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: more pytest arguments")
    args = parser.parse_args(argv)
    if args.run == (args.results is not None):
        parser.error("give a results file, or --run (not both)")
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = args.results
        if args.run:
            path = Path(tmp) / "results.jsonl"
            path.touch()
            status = run_matrix(path, [a for a in args.pytest_args if a != "--"])
        records = load(path)
        if not records:
            print(f"no results in {path}", file=sys.stderr)
            return status or 1
        source = "a fresh run" if args.run else f"`{args.results}`"
        args.output.write_text(render(records, source=source), encoding="utf-8")
    print(f"wrote {args.output} ({len(records)} cells)", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
