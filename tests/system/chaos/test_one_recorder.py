"""Two recorders on one data directory: the second refuses, naming the holder's pid; the first goes
on undisturbed and its journal verifies with its records in order."""

from __future__ import annotations

from pathlib import Path

from tests.system.chaos.conftest import ResultRow, stocks_url
from tests.system.chaos.recorder import RecordRun, tickwire
from tickwire.journal import read_records
from tickwire.sim.thread import SimulatorThread


def test_second_recorder_refuses(sim: SimulatorThread, data: Path, row: ResultRow) -> None:
    row.experiment = "two recorders on one data directory"
    row.sinks = ["duckdb"]
    first = RecordRun(data, stocks_url(sim))
    first.wait_status(lambda s: s["events"] > 0, 20, "the first recorder recording")
    second = RecordRun(data, stocks_url(sim), duration=2)
    refused = second.wait(30)
    first.wait_status(lambda s: s["events"] > 0, 5, "the first recorder still recording")
    done = first.terminate()
    records = list(read_records(data / "journal"))
    verify = tickwire("journal", "verify", data)
    row.journaled = first.final["events"] if first.final else None
    row.notes += [f"second exit {refused.code}", f"first exit {done.code}", f"verify exit {verify.code}"]

    assert refused.code == 1, str(refused)
    assert str(first.pid) in refused.stderr, f"the holder's pid {first.pid} is not named:\n{refused.stderr}"
    assert done.code == 0, str(done)
    assert verify.code == 0, str(verify)
    assert [r.seq for r in records] == list(range(len(records)))
