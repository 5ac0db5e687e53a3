#!/usr/bin/env python3
"""Render the chaos suite's results (JSON lines) as ``tests/system/chaos/../RESULTS.md``.

Plain Python, independent of tickwire: it reads what the suite's ``row`` fixture appended with
``TICKWIRE_CHAOS_RESULTS=<file>`` set, one JSON object per experiment.

    python3 tests/system/chaos/make_results.py --run               # run the suite (pytest -n 2), then render
    python3 tests/system/chaos/make_results.py results.jsonl       # render results written earlier
    python3 tests/system/chaos/make_results.py --run -o /tmp/R.md  # somewhere else

Exits non-zero if the run failed (the table then shows which experiments did).
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
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DEFAULT_OUT = HERE.parent / "RESULTS.md"
SINKS = [
    ("duckdb", "DuckDB"),
    ("postgres", "PostgreSQL"),
    ("redis", "Redis"),
    ("nats", "NATS"),
    ("parquet", "Parquet"),
]
RUN_COMMAND = "python3 -m pytest tests/system/chaos -q -n 2 -p no:cacheprovider"


def load(path: Path) -> list[dict[str, Any]]:
    """The last record of each test, in the order they ended."""
    by_test: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            by_test[rec["test"]] = rec
    return sorted(by_test.values(), key=_order)


ORDER = [
    "test_sigkill",
    "test_outages",
    "test_poison",
    "test_disk_full",
    "test_one_recorder",
    "test_journal_damage",
    "test_output_safety",
]


def _order(rec: dict[str, Any]) -> tuple[int, str]:
    module = rec["test"].split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    return (ORDER.index(module) if module in ORDER else len(ORDER), rec["test"])


def _n(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _per_sink(values: dict[str, int]) -> str:
    if not values:
        return "—"
    total = sum(values.values())
    if total == 0:
        return "0"
    return f"**{total:,}** (" + ", ".join(f"{k} {v:,}" for k, v in values.items() if v) + ")"


def _result(rec: dict[str, Any]) -> str:
    return {"passed": "✅ pass", "failed": "❌ **FAIL**", "skipped": "skipped", "error": "❌ **ERROR**"}.get(
        str(rec["outcome"]), str(rec["outcome"])
    )


def render(records: list[dict[str, Any]], *, source: str, seconds: float | None) -> str:
    passed = sum(r["outcome"] == "passed" for r in records)
    failed = [r for r in records if r["outcome"] in ("failed", "error")]
    timing = f" in {seconds:.0f} s wall time" if seconds is not None else ""
    out = [
        "# Chaos suite results",
        "",
        f"Generated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by `tests/system/chaos/make_results.py` from "
        f"{source}{timing} (Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs), over the real PostgreSQL, Redis and NATS JetStream.",
        f"Regenerate: `python3 tests/system/chaos/make_results.py --run` (runs `{RUN_COMMAND}` with "
        "`TICKWIRE_CHAOS_RESULTS` set; each test appends its row).",
        "",
        f"**{len(records)} experiments: {passed} passed, {len(failed)} failed.**",
        "",
        "*Sent*: events the simulator generated (including those in flight when a recorder was killed, which no "
        "one received; frames the test injected with `send_raw` are not counted, so *journaled* can exceed it). *Journaled*: stored events in the journal, the source of truth. Sink columns: rows "
        "each sink holds at the end (after `tickwire sinks repair` where the experiment runs it). *Lost*: "
        "journal events missing from a sink (dead letters excepted); *duplicated*: extra copies of an event. "
        "Content is compared too (symbol, price, size, timestamp; quotes' bid/ask; bars' open/close/volume).",
        "",
        "| experiment | sent | journaled | "
        + " | ".join(t for _, t in SINKS)
        + " | lost | duplicated | result |",
        "|---|---:|---:|" + "---:|" * len(SINKS) + "---|---|---|",
    ]
    for r in records:
        cells = [_n(r["written"].get(k)) if k in r["written"] else "—" for k, _ in SINKS]
        out.append(
            f"| {r['experiment']} | {_n(r['sent'])} | {_n(r['journaled'])} | "
            + " | ".join(cells)
            + f" | {_per_sink(r['lost'])} | {_per_sink(r['duplicated'])} | {_result(r)} |"
        )
    out += ["", "## What each experiment saw", ""]
    for r in records:
        notes = "; ".join(r["notes"]) if r["notes"] else ""
        line = f"- **{r['experiment']}** (`{r['test'].split('::', 1)[-1]}`, {r['seconds']:.1f} s)"
        line += f": {notes}" if notes else ""
        if r["failure"]:
            line += f". **Failure:** `{r['failure'][:400]}`"
        out.append(line)
    out.append("")
    return "\n".join(out)


def run_suite(results: Path, extra: list[str]) -> int:
    env = dict(os.environ, TICKWIRE_CHAOS_RESULTS=str(results))
    cmd = [sys.executable, *RUN_COMMAND.split()[1:], *extra]
    print("running:", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", nargs="?", type=Path, help="JSON lines written by the suite")
    parser.add_argument("--run", action="store_true", help="run the suite first (pytest -n 2)")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="after --: more pytest arguments")
    args = parser.parse_args(argv)
    if args.run == (args.results is not None):
        parser.error("give a results file, or --run (not both)")
    status = 0
    seconds = None
    with tempfile.TemporaryDirectory() as tmp:
        path = args.results
        if args.run:
            path = Path(tmp) / "results.jsonl"
            path.touch()
            t0 = time.monotonic()
            status = run_suite(path, [a for a in args.pytest_args if a != "--"])
            seconds = time.monotonic() - t0
        records = load(path)
        if not records:
            print(f"no results in {path}", file=sys.stderr)
            return status or 1
        source = "a fresh run" if args.run else f"`{args.results}`"
        args.output.write_text(render(records, source=source, seconds=seconds), encoding="utf-8")
    print(f"wrote {args.output} ({len(records)} experiments)", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
