"""Fixtures of the chaos suite: the simulator, the proxies, each test's sinks, the results table.

Every test fills a :class:`ResultRow` (``row``); at teardown the row is appended, with the test's
outcome, to ``$TICKWIRE_CHAOS_RESULTS`` (JSON lines; a session temp file when unset), which
``make_results.py`` renders as ``RESULTS.md``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.system.chaos.proxy import ProxyLoop
from tests.system.chaos.stores import Stores
from tests.system.chaos.verdict import Verdict
from tickwire.sim import MassiveSimulator
from tickwire.sim.thread import SimulatorThread

RESULTS_ENV = "TICKWIRE_CHAOS_RESULTS"


@dataclass
class ResultRow:
    """One experiment's line in RESULTS.md."""

    experiment: str = ""
    sinks: list[str] = field(default_factory=list)
    sent: int | None = None
    journaled: int | None = None
    written: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    duplicated: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def verdicts(self, verdicts: list[Verdict]) -> None:
        for v in verdicts:
            self.written[v.sink] = v.written
            self.lost[v.sink] = v.lost
            self.duplicated[v.sink] = v.duplicated
            if v.wrong or v.phantom:
                self.notes.append(f"{v.sink}: {v.wrong} wrong, {v.phantom} phantom")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    """Keep each phase's report on the item, so ``row`` knows at teardown how the test went."""
    outcome: Any = yield
    report = outcome.get_result()
    setattr(item, f"chaos_{report.when}", report)


@pytest.fixture(scope="session")
def results_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get(RESULTS_ENV)
    return Path(given) if given else tmp_path_factory.getbasetemp() / "chaos-results.jsonl"


@pytest.fixture
def row(request: pytest.FixtureRequest, results_path: Path) -> Iterator[ResultRow]:
    r = ResultRow(experiment=request.node.name)
    t0 = time.monotonic()
    yield r
    call = getattr(request.node, "chaos_call", None)
    setup = getattr(request.node, "chaos_setup", None)
    if call is None:  # setup failed or skipped
        outcome = "skipped" if setup is not None and setup.skipped else "error"
        failure = str(getattr(setup, "longrepr", "") or "")[-400:]
    else:
        outcome = "passed" if call.passed else ("skipped" if call.skipped else "failed")
        failure = "" if call.passed else _failure_line(call)
    rec = {
        **asdict(r),
        "test": request.node.nodeid,
        "outcome": outcome,
        "failure": failure,
        "seconds": round(time.monotonic() - t0, 1),
        "at": time.time(),
    }
    with results_path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


def _failure_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return " ".join(text.split())[:600]


@pytest.fixture(scope="session")
def proxy_loop() -> Iterator[ProxyLoop]:
    loop = ProxyLoop()
    yield loop
    loop.close()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def stores(data: Path, proxy_loop: ProxyLoop) -> Iterator[Stores]:
    s = Stores(data, proxy_loop)
    asyncio.run(s.check())
    yield s
    asyncio.run(s.cleanup())


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    """A Massive simulator on its own thread, ~1,500 events/s on T.*, Q.*, AM.*; any key accepted."""
    thread = MassiveSimulator(seed=14, rate=15.0, tick_interval=0.02, max_connections=None, close_timeout=0.3)
    facade = thread.run_in_thread()
    facade.start()
    yield facade
    facade.shutdown()


def stocks_url(sim: SimulatorThread) -> str:
    return f"{sim.url}/stocks"
