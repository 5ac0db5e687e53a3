"""Each service taken away through its proxy at start, mid-run and at shutdown.

One recording per rotation puts one service in each phase at once (3 rotations: every service in
every phase):

* **down at start** (connections refused from launch, back at 1.5 s): it catches up, exit 0 if alone;
* **down mid-run** (its connections cut and new ones refused for ~1.5 s): it catches up;
* **down at shutdown** (black-holed from 3.5 s to the end: writes hang): the run still ends within
  duration + flush timeout, exits 3 with a line saying exactly how many events that sink lacks
  (the count of journal events from its watermark on), and ``tickwire sinks repair`` then
  completes it (exit 0), with nothing lost or doubled in any sink.

And each service black-holed for the whole run (the case that hung ``record`` forever on NATS):
the run ends in time, exit 3, "could not be reached" with every event of the run counted, and
repair completes it.
"""

from __future__ import annotations

import contextlib

import pytest

from tests.system.chaos.checks import ALL_SINKS, judge_all, lacking_reported, outcome_of
from tests.system.chaos.conftest import ResultRow, stocks_url
from tests.system.chaos.proxy import ChaosProxy
from tests.system.chaos.recorder import RecordRun, tickwire
from tests.system.chaos.stores import Stores
from tests.waiting import poll
from tickwire.sim.thread import SimulatorThread

pytestmark = pytest.mark.services

SERVICES = ("postgres", "redis", "nats")
DURATION = 5.0
FLUSH = 3.0
MARGIN = 2.5
"""Seconds the recording (its own clock: the final status's ``elapsed``) may take beyond duration +
flush timeout: closing the client, the journal's last write, the outcome counts."""
REPAIR_WITHIN = 30.0
"""Seconds ``sinks repair`` gets after a client vanished: a server-side timeout on a vanished
session (PostgreSQL ``idle_in_transaction_session_timeout``, TCP keepalive) must act within it."""
STARTUP = 30.0
"""What the wall clock may add on a loaded machine (interpreter start-up, imports)."""


def _proxy(stores: Stores, kind: str) -> ChaosProxy:
    return {"postgres": stores.pg, "redis": stores.redis, "nats": stores.nats}[kind]


def _under(truth_keys: list[tuple[str, int]], watermark: int) -> int:
    return sum(1 for _, pos in truth_keys if pos >= watermark)


@pytest.mark.parametrize("turn", [0, 1, 2], ids=lambda t: f"rotation{t}")
def test_down_at_start_mid_run_and_shutdown(
    sim: SimulatorThread, stores: Stores, row: ResultRow, turn: int
) -> None:
    at_start, mid_run, at_shutdown = (SERVICES[(turn + k) % 3] for k in range(3))
    row.experiment = f"{at_start} down at start, {mid_run} down mid-run, {at_shutdown} hung at shutdown"
    row.sinks = list(ALL_SINKS)
    _proxy(stores, at_start).down("refuse")
    run = RecordRun(stores.data, stocks_url(sim), stores.sink_args(), duration=DURATION, flush_timeout=FLUSH)
    run.wait_status(lambda s: s["elapsed"] >= 0.9, 20, "1 s of recording")
    cut_mid = _proxy(stores, mid_run).down("refuse")
    run.wait_status(lambda s: s["elapsed"] >= 1.4, 20, "1.5 s of recording")
    tried_at_start = _proxy(stores, at_start).accepted
    _proxy(stores, at_start).up()
    run.wait_status(lambda s: s["elapsed"] >= 2.4, 20, "2.5 s of recording")
    _proxy(stores, mid_run).up()
    run.wait_status(lambda s: s["elapsed"] >= 3.4, 20, "3.5 s of recording")
    _proxy(stores, at_shutdown).down("blackhole")
    done = run.wait(DURATION + FLUSH + MARGIN + STARTUP)
    took = float((run.final or {}).get("elapsed", done.seconds))
    row.notes.append(f"record exit {done.code} after {took:.1f} s of recording")
    errors = {h["name"].split(":", 1)[0]: h["errors"] for h in (run.final or {}).get("sinks", [])}

    truth, before = judge_all(stores)
    row.sent = sim.counters.events_sent
    row.journaled = len(truth)
    stuck = outcome_of(run.final, at_shutdown)
    reported = lacking_reported(done.stderr, at_shutdown)
    exact_lack = _under(list(truth), stuck["watermark"])
    row.notes.append(f"{at_shutdown} reported {reported}, journal from its watermark: {exact_lack}")

    _proxy(stores, at_shutdown).up()
    repair = tickwire("sinks", "repair", "-d", stores.data, "--timeout", "30", timeout=60)
    truth, after = judge_all(stores)
    row.verdicts(after)
    row.notes.append(f"repair exit {repair.code}")

    assert done.code == 3, str(done)
    assert took <= DURATION + FLUSH + MARGIN, f"the recording took {took:.1f} s"
    assert tried_at_start > 0 and cut_mid > 0, (
        f"the faults did not bite: {tried_at_start} attempts, {cut_mid} cut"
    )
    assert errors.get(at_start, 0) > 0 and errors.get(mid_run, 0) > 0, f"no sink errors seen: {errors}"
    for kind in (at_start, mid_run, "duckdb", "parquet"):
        o = outcome_of(run.final, kind)
        assert o["complete"], f"{kind} did not recover in time: {o}"
        assert lacking_reported(done.stderr, kind) is None, done.stderr
    assert reported == ("lacks", exact_lack) and exact_lack > 0, (
        f"{at_shutdown}: reported {reported}, the journal holds {exact_lack} events from its watermark "
        f"{stuck['watermark']}; stderr:\n{done.stderr[-1500:]}"
    )
    assert stuck["lacking"] == exact_lack, stuck
    held_before = next(v for v in before if v.sink == at_shutdown)
    assert held_before.duplicated == 0 and held_before.wrong == 0, str(held_before)
    for v in before:
        if v.sink != at_shutdown:
            assert v.exact, f"before repair: {v}"
    assert repair.code == 0, str(repair)
    bad = [str(v) for v in after if not v.exact]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("kind", SERVICES)
def test_blackholed_for_the_whole_run_does_not_hang(
    sim: SimulatorThread, stores: Stores, row: ResultRow, kind: str
) -> None:
    row.experiment = f"{kind} black-holed for the whole run"
    row.sinks = ["duckdb", kind]
    _proxy(stores, kind).down("blackhole")
    run = RecordRun(
        stores.data, stocks_url(sim), stores.sink_args([kind]), duration=DURATION - 2, flush_timeout=FLUSH
    )
    done = run.wait(DURATION - 2 + FLUSH + MARGIN + STARTUP)
    took = float((run.final or {}).get("elapsed", done.seconds))
    truth, before = judge_all(stores, ["duckdb", kind])
    row.sent = sim.counters.events_sent
    row.journaled = len(truth)
    reported = lacking_reported(done.stderr, kind)
    row.notes.append(f"record exit {done.code} after {took:.1f} s of recording, reported {reported}")
    _proxy(stores, kind).up()
    repair = tickwire("sinks", "repair", "-d", stores.data, "--timeout", "30", timeout=60)
    _, after = judge_all(stores, ["duckdb", kind])
    row.verdicts(after)
    row.notes.append(f"repair exit {repair.code}")

    assert took <= DURATION - 2 + FLUSH + MARGIN, f"the recording took {took:.1f} s: {done}"
    assert done.code == 3, str(done)
    assert reported == ("unreached", len(truth)), (
        f"reported {reported} for {len(truth)} events:\n{done.stderr}"
    )
    assert next(v for v in before if v.sink == kind).written == 0
    assert repair.code == 0, str(repair)
    bad = [str(v) for v in after if not v.exact]
    assert not bad, "\n".join(bad)


def test_recovered_in_time_exits_0(sim: SimulatorThread, stores: Stores, row: ResultRow) -> None:
    """Every service refused at start and cut again mid-run, each back in time: exit 0, no line
    about a lacking sink, and every sink exact without a repair."""
    row.experiment = "all services down at start and mid-run, recovered in time"
    row.sinks = list(ALL_SINKS)
    proxies = [_proxy(stores, k) for k in SERVICES]
    for p in proxies:
        p.down("refuse")
    run = RecordRun(stores.data, stocks_url(sim), stores.sink_args(), duration=DURATION, flush_timeout=FLUSH)
    run.wait_status(lambda s: s["elapsed"] >= 1.4, 20, "1.5 s of recording")
    tried = [p.accepted for p in proxies]
    for p in proxies:
        p.up()
    cut = []
    for p in proxies:  # each sink reconnected (a sink between two connections has nothing to cut)
        poll(lambda p=p: p.open_connections, bool, 15, 0.02)  # a sink's backoff reaches 5 s (+ load)
        cut.append(p.down("refuse"))
    run.wait_status(lambda s: s["elapsed"] >= 3.0, 20, "3 s of recording")
    for p in proxies:
        p.up()
    done = run.wait(DURATION + FLUSH + MARGIN + STARTUP)
    truth, verdicts = judge_all(stores)
    row.sent = sim.counters.events_sent
    row.journaled = len(truth)
    row.verdicts(verdicts)
    row.notes.append(f"attempts while refused {tried}, connections cut {cut}; record exit {done.code}")

    assert all(tried) and all(cut), f"the faults did not bite: attempts {tried}, cut {cut}"
    assert done.code == 0, str(done)
    assert "lacks" not in done.stderr and "could not be reached" not in done.stderr, done.stderr
    bad = [str(v) for v in verdicts if not v.exact]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("kind", SERVICES)
def test_repair_after_the_recorder_host_vanished(
    sim: SimulatorThread, stores: Stores, row: ResultRow, kind: str
) -> None:
    """Near the end the service goes deaf (requests arrive, answers never return: the server may be
    inside the recorder's transaction), then the recorder's connections vanish, never closed (its
    machine died: the server keeps their sessions, and any lock they hold, until TCP keepalive gives
    up, hours later), while new connections pass. ``sinks repair`` must still complete the sink."""
    row.experiment = (
        "postgres client vanished inside a transaction (row lock held), then repair"
        if kind == "postgres"
        else f"{kind} deaf at shutdown, the old connections never closed, then repair"
    )
    row.sinks = ["duckdb", kind]
    run = RecordRun(stores.data, stocks_url(sim), stores.sink_args([kind]), duration=3, flush_timeout=FLUSH)
    run.wait_status(lambda s: s["elapsed"] >= 1.9, 20, "2 s of recording")
    proxy = _proxy(stores, kind)
    if kind == "postgres":  # deterministic: the server is left holding the watermark row's lock
        proxy.vanish_after(b"FOR UPDATE")
        assert proxy.tripped.wait(10), "no watermark update seen"
    else:
        proxy.set_mode("deaf")
        sent = proxy.to_server_bytes
        with contextlib.suppress(AssertionError):  # or the client already waits on an unanswered request
            poll(lambda: proxy.to_server_bytes, lambda n: n > sent, 1.5, 0.01)
    lingering = proxy.abandon()  # from here its connections vanish; new ones pass
    done = run.wait(3 + FLUSH + MARGIN + STARTUP)
    repair = tickwire("sinks", "repair", "-d", stores.data, "--timeout", str(REPAIR_WITHIN), timeout=90)
    truth, after = judge_all(stores, ["duckdb", kind])
    row.sent = sim.counters.events_sent
    row.journaled = len(truth)
    row.verdicts(after)
    row.notes.append(f"record exit {done.code}; {lingering} connections left open; repair exit {repair.code}")
    if repair.code != 0:
        said = [line for line in repair.output.splitlines() if line.startswith(kind)][-1:] or [""]
        row.notes.append(f"repair said: {said[0].replace(str(stores.data), 'DIR')[:300]}")

    assert done.code in (0, 3), str(done)  # its new connections may or may not finish in time
    assert repair.code == 0, f"{repair}\n{repair.stdout}"
    bad = [str(v) for v in after if not v.exact]
    assert not bad, "\n".join(bad)
