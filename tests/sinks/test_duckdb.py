"""DuckDB specifics: tables that exist only once committed, tables of an older tickwire, chunked inserts."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import duckdb
import pytest

from tests.sinks.feed import STOCKS, batch, hostile, journal_id, market
from tickwire.sinks import DuckDBSink
from tickwire.sinks import duckdb as duckdb_sink
from tickwire.sinks.duckdb import WATERMARKS
from tickwire.tables import columns_of


async def test_a_failed_first_write_does_not_leave_the_sink_believing_the_table_exists(
    tmp_path: Path,
) -> None:
    """Issue 14: ``_created`` was set inside the transaction that failed, so every later write said
    "table does not exist" and the sink stayed wedged."""
    j = journal_id()
    sink = DuckDBSink(tmp_path / "db.duckdb", STOCKS, release_every=None)
    await sink.open()
    try:
        await sink.write(batch(j, 0, [hostile()["size 2**63"]]))
    except Exception as exc:
        assert sink.is_data_error(exc)
    else:
        raise AssertionError("a size of 2**63 was stored in a BIGINT")
    await sink.write(batch(j, 1, market(3, 1)))
    await sink.close()
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    assert con.sql("SELECT count(*) FROM stocks_trades").fetchall() == [(2,)]
    assert con.sql(f"SELECT journal, pos FROM {WATERMARKS}").fetchall() == [
        (j, batch(j, 1, market(3, 1)).end)
    ]
    con.close()


async def test_a_table_of_an_older_tickwire_gets_the_position_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    spec = STOCKS.table_for(type(market(1)[0]))
    assert spec is not None
    con = duckdb.connect(str(path))
    cols = ", ".join(f'"{c.name}" {"TIMESTAMP" if c.type == "ts" else "VARCHAR"}' for c in spec.columns)
    con.execute(f'CREATE TABLE "{spec.name}" ({cols})')
    con.execute(f"INSERT INTO \"{spec.name}\" (ev, symbol) VALUES ('T', 'OLD')")
    con.close()
    assert columns_of(spec, market(1))  # (the spec is the one the sink uses)
    j = journal_id()
    sink = DuckDBSink(path, STOCKS)
    await sink.open()
    await sink.write(batch(j, 0, market(3)))
    await sink.close()
    con = duckdb.connect(str(path), read_only=True)
    got = con.sql(f'SELECT symbol, _journal IS NULL FROM "{spec.name}" ORDER BY _pos NULLS FIRST').fetchall()
    con.close()
    assert got == [("OLD", True), ("AAPL", False), ("AAPL", False)]


async def test_rows_go_in_chunks_and_a_bad_chunk_rolls_the_whole_batch_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks are converted while the previous one is inserted; a value refused in a later chunk
    (the conversion fails while an insert runs) must still leave nothing of the batch behind."""
    monkeypatch.setattr(duckdb_sink, "CHUNK_ROWS", 7)
    j = journal_id()
    sink = DuckDBSink(tmp_path / "db.duckdb", STOCKS, release_every=None)
    await sink.open()
    poisoned = [*market(40), hostile()["size 2**63"], *market(5, 40)]
    with pytest.raises(Exception) as refused:
        await sink.write(batch(j, 0, poisoned))
    assert sink.is_data_error(refused.value)
    assert await sink.watermark(j) == 0
    good = batch(j, 0, market(40))
    await sink.write(good)
    await sink.write(good)  # a replay adds nothing
    await sink.close()
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    rows = con.sql(
        "SELECT _pos FROM stocks_trades UNION ALL SELECT _pos FROM stocks_quotes ORDER BY 1"
    ).fetchall()
    assert [p for (p,) in rows] == good.positions  # each event once, none of the refused batch
    assert con.sql(f"SELECT pos FROM {WATERMARKS}").fetchall() == [(good.end,)]
    con.close()


_READER = """
import sys, time, duckdb
deadline = time.monotonic() + float(sys.argv[2])
while True:
    try:
        con = duckdb.connect(sys.argv[1], read_only=True)
    except duckdb.IOException:
        if time.monotonic() > deadline:
            sys.exit("never got in")
        time.sleep(0.01)
        continue
    print(con.sql("SELECT count(*) FROM stocks_trades").fetchall()[0][0])
    con.close()
    break
"""


async def _read_from_another_process(path: Path, within: float) -> int | None:
    """The rows another process counts, trying to open the file for ``within`` seconds (None: never
    got in). DuckDB's lock is per process: a reader in this one would not see it."""
    reader = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _READER, str(path), str(within), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await reader.communicate()
    return int(out) if reader.returncode == 0 else None


async def test_an_idle_sink_lets_go_of_the_file_in_time(tmp_path: Path) -> None:
    """CI: ``tickwire query`` could not open the file while a recorder ran. The sink let go only at
    the end of a call held long enough, and the watermark read that follows each write took the
    file back at once: on a quiet stream the file stayed locked until the next event."""
    path = tmp_path / "db.duckdb"
    j = journal_id()
    sink = DuckDBSink(path, STOCKS, release_every=0.3)
    await sink.open()
    written = batch(j, 0, market(10))
    await sink.write(written)
    assert await sink.watermark(j) == written.end
    assert await _read_from_another_process(path, 3.0) == 7  # its trades; the sink is idle, not closed
    assert await sink.watermark(j) == written.end
    await sink.close()


async def test_a_reader_gets_in_while_the_sink_writes_back_to_back(tmp_path: Path) -> None:
    """The gap after each release lets a reader in even when the sink is catching up (a write, the
    watermark, the next write at once)."""
    path = tmp_path / "db.duckdb"
    j = journal_id()
    sink = DuckDBSink(path, STOCKS, release_every=0.2)
    await sink.open()
    await sink.write(batch(j, 0, market(50)))
    pos = 50
    reading = asyncio.ensure_future(_read_from_another_process(path, 10.0))
    while not reading.done():
        written = batch(j, pos, market(50, pos))
        try:
            await sink.write(written)
            assert await sink.watermark(j) == written.end
        except duckdb.IOException:  # the reader has the file: the runner retries the same batch
            await asyncio.sleep(0.01)
            continue
        pos += 50
    await sink.close()
    counted = await reading
    assert counted is not None and counted >= 50


async def test_a_reopened_sink_reads_the_watermark_from_the_file(tmp_path: Path) -> None:
    """The watermark kept from the last commit answers only until the sink is closed or reopened:
    after that the file decides (it may have been replaced meanwhile)."""
    path = tmp_path / "db.duckdb"
    j = journal_id()
    sink = DuckDBSink(path, STOCKS, release_every=0.0, release_gap=0.0)
    await sink.open()
    written = batch(j, 0, market(5))
    await sink.write(written)
    assert await sink.watermark(j) == written.end
    await sink.close()
    path.unlink()  # the file is gone (replaced, restored from an older copy...)
    await sink.open()
    assert await sink.watermark(j) == 0
    await sink.write(written)  # and its tables are made again
    assert await sink.watermark(j) == written.end
    await sink.close()
