"""Poison events: decodable trades no store can take whole. Each goes to the dead letters of the sinks
that refuse it, every other event is written, and the sinks go on (the run exits 0)."""

from __future__ import annotations

import json
import time

import pytest

from tests.system.chaos.checks import ALL_SINKS, dead_letters, judge_all
from tests.system.chaos.conftest import ResultRow, stocks_url
from tests.system.chaos.recorder import RecordRun
from tests.system.chaos.stores import Key, Stores
from tickwire.sim.thread import SimulatorThread

pytestmark = pytest.mark.services


def _trade(symbol: str, **over: object) -> dict[str, object]:
    t: dict[str, object] = {
        "ev": "T",
        "sym": symbol,
        "x": 4,
        "i": "1",
        "z": 3,
        "p": 10.5,
        "s": 100,
        "c": [12],
        "t": int(time.time() * 1000),
        "q": 7,
    }
    t.update(over)
    return t


POISONS: dict[str, dict[str, object]] = {
    "POISON_SIZE": {"s": 2**63},  # over BIGINT
    "POISON\u0000NUL": {},  # PostgreSQL text cannot hold NUL
    "POISON_TIME": {"t": 99999999999999999},  # year ~3.2 million
    "POISON_BIG": {"i": "x" * (2 << 20)},  # a 2 MB event: over NATS's 1 MB max payload
}
MUST_REFUSE = {
    "postgres": {"POISON_SIZE", "POISON\u0000NUL", "POISON_TIME"},
    "duckdb": {"POISON_SIZE"},
    "parquet": {"POISON_SIZE"},
    "nats": {"POISON_BIG"},
}
"""Who must refuse what, at least (the issue's findings); a sink may refuse more, never a good event."""


def test_poison_events_go_to_dead_letters(sim: SimulatorThread, stores: Stores, row: ResultRow) -> None:
    row.experiment = "poison events: size 2**63, NUL in symbol, t=99999999999999999, 2 MB string"
    row.sinks = list(ALL_SINKS)
    run = RecordRun(stores.data, stocks_url(sim), stores.sink_args(), duration=4, flush_timeout=5)
    run.wait_status(lambda s: s["connected"] and s["events"] > 0, 20, "a connected recorder")
    for n, (symbol, over) in enumerate(POISONS.items()):
        frame = [_trade(f"GOOD{n}A"), _trade(symbol, **over), _trade(f"GOOD{n}B")]
        assert sim.send_raw(json.dumps(frame)) == 1
    done = run.wait(30)

    letters = dead_letters(stores.data)
    by_kind: dict[str, set[Key]] = {k: set() for k in ALL_SINKS}
    for stem, lines in letters.items():
        kind = next((k for k in ALL_SINKS if stem.startswith(k)), None)
        assert kind is not None, f"a dead-letter file of no known sink: {stem}"
        by_kind[kind] |= {(line["journal"], int(line["pos"])) for line in lines}
    truth, verdicts = judge_all(stores, excused=by_kind)
    row.sent = sim.counters.events_sent
    row.journaled = len(truth)
    row.verdicts(verdicts)
    poison = {k: str(r[1]) for k, r in truth.items() if str(r[1]).startswith("POISON")}
    refused = {
        kind: sorted(poison[k].replace("\u0000", "\\0") for k in keys if k in poison)
        for kind, keys in by_kind.items()
    }
    row.notes += [f"{kind} refused {', '.join(names) or 'nothing'}" for kind, names in refused.items()]
    row.notes.append(f"record exit {done.code}")

    assert sorted(poison.values()) == sorted(POISONS), f"the journal holds poisons {sorted(poison.values())}"
    for kind, keys in by_kind.items():
        good = [k for k in keys if k not in poison]
        assert not good, f"{kind} dead-lettered good events at {good[:3]}"
    for kind, must in MUST_REFUSE.items():
        got = {poison[k] for k in by_kind[kind] if k in poison}
        assert must <= got, (
            f"{kind} held {sorted(must - got)} instead of refusing them (refused {sorted(got)})"
        )
    bad = [str(v) for v in verdicts if not v.exact]
    assert not bad, "\n".join(bad)
    assert done.code == 0, str(done)
    assert "refused for their content" in done.stderr, done.stderr[-1500:]
