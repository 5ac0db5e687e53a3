"""DuckDB specifics: tables that exist only once committed, tables of an older tickwire, chunked inserts."""

from __future__ import annotations

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
