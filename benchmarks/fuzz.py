"""The long fuzz run: every target of ``tests/system/fuzz`` in a plain loop, far past what CI runs.

    python3 benchmarks/fuzz.py                        # >= 1,000,000 generated inputs (~10 min, 1 core)
    python3 benchmarks/fuzz.py --inputs 50000         # a quick pass
    python3 benchmarks/fuzz.py --targets rest_flow,journal_reader --inputs 200000
    python3 benchmarks/fuzz.py --targets alpaca_decoder,alpaca_rfc3339 --inputs 200000
    python3 benchmarks/fuzz.py --replay massive_session:12345   # rerun one case, with its traceback

It runs the very targets the hypothesis properties run (``tests/system/fuzz/targets.py``: the same
generators, mutations and invariant checks), round-robin, each case from a seeded
:class:`~tests.system.fuzz.chooser.Chooser`, until the inputs fed (frames, requests, responses,
journal files) reach ``--inputs``. A failing case is recorded with its seed and the run goes
on; ``--replay`` reproduces it. Figures go to stdout and ``benchmarks/results/fuzz.md``; the
exit code is 1 if any case failed. Hypothesis itself (with shrinking) is the CI side:
``TICKWIRE_FUZZ_EXAMPLES=20000 python3 -m pytest tests/system/fuzz``.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the targets live in the test tree

from tests.system.fuzz.chooser import Chooser  # noqa: E402
from tests.system.fuzz.targets import TARGETS  # noqa: E402


@dataclass
class Tally:
    """One target's count of cases, inputs, time and failures."""

    cases: int = 0
    inputs: int = 0
    seconds: float = 0.0
    failures: int = 0
    examples: dict[str, int] = field(default_factory=dict)  # failure signature -> first seed


def _signature(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}: {str(exc)[:120]!r}"


def run(
    names: list[str], inputs: int, base_seed: int, progress_every: float
) -> tuple[dict[str, Tally], float]:
    """Round-robin over ``names`` until ``inputs`` inputs were fed; returns tallies and wall time."""
    tallies = {name: Tally() for name in names}
    total = 0
    case = 0
    start = last = time.perf_counter()
    clock = time.perf_counter
    while total < inputs:
        for i, name in enumerate(names):
            seed = base_seed + case * len(names) + i
            tally = tallies[name]
            t0 = clock()
            try:
                n = TARGETS[name](Chooser(seed=seed))
            except Exception as exc:  # a finding: keep going, remember the seed
                tally.failures += 1
                tally.examples.setdefault(_signature(exc), seed)
                n = 1
            tally.seconds += clock() - t0
            tally.cases += 1
            tally.inputs += n
            total += n
        case += 1
        now = clock()
        if now - last >= progress_every:
            last = now
            failures = sum(t.failures for t in tallies.values())
            print(
                f"  {total:>10,} inputs  {now - start:7.0f} s  {total / (now - start):8,.0f}/s  "
                f"failures {failures}",
                flush=True,
            )
    return tallies, clock() - start


def report(tallies: dict[str, Tally], wall: float, command: str) -> str:
    total = sum(t.inputs for t in tallies.values())
    cases = sum(t.cases for t in tallies.values())
    failures = sum(t.failures for t in tallies.values())
    lines = [
        "# Fuzz run",
        "",
        f"Command: `{command}`  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"one process (single core)  ",
        f"**Total: {total:,} generated inputs in {cases:,} cases, {wall:,.0f} s "
        f"({total / wall:,.0f} inputs/s); failures: {failures}**",
        "",
        "| target | cases | inputs | seconds | inputs/s | failures |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, t in tallies.items():
        rate = t.inputs / t.seconds if t.seconds else 0.0
        lines.append(
            f"| {name} | {t.cases:,} | {t.inputs:,} | {t.seconds:,.1f} | {rate:,.0f} | {t.failures} |"
        )
    lines.append("")
    if failures:
        lines.append("## Failures (first seed of each kind; rerun with `--replay target:seed`)")
        lines.append("")
        for name, t in tallies.items():
            for sig, seed in t.examples.items():
                lines.append(f"* `{name}:{seed}` {sig}")
    else:
        lines.append("No case failed: no exception escaped a parser or session, and every invariant held.")
    lines += [
        "",
        "An *input* is one generated thing fed to the code under test: a server frame (decoders,",
        "sessions, the replayer's filter; Alpaca's in JSON, msgpack or arbitrary bytes), a time string",
        "(``alpaca_rfc3339``), a client request (simulators), an HTTP response (REST), a corrupted",
        "journal segment (journal). See `tests/system/fuzz/targets.py` for what each checks.",
        "",
    ]
    return "\n".join(lines)


def replay(spec: str) -> int:
    name, _, seed = spec.partition(":")
    n = TARGETS[name](Chooser(seed=int(seed)))
    print(f"{name}:{seed} passed ({n} inputs)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=int, default=1_000_000, help="stop after this many inputs")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated target names")
    parser.add_argument("--seed", type=int, default=0, help="first seed (cases use consecutive seeds)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fuzz.md")
    parser.add_argument("--progress", type=float, default=30.0, help="seconds between progress lines")
    parser.add_argument("--replay", metavar="TARGET:SEED", help="rerun one case and show its traceback")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # rejected subscriptions, torn journals... are logged by design
    if args.replay:
        return replay(args.replay)
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = set(names) - set(TARGETS)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; known: {', '.join(TARGETS)}")
    tallies, wall = run(names, args.inputs, args.seed, args.progress)
    command = "python3 benchmarks/fuzz.py " + " ".join(sys.argv[1:])
    text = report(tallies, wall, command.strip())
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 1 if any(t.failures for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
