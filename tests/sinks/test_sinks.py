"""The sink contract, for DuckDB, PostgreSQL, Parquet, CSV and JSONL alike: watermarks stored with
the rows, replays that add nothing, poison that is a data error and leaves the sink working."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.sinks.feed import STOCKS, batch, batches, hostile, journal_id, market, with_control
from tests.sinks.stores import KINDS, Store, store
from tickwire.errors import ConfigError
from tickwire.journal.position import position
from tickwire.sinks import (
    DuckDBSink,
    FileSink,
    ParquetSink,
    PostgresSink,
    Sink,
    SinkBatch,
    sink_from_url,
)
from tickwire.sinks.base import mask_url


@pytest.fixture(params=KINDS)
async def st(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async for s in store(request.param, tmp_path):
        yield s


async def fill(sink: Sink, todo: list[SinkBatch]) -> None:
    await sink.open()
    try:
        for b in todo:
            await sink.write(b)
    finally:
        await sink.close()


async def test_watermark_round_trip(st: Store) -> None:
    j, other = journal_id(), journal_id()
    todo = batches(j, 40, 10)
    sink = st.make()
    await sink.open()
    assert await sink.watermark(j) == 0
    for b in todo:
        await sink.write(b)
    await sink.flush()
    assert await sink.watermark(j) == todo[-1].end
    assert await sink.watermark(other) == 0
    await sink.close()
    again = st.make()  # a restart: the watermark comes from what is stored
    await again.open()
    assert await again.watermark(j) == todo[-1].end
    await again.close()
    assert len(st.all_rows()) == 40


async def test_replaying_the_same_batches_adds_nothing(st: Store) -> None:
    j = journal_id()
    todo = batches(j, 30, 7)
    await fill(st.make(), todo)
    first = st.all_rows()
    await fill(st.make(), todo)  # the whole journal again, into a new sink object
    sink = st.make()
    await sink.open()
    for b in todo:  # and again within one sink's life
        await sink.write(b)
    await sink.close()
    assert st.all_rows() == first and len(first) == 30
    assert sorted(p for _, p in first) == sorted(p for b in todo for p in b.positions)


async def test_a_batch_straddling_the_watermark_writes_only_the_new_part(st: Store) -> None:
    j = journal_id()
    evs = market(20)
    await fill(st.make(), [batch(j, 0, evs[:10])])
    held = st.all_rows()
    await fill(st.make(), [batch(j, 5, evs[5:20])])  # 5 old events, 10 new ones
    rows = st.all_rows()
    assert len(rows) == 20 and set(held) <= set(rows)
    assert len({p for _, p in rows}) == 20


async def test_an_empty_batch_moves_the_watermark_and_control_events_are_not_stored(st: Store) -> None:
    j = journal_id()
    sink = st.make()
    await sink.open()
    await sink.write(with_control(j, 0, market(4)))
    await sink.write(SinkBatch(j, position(2), position(100)))
    await sink.flush()
    assert await sink.watermark(j) == position(100)
    await sink.close()
    assert len(st.all_rows()) == 4
    again = st.make()
    await again.open()
    assert await again.watermark(j) == position(100)
    await again.close()


async def test_hostile_values_are_data_errors_and_the_sink_goes_on(st: Store) -> None:
    j = journal_id()
    sink = st.make()
    await sink.open()
    n = 0
    outcome: dict[str, str] = {}
    for name, ev in hostile().items():
        await sink.write(batch(j, n, market(2, n)))
        n += 2
        try:
            await sink.write(batch(j, n, [ev]))
            outcome[name] = "written"
        except Exception as exc:
            assert sink.is_data_error(exc), f"{name}: {type(exc).__name__}: {exc}"
            assert "\n" not in str(exc).strip() or st.kind == "postgres"
            outcome[name] = "refused"
            await sink.write(SinkBatch(j, position(n // 3, n % 3), batch(j, n, [ev]).end))  # dead-lettered
        n += 1
    await sink.write(batch(j, n, market(2, n)))  # the connection / buffer is fine after all of it
    n += 2
    await sink.flush()
    assert await sink.watermark(j) == batch(j, n - 1, market(1)).end
    await sink.close()
    refused = {k for k, v in outcome.items() if v == "refused"}
    expected = {
        "duckdb": {"size 2**63", "t far away"},
        "parquet": {"size 2**63", "t far away"},
        "csv": {"size 2**63", "t far away"},
        "jsonl": set(),  # JSON holds any integer, a NUL and long strings
        "postgres": {"size 2**63", "t far away", "NUL in symbol", "2 MB string"},
    }[st.kind]
    assert refused == expected
    assert len(st.all_rows()) == 10 + 4 - len(refused)


def test_connection_errors_are_not_data_errors(tmp_path: Path) -> None:
    import duckdb
    import psycopg

    pg = PostgresSink("postgresql://u@127.0.0.1:1/db", STOCKS)
    assert not pg.is_data_error(psycopg.OperationalError("connection refused"))
    assert not pg.is_data_error(psycopg.InterfaceError("the connection is closed"))
    assert not pg.is_data_error(ConnectionRefusedError())
    duck = DuckDBSink(tmp_path / "x.duckdb", STOCKS)
    assert not duck.is_data_error(duckdb.IOException("Could not set lock on file"))
    assert not duck.is_data_error(duckdb.ConnectionException("closed"))
    assert duck.is_data_error(duckdb.ConversionException("bad")) and duck.is_data_error(OverflowError())
    files = ParquetSink(tmp_path / "p", STOCKS)
    assert not files.is_data_error(OSError(28, "No space left on device"))


async def test_postgres_down_is_a_connection_error() -> None:
    pg = PostgresSink("postgresql://u@127.0.0.1:1/db", STOCKS, connect_timeout=2)
    with pytest.raises(Exception) as err:
        await pg.open()
    assert not pg.is_data_error(err.value)
    await pg.close()


def test_sink_urls_and_errors(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "tickwire.sinks"):
        pg = sink_from_url("postgresql://u:secret@h/db?schema=md&policy=block", STOCKS)
    assert isinstance(pg, PostgresSink) and pg.schema == "md" and "secret" not in pg.name
    assert "policy" not in pg.url and "ignored" in caplog.text and "secret" not in caplog.text
    assert sink_from_url("parquet:/tmp/x", STOCKS).name == "parquet:/tmp/x"
    csv = sink_from_url("csv:/tmp/c?rows=10&bytes=2MiB&seconds=0.5", STOCKS)
    assert isinstance(csv, FileSink) and csv.fmt == "csv"
    assert (csv.roll.rows, csv.roll.bytes, csv.roll.seconds) == (10, 2 << 20, 0.5)
    jl = sink_from_url("jsonl:/tmp/j?bytes=1000", STOCKS)
    assert isinstance(jl, FileSink) and jl.roll.bytes == 1000 and jl.roll.rows == 1_000_000
    assert isinstance(sink_from_url("duckdb:/tmp/d.duckdb", STOCKS), DuckDBSink)
    with pytest.raises(ConfigError, match="unknown sink") as err:
        sink_from_url("ftp://u:pw@x", STOCKS)
    assert "pw" not in str(err.value)
    for bad in ("parquet:/tmp/x?rows=0", "csv:/tmp/x?seconds=soon", "jsonl:/tmp/x?bytes=lots"):
        with pytest.raises(ConfigError, match="positive number"):
            sink_from_url(bad, STOCKS)
    with pytest.raises(ConfigError, match="needs a path"):
        sink_from_url("duckdb:", STOCKS)
    assert mask_url("redis://:tok@h:1") == "redis://:****@h:1"


def test_the_public_names() -> None:
    import tickwire.sinks as sinks

    assert not {"SinkRunner", "SinkHealth", "SinkPolicy"} & set(sinks.__all__)
    assert {"Sink", "SinkBatch", "sink_from_url", "RollPolicy"} <= set(sinks.__all__)


@pytest.fixture(params=[k for k in KINDS if k != "jsonl"])  # JSON lines hold any integer
async def refusing(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async for s in store(request.param, tmp_path):
        yield s


async def test_a_batch_failing_in_its_second_table_leaves_neither_rows_nor_watermark(refusing: Store) -> None:
    from tickwire.massive.models import EquityQuote

    st = refusing
    j = journal_id()
    bad_quote = EquityQuote(symbol="MSFT", bid_size=2**63, timestamp=1_700_000_000_000)
    sink = st.make()
    await sink.open()
    with pytest.raises(Exception) as err:
        await sink.write(batch(j, 0, [*market(2), bad_quote]))  # trades first, then the bad quote
    assert sink.is_data_error(err.value)
    await sink.flush()
    assert await sink.watermark(j) == 0
    await sink.write(batch(j, 0, market(2)))
    await sink.close()
    assert len(st.all_rows()) == 2
