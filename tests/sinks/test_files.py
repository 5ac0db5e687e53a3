"""The rolling file sinks (Parquet, CSV, JSONL): files named by journal range, rolled by rows, bytes
and time, restarts that resume from the listing, and crashes between temp write and rename."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.sinks.feed import STOCKS, batches, journal_id
from tests.sinks.stores import Store, read_files, store
from tests.waiting import until
from tickwire.massive.models import EquityTrade
from tickwire.sinks import FileSink, ParquetSink, RollPolicy, SinkBatch, sink_from_url
from tickwire.sinks.files import RollingFileSink, file_name
from tickwire.sinks.rows import event_from_row

NAME = re.compile(r"^(?P<j>[a-z0-9]+)-(?P<s>\d{19})-(?P<e>\d{19})\.(parquet|csv|jsonl)$")


@pytest.fixture(params=["parquet", "csv", "jsonl"])
async def st(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async for s in store(request.param, tmp_path, roll=RollPolicy(rows=10)):
        yield s


def ranges(root: Path, table: str) -> list[tuple[int, int]]:
    out = []
    for f in sorted((root / table).iterdir()):
        m = NAME.match(f.name)
        assert m is not None, f"unexpected file {f.name}"
        out.append((int(m["s"]), int(m["e"])))
    return out


def root_of(sink: object) -> Path:
    assert isinstance(sink, RollingFileSink)
    return sink.root


async def test_rows_roll_into_files_named_by_their_journal_range(st: Store) -> None:
    j = journal_id()
    todo = batches(j, 35, 5)
    sink = st.make()
    await sink.open()
    for b in todo:
        await sink.write(b)
    root = root_of(sink)
    # three rolls of 10 rows; the last 5 are buffered, not yet held
    assert await sink.watermark(j) == todo[5].end
    assert len(st.all_rows()) == 30
    await sink.flush()
    assert await sink.watermark(j) == todo[-1].end
    await sink.close()
    spans = ranges(root, "stocks_trades")
    assert spans == ranges(root, "stocks_quotes")  # one roll: one file per table, the same range
    assert [s for s, _ in spans[1:]] == [e for _, e in spans[:-1]] and spans[0][0] == todo[0].start
    for start, end in spans:  # each file holds rows of its range only
        for table in ("stocks_trades", "stocks_quotes"):
            rows = read_files([root / table / file_name(j, start, end, st.kind)])
            assert rows and all(jj == j and start <= p < end for jj, p in rows)
    assert len(st.all_rows()) == 35 and len(set(st.all_rows())) == 35


async def test_bytes_and_time_roll_too(tmp_path: Path) -> None:
    j = journal_id()
    by_bytes = ParquetSink(tmp_path / "b", STOCKS, roll=RollPolicy(bytes=2_000))
    await by_bytes.open()
    for b in batches(j, 60, 10):
        await by_bytes.write(b)
    assert len(list((tmp_path / "b" / "stocks_trades").iterdir())) >= 2
    await by_bytes.close()
    timed = FileSink(tmp_path / "t", STOCKS, "jsonl", roll=RollPolicy(seconds=0.2))
    await timed.open()
    await timed.write(batches(j, 6, 6)[0])
    folder = tmp_path / "t" / "stocks_trades"
    await until(lambda: folder.exists() and any(folder.iterdir()), 10, "the timed roll")  # no write, no flush
    assert await timed.watermark(j) == batches(j, 6, 6)[0].end
    await timed.close()


async def test_a_restart_resumes_from_the_listing_and_never_duplicates(st: Store) -> None:
    j = journal_id()
    todo = batches(j, 25, 5)
    crashed = st.make()
    await crashed.open()
    for b in todo:
        await crashed.write(b)
    await crashed.watermark(j)
    timer = crashed._timer  # a crash: the buffer (5 rows) is never committed
    timer.cancel()
    again = st.make()
    await again.open()
    held = await again.watermark(j)
    assert held == todo[3].end  # two rolls of 10
    for b in todo:  # the runner replays from the watermark; a replay of all of it is harmless too
        await again.write(b)
    await again.close()
    assert len(st.all_rows()) == 25 and len(set(st.all_rows())) == 25


@pytest.mark.parametrize("renamed", [0, 1])
async def test_a_crash_between_temp_write_and_rename_leaves_no_duplicate(st: Store, renamed: int) -> None:
    """``renamed`` = how many of the roll's two files (trades, quotes) were renamed before the crash."""
    j = journal_id()
    todo = batches(j, 20, 10)
    sink = st.make()
    await sink.open()
    await sink.write(todo[0])  # the first roll: committed
    await sink.write(todo[1])  # the second roll: its files are turned back into temps below
    await sink.close()
    root = root_of(sink)
    last = file_name(j, todo[1].start, todo[1].end, st.kind)
    for table in ("stocks_trades", "stocks_quotes")[renamed:]:
        os.replace(root / table / last, root / table / f".{last}.tmp")
    stray = root / "stocks_trades" / f".{file_name(j, todo[1].end, todo[1].end + 5, st.kind)}.tmp"
    stray.write_bytes(b"half a file")  # a roll that crashed while writing its temp file
    again = st.make()
    await again.open()
    expected = todo[1].end if renamed else todo[0].end
    assert await again.watermark(j) == expected
    assert not any(p.name.endswith(".tmp") for p in root.rglob("*"))
    for b in todo:
        await again.write(b)
    await again.close()
    assert len(st.all_rows()) == 20 and len(set(st.all_rows())) == 20


async def test_a_failed_roll_keeps_the_buffer_and_is_not_a_data_error(tmp_path: Path) -> None:
    j = journal_id()
    sink = FileSink(tmp_path / "csv", STOCKS, "csv", roll=RollPolicy(rows=1000))
    await sink.open()
    todo = batches(j, 12, 6)
    for b in todo:
        await sink.write(b)
    blocker = tmp_path / "csv" / "stocks_quotes"
    blocker.write_text("not a directory")  # the roll cannot make its folder (like a full disk)
    with pytest.raises(OSError) as err:
        await sink.flush()
    assert not sink.is_data_error(err.value)
    assert await sink.watermark(j) == 0
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "csv").rglob("*"))
    blocker.unlink()
    await sink.write(todo[-1])  # the runner retries the same batch: nothing new, the roll retried later
    await sink.close()
    assert await sink.watermark(j) == todo[-1].end
    rows = list((tmp_path / "csv" / "stocks_trades").iterdir()) + list(blocker.iterdir())
    assert len(rows) == 2


async def test_batches_of_another_journal_roll_the_buffer_first(tmp_path: Path) -> None:
    j1, j2 = journal_id(), journal_id()
    sink = ParquetSink(tmp_path / "pq", STOCKS)
    await sink.open()
    a, b = batches(j1, 6, 6)[0], batches(j2, 9, 9)[0]
    await sink.write(a)
    await sink.write(b)
    assert await sink.watermark(j1) == a.end and await sink.watermark(j2) == 0
    await sink.close()
    assert await sink.watermark(j2) == b.end
    with pytest.raises(ValueError, match="cannot name a file"):
        await sink.write(SinkBatch("../x", 0, 1))


def _json_lines(root: Path) -> list[dict[str, Any]]:
    return [
        msgspec.json.decode(line)
        for path in sorted(root.rglob("*.jsonl"))
        for line in path.read_bytes().splitlines()
    ]


@pytest.mark.parametrize("wire", [False, True])
async def test_json_lines_hold_the_normalized_rows_or_the_wire_form_when_asked(
    tmp_path: Path, wire: bool
) -> None:
    j = journal_id()
    sink = sink_from_url(f"jsonl:{tmp_path}" + ("?wire=1" if wire else ""), STOCKS)
    await sink.open()
    (b,) = batches(j, 9, 9)
    await sink.write(b)
    await sink.close()
    lines = _json_lines(tmp_path)
    trades = [line for line in lines if line["ev"] == "T"]
    assert len(lines) == 9 and trades and all(line["_journal"] == j for line in lines)
    for t in trades:
        if wire:
            assert {"sym", "p", "s", "t"} <= set(t) and "symbol" not in t
        else:
            spec = STOCKS.table_for(EquityTrade)
            assert spec is not None
            assert list(t)[:-2] == spec.column_names and t["ts"] == t["timestamp"] * 1_000_000
            del t["_journal"], t["_pos"]
            assert isinstance(event_from_row(spec, t), EquityTrade)
