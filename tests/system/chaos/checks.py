"""Shared steps of the chaos tests: judge every sink against the journal, read outcome lines."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.system.chaos.journal_truth import journal_id, journal_truth
from tests.system.chaos.stores import Key, Row, Stores, read_duckdb
from tests.system.chaos.verdict import Verdict, judge

__all__ = ["ALL_SINKS", "dead_letters", "judge_all", "judge_local", "lacking_reported", "outcome_of"]

ALL_SINKS = ("duckdb", "postgres", "redis", "nats", "parquet")


def judge_all(
    stores: Stores,
    kinds: Sequence[str] = ALL_SINKS,
    *,
    excused: dict[str, set[Key]] | None = None,
) -> tuple[dict[Key, Row], list[Verdict]]:
    """The journal's events and each sink's verdict against them."""
    truth = journal_truth(stores.data)
    jid = journal_id(stores.data)

    async def read() -> list[Verdict]:
        out = []
        for kind in kinds:
            held = await stores.held(kind, jid)
            out.append(judge(kind, truth, held, excused=(excused or {}).get(kind, set())))
        return out

    return truth, asyncio.run(read())


def judge_local(data: Path) -> tuple[dict[Key, Row], list[Verdict]]:
    """The journal's events and the data directory's DuckDB verdict (no services involved)."""
    truth = journal_truth(data)
    return truth, [judge("duckdb", truth, read_duckdb(data / "tickwire.duckdb"))]


def outcome_of(final: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    """The final status's outcome of sink ``kind`` (its name starts with the kind)."""
    assert final is not None and final.get("outcomes") is not None, f"no final status with outcomes: {final}"
    prefix = {
        "postgres": "postgres",
        "redis": "redis",
        "nats": "nats",
        "parquet": "parquet",
        "duckdb": "duckdb",
    }[kind]
    for o in final["outcomes"]:
        if str(o["name"]).startswith(prefix):
            return dict(o)
    raise AssertionError(f"no outcome for {kind} in {[o['name'] for o in final['outcomes']]}")


_LACKS = re.compile(r"^sink (?P<name>\S+): lacks (?P<n>[\d,]+) events", re.MULTILINE)
_UNREACHED = re.compile(
    r"^sink (?P<name>\S+): could not be reached; it lacks at least the (?P<n>[\d,]+) events", re.MULTILINE
)


def lacking_reported(stderr: str, kind: str) -> tuple[str, int] | None:
    """``("lacks" | "unreached", N)`` from the recorder's line for sink ``kind``, or None."""
    for how, pattern in (("lacks", _LACKS), ("unreached", _UNREACHED)):
        for m in pattern.finditer(stderr):
            if m["name"].startswith(kind):
                return how, int(m["n"].replace(",", ""))
    return None


def dead_letters(data: Path) -> dict[str, list[dict[str, Any]]]:
    """The dead-letter files of a data directory: file stem → its JSON lines."""
    import json

    out: dict[str, list[dict[str, Any]]] = {}
    folder = data / "dead-letter"
    if folder.is_dir():
        for f in sorted(folder.glob("*.jsonl")):
            out[f.stem] = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return out
