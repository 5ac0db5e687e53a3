"""SIGKILL at random moments, restart, and in the end every sink holds exactly the journal's events."""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.system.chaos.checks import ALL_SINKS, judge_all
from tests.system.chaos.conftest import ResultRow, stocks_url
from tests.system.chaos.recorder import RecordRun
from tests.system.chaos.stores import Stores
from tickwire.sim.thread import SimulatorThread

pytestmark = pytest.mark.services
SEED = int(os.environ.get("TICKWIRE_CHAOS_SEED", "1414"))


def test_sigkill_restart_exactly_once(sim: SimulatorThread, stores: Stores, row: ResultRow) -> None:
    """3-5 SIGKILLs at seeded random moments (while sinks write, catch up or open), each followed
    by a restart from the same data directory, then one run that ends normally: zero lost, zero
    duplicated, same content, in DuckDB, PostgreSQL, Redis, NATS and Parquet."""
    rng = random.Random(SEED)
    kills = rng.randint(3, 5)
    row.experiment = f"SIGKILL x{kills} + restart (seed {SEED})"
    row.sinks = list(ALL_SINKS)
    url = stocks_url(sim)
    moments: list[str] = []
    for i in range(kills):
        run = RecordRun(stores.data, url, stores.sink_args(), flush_timeout=5)
        run.wait_status(lambda s: s["events"] > 0, 20, "events recorded")
        delay = rng.uniform(0.1, 1.6)
        time.sleep(delay)  # the random moment is the experiment
        moments.append(f"{delay:.2f} s")
        done = run.kill()
        assert done.code == -9, f"kill {i + 1}: {done}"
    final = RecordRun(stores.data, url, stores.sink_args(), duration=3, flush_timeout=8)
    done = final.wait(40)
    row.sent = sim.counters.events_sent
    truth, verdicts = judge_all(stores)
    row.journaled = len(truth)
    row.verdicts(verdicts)
    row.notes.append(
        f"killed {', '.join(moments)} after the first events of each run; last run exit {done.code}"
    )
    assert done.code == 0, str(done)
    assert len(truth) > 1000, f"too little recorded to mean anything: {len(truth)}"
    bad = [str(v) for v in verdicts if not v.exact]
    assert not bad, "\n".join(bad)
