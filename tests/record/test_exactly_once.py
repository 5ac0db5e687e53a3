"""The recorder feeds every sink from the journal exactly once: down at start, down for good, poison
events, a hung write, a restart from the watermark, loading twice, two recorders on one directory."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.record.memory_sink import MemorySink, Store
from tests.waiting import until
from tickwire.errors import JournalError
from tickwire.events import Event
from tickwire.journal import journal_info
from tickwire.provider import get_provider
from tickwire.record import Recorder, load_journal
from tickwire.record.tail import JournalChunks
from tickwire.sim import MassiveSimulator

FAST = {
    "sink_flush_interval": 0.05,
    "sink_open_timeout": 1.0,
    "sink_write_timeout": 1.0,
    "flush_timeout": 5.0,
    "duckdb": False,
    "fsync_interval": None,
}


def _recorder(data: Path, sim: MassiveSimulator, sinks: list[MemorySink], **kw: object) -> Recorder:
    opts = {**FAST, **kw}
    return Recorder(
        data,
        url=sim.url,
        api_key="k",
        channels=["T.*", "Q.*"],
        sinks=sinks,
        client_options={"dotenv_path": None},
        **opts,  # type: ignore[arg-type]
    )


def _journal_events(data: Path) -> dict[tuple[str, int], Event]:
    """Every stored event of the journal by (journal id, position): what every sink must hold."""
    info = journal_info(data / "journal")
    reader = JournalChunks(data / "journal", 0, get_provider("massive"), "stocks")
    out: dict[tuple[str, int], Event] = {}
    while (chunk := reader.next()) is not None:
        out.update(((info.journal_id, p), e) for p, e in zip(chunk.positions, chunk.events, strict=True))
    reader.close()
    return out


def _sim() -> MassiveSimulator:
    return MassiveSimulator(seed=5, tick_interval=0.01, rate=50.0, close_timeout=0.3)


async def _record_for(rec: Recorder, until_events: int, store: Store | None = None) -> object:
    stop = asyncio.Event()
    run = asyncio.create_task(rec.run(stop))
    await until(lambda: rec.events >= until_events, 20, f"{until_events} events")
    if store is not None:
        await until(lambda: len(store.rows) > 0, 20, "rows in the sink")
    stop.set()
    return await run


async def test_every_journaled_event_reaches_the_sink_once(tmp_path: Path) -> None:
    store = Store()
    async with _sim() as sim:
        final = await _record_for(_recorder(tmp_path, sim, [MemorySink(store)]), 300, store)
    expected = _journal_events(tmp_path)
    assert len(expected) >= 300
    assert store.rows == expected
    assert store.duplicates == 0
    assert final.complete and final.outcomes[0].lacking == 0  # type: ignore[attr-defined]


async def test_a_sink_down_at_start_catches_up_and_never_holds_up_the_journal(tmp_path: Path) -> None:
    store = Store()
    sink = MemorySink(store)
    sink.down = True
    async with _sim() as sim:
        rec = _recorder(tmp_path, sim, [sink])
        stop = asyncio.Event()
        run = asyncio.create_task(rec.run(stop))
        await until(lambda: rec.events >= 200, 20, "events journaled while the sink is down")
        assert not store.rows
        assert rec.cursors[0].state in ("connecting", "failing")
        sink.down = False
        await until(lambda: len(store.rows) >= 200, 20, "the sink caught up")
        stop.set()
        final = await run
    assert store.rows == _journal_events(tmp_path)
    assert store.duplicates == 0 and final.complete


async def test_a_sink_down_for_good_is_reported_with_what_it_lacks(tmp_path: Path) -> None:
    sink = MemorySink()
    sink.down = True
    async with _sim() as sim:
        loop = asyncio.get_running_loop()
        started = loop.time()
        final = await _recorder(tmp_path, sim, [sink], flush_timeout=0.5).run(duration=1.0)
        took = loop.time() - started
    assert took < 1.0 + 0.5 + 3.0  # the duration plus the bounded flush, not forever
    (o,) = final.outcomes
    assert not final.complete and not o.complete
    assert o.lacking is None and o.lacking_at_least == len(_journal_events(tmp_path)) > 0
    assert "Down" in (o.last_error or "")


async def test_poison_events_go_to_dead_letters_and_the_sink_goes_on(tmp_path: Path) -> None:
    bad: set[str] = set()

    def poison(ev: Event) -> bool:
        size = getattr(ev, "size", None)
        if isinstance(size, (int, float)) and int(size) % 7 == 0:
            bad.add(repr(ev))
            return True
        return False

    store = Store()
    async with _sim() as sim:
        final = await _record_for(_recorder(tmp_path, sim, [MemorySink(store, poison=poison)]), 300, store)
    expected = _journal_events(tmp_path)
    refused = {k for k, e in expected.items() if poison(e)}
    assert refused, "the stream should hold some poison"
    assert set(store.rows) == set(expected) - refused
    (o,) = final.outcomes
    assert o.complete and o.dead_letters == len(refused)
    lines = (tmp_path / "dead-letter" / "memory_test.jsonl").read_text().splitlines()
    assert len(lines) == len(refused)
    first = json.loads(lines[0])
    assert first["error"].startswith("Refused: value out of range") and first["journal"] and first["event"]


async def test_a_hung_write_is_reported_and_retried(tmp_path: Path) -> None:
    store = Store()
    sink = MemorySink(store)
    sink.hang = True
    async with _sim() as sim:
        rec = _recorder(tmp_path, sim, [sink], sink_write_timeout=0.3)
        stop = asyncio.Event()
        run = asyncio.create_task(rec.run(stop))
        await until(lambda: bool(rec.cursors) and rec.cursors[0].errors > 0, 20, "the hung write timed out")
        health = rec.status().sinks[0]
        assert not health.healthy and health.state in ("failing", "connecting")
        assert health.last_error == "TimeoutError: no answer in 0.3 s"
        sink.hang = False
        await until(lambda: len(store.rows) > 100, 20, "writing again")
        stop.set()
        final = await run
    assert store.rows == _journal_events(tmp_path) and final.complete


async def test_a_restart_resumes_from_the_watermark_and_loading_twice_adds_nothing(tmp_path: Path) -> None:
    store = Store()
    async with _sim() as sim:
        await _record_for(_recorder(tmp_path, sim, [MemorySink(store)]), 150, store)
        first = dict(store.rows)
        # the sink misses the second run entirely...
        down = MemorySink(store)
        down.down = True
        await _recorder(tmp_path, sim, [down], flush_timeout=0.2).run(duration=0.5)
        # ...and the third run catches it up from its watermark before going on live
        await _record_for(_recorder(tmp_path, sim, [MemorySink(store)]), 100, store)
    expected = _journal_events(tmp_path)
    assert len(expected) > len(first)
    assert store.rows == expected and store.duplicates == 0
    writes = store.writes
    assert await load_journal(tmp_path / "journal", [MemorySink(store)]) == 0
    assert store.writes == writes and store.rows == expected


async def test_a_second_recorder_on_the_same_directory_is_refused(tmp_path: Path) -> None:
    async with _sim() as sim:
        first = _recorder(tmp_path, sim, [])
        stop = asyncio.Event()
        run = asyncio.create_task(first.run(stop))
        await until(lambda: first.events > 0, 20, "the first recorder running")
        with pytest.raises(JournalError, match="in use by pid"):
            await _recorder(tmp_path, sim, []).run(duration=0.1)
        stop.set()
        await run
