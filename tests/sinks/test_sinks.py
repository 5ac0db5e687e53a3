"""Sink runner (bounded queue, retries, flush on close) and the file sinks (Parquet, CSV, JSONL)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import duckdb
import pytest

from tickwire.errors import ConfigError
from tickwire.events import Event
from tickwire.massive.models import EquityAggMin, EquityTrade
from tickwire.massive.tables import massive_tables
from tickwire.sinks import FileSink, ParquetSink, SinkRunner, sink_from_url
from tickwire.sinks.base import mask_url

T0 = 1_700_000_000_000
STOCKS = massive_tables("stocks")


def trades(n: int, start: int = 0) -> list[Event]:
    return [
        EquityTrade(
            symbol="AAPL" if i % 2 else "MSFT",
            price=100.0 + i,
            size=100,
            timestamp=T0 + i * 1000,
            sequence_number=i,
            conditions=[12, 37],
            id=str(i),
        )
        for i in range(start, start + n)
    ]


class Flaky:
    """A sink that fails its first ``fail`` writes, then records what it got."""

    name = "flaky"

    def __init__(self, fail: int = 0, delay: float = 0.0) -> None:
        self.fail = fail
        self.delay = delay
        self.got: list[Event] = []
        self.closed = False

    async def open(self) -> None:
        pass

    async def write(self, events: list[Event]) -> None:
        await asyncio.sleep(self.delay)
        if self.fail:
            self.fail -= 1
            raise ConnectionError("down")
        self.got += events

    async def close(self) -> None:
        self.closed = True


async def test_runner_retries_the_same_batch_and_flushes_on_close() -> None:
    from tickwire.backoff import Backoff

    sink = Flaky(fail=3)
    runner = SinkRunner(sink, flush_interval=0.01, backoff=Backoff(base=0.01, cap=0.02))
    await runner.start()
    batch = trades(100)
    for i in range(0, 100, 10):
        runner.offer(batch[i : i + 10])
    await runner.close()
    assert sink.got == batch and sink.closed
    h = runner.health()
    assert (h.written, h.pending, h.dropped, h.errors, h.healthy) == (100, 0, 0, 3, True)


async def test_a_slow_sink_never_blocks_offer_and_drops_are_counted() -> None:
    sink = Flaky(delay=0.2)
    runner = SinkRunner(sink, max_pending=50, batch_size=10, flush_interval=0.01)
    await runner.start()
    loop = asyncio.get_running_loop()
    t = loop.time()
    for i in range(0, 1000, 10):
        runner.offer(trades(10, i))
    assert loop.time() - t < 0.1  # offering never waited on the sink
    assert runner.health().dropped > 0 and runner.pending <= 50
    await runner.close()
    h = runner.health()
    assert h.written + h.dropped == 1000 and len(sink.got) == h.written


async def test_parquet_dataset_is_partitioned_by_channel_and_date_and_readable(tmp_path: Path) -> None:
    sink = ParquetSink(tmp_path, STOCKS)
    await sink.open()
    day2 = [EquityTrade(symbol="AAPL", price=1.0, size=1, timestamp=T0 + 86_400_000, sequence_number=9)]
    bar = EquityAggMin(
        symbol="AAPL",
        open=1.0,
        close=2.0,
        high=2.0,
        low=1.0,
        volume=10,
        start_timestamp=T0,
        end_timestamp=T0 + 60_000,
    )
    await sink.write([*trades(10), *day2, bar])
    await sink.write(trades(5, 10))
    parts = sorted(
        p.relative_to(tmp_path).parent.as_posix()
        for p in await asyncio.to_thread(lambda: list(tmp_path.rglob("*.parquet")))
    )
    assert set(parts) == {
        "channel=stocks_trades/date=2023-11-14",
        "channel=stocks_trades/date=2023-11-15",
        "channel=stocks_aggs_minute/date=2023-11-14",
    }
    rows = duckdb.sql(
        f"SELECT channel, count(*), sum(size) FROM read_parquet('{tmp_path}/*/*/*.parquet', hive_partitioning=true, "
        "union_by_name=true) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [("stocks_aggs_minute", 1, None), ("stocks_trades", 16, 1501)]


async def test_csv_and_jsonl_files(tmp_path: Path) -> None:
    csv_sink = FileSink(tmp_path / "csv", STOCKS, "csv")
    jsonl_sink = FileSink(tmp_path / "jsonl", STOCKS, "jsonl")
    for s in (csv_sink, jsonl_sink):
        await s.open()
        await s.write(trades(3))
        await s.write(trades(2, 3))
    lines = (tmp_path / "csv" / "stocks_trades" / "2023-11-14.csv").read_text().splitlines()
    assert len(lines) == 6 and lines[0].startswith('"ev","symbol"')
    assert '"[12,37]"' in lines[1]
    objs = [
        json.loads(x)
        for x in (tmp_path / "jsonl" / "stocks_trades" / "2023-11-14.jsonl").read_text().splitlines()
    ]
    assert [o["q"] for o in objs] == [0, 1, 2, 3, 4] and objs[0]["ev"] == "T" and objs[0]["c"] == [12, 37]


def test_sink_urls_and_errors() -> None:
    sink, policy = sink_from_url("postgresql://u:secret@h/db?schema=md&policy=block", STOCKS)
    assert policy == "block" and "secret" not in sink.name and "schema" not in getattr(sink, "url", "")
    assert sink_from_url("parquet:/tmp/x", STOCKS)[0].name == "parquet:/tmp/x"
    with pytest.raises(ConfigError, match="unknown sink") as err:
        sink_from_url("ftp://u:pw@x", STOCKS)
    assert "pw" not in str(err.value)
    with pytest.raises(ConfigError, match="policy"):
        sink_from_url("redis://x?policy=maybe", STOCKS)
    assert mask_url("redis://:tok@h:1") == "redis://:****@h:1"


async def test_polymarket_decimals_stay_exact_in_duckdb_parquet_and_csv(tmp_path: Path) -> None:
    from decimal import Decimal

    from tickwire.polymarket_us.events import Trade
    from tickwire.polymarket_us.tables import polymarket_tables
    from tickwire.sinks import DuckDBSink

    markets = polymarket_tables("markets")
    ns = T0 * 1_000_000
    fills = [
        Trade(
            request_id="t",
            market_slug="m",
            price=Decimal("0.123456789"),
            quantity=Decimal(q),
            trade_time=ns + i,
        )
        for i, q in enumerate(("0.1", "0.2", "0", "1234567.5"))
    ]
    odd = Trade(
        request_id="t", market_slug="m", price=Decimal("NaN"), quantity=Decimal("1e-12"), trade_time=ns
    )
    duck = DuckDBSink(tmp_path / "db.duckdb", markets)
    sinks = [duck, ParquetSink(tmp_path / "pq", markets), FileSink(tmp_path / "csv", markets, "csv")]
    for s in sinks:
        await s.open()
        await s.write([*fills, odd])  # a value a DECIMAL(38, 9) cannot hold is stored as null, not refused
        await s.close()
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    assert con.sql("SELECT sum(quantity), typeof(sum(quantity)) FROM polymarket_us_trades").fetchall() == [
        (Decimal("1234567.800000000"), "DECIMAL(38,9)")
    ]
    assert con.sql("SELECT price, quantity FROM polymarket_us_trades WHERE price IS NULL").fetchall() == [
        (None, Decimal("0E-9"))
    ]
    con.close()
    pq = duckdb.sql(f"SELECT sum(price) FROM read_parquet('{tmp_path}/pq/*/*/*.parquet')").fetchall()
    assert pq == [(Decimal("0.493827156"),)]
    lines = (tmp_path / "csv" / "polymarket_us_trades" / "2023-11-14.csv").read_text().splitlines()
    assert len(lines) == 6 and '"0.123456789","0.100000000"' in lines[1] and '"0.000000000"' in lines[3]
