"""Loading journals into sinks: the provider comes from the journal (Massive for old journals without
one), only stored events are written, loading twice adds nothing, and an unknown provider is a clear
error."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.record.memory_sink import MemorySink
from tickwire.errors import ConfigError
from tickwire.journal import JournalWriter, journal_provider
from tickwire.massive.tables import massive_tables
from tickwire.polymarket_us.tables import polymarket_tables
from tickwire.record import load_journal
from tickwire.record.runner import SinkCursor
from tickwire.record.tail import JournalChunks, JournalTail
from tickwire.sinks import DuckDBSink
from tickwire.sinks.base import batch_events

TRADE = b'[{"ev":"T","sym":"AAPL","p":%d.5,"s":100,"t":%d,"q":%d,"i":"%d","x":4}]'
STATUS = b'[{"ev":"status","status":"success","message":"authenticated"}]'
UNKNOWN = b'[{"ev":"ZZ","sym":"AAPL","v":1}]'
PM_TRADE = (
    b'{"requestId":"trade-1","subscriptionType":"SUBSCRIPTION_TYPE_TRADE","trade":{"marketSlug":"m",'
    b'"price":{"value":"0.42","currency":"USD"},"quantity":{"value":"5","currency":"USD"},'
    b'"tradeTime":"2023-11-14T22:13:20.000000001Z"}}'
)


def _journal(path: Path, meta: dict[str, object], frames: list[bytes]) -> Path:
    with JournalWriter(path, meta=meta) as w:
        for i, f in enumerate(frames):
            w.append(f, 1_000 + i, 1)
    return path


async def test_an_old_journal_without_a_provider_loads_as_massive(tmp_path: Path) -> None:
    frames = [TRADE % (i, 1_700_000_000_000 + i, i, i) for i in range(5)]
    journal = _journal(tmp_path / "j", {"market": "stocks", "feed": "realtime"}, [STATUS, *frames, UNKNOWN])
    provider, market = journal_provider(journal)
    assert (provider.name, market) == ("massive", "stocks")
    sink = DuckDBSink(tmp_path / "db.duckdb", massive_tables("stocks"))
    assert await load_journal(journal, [sink], batch_size=2) == 6  # 5 trades + the unknown event, no status
    again = DuckDBSink(tmp_path / "db.duckdb", massive_tables("stocks"))
    assert await load_journal(journal, [again]) == 0  # its watermark says it holds them all
    con = duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True)
    assert con.sql("SELECT sequence_number, price FROM stocks_trades ORDER BY 1").fetchall() == [
        (i, i + 0.5) for i in range(5)
    ]
    assert con.sql("SELECT type, data FROM stocks_unknown").fetchall() == [
        ("ZZ", '{"ev":"ZZ","sym":"AAPL","v":1}')
    ]
    con.close()


async def test_the_journal_names_its_provider_and_market(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j", {"provider": "polymarket_us", "market": "markets"}, [PM_TRADE])
    provider, market = journal_provider(journal)
    assert (provider.name, market) == ("polymarket_us", "markets")
    sink = MemorySink()
    assert await load_journal(journal, [sink]) == 1
    (trade,) = sink.store.rows.values()
    assert trade.event_type == "trade"
    assert polymarket_tables("markets").route(trade) == ("trade", "m")
    with pytest.raises(ConfigError, match="no market 'private-ish'"):
        journal_provider(journal, market="private-ish")


async def test_an_unknown_provider_is_named_with_the_known_ones(tmp_path: Path) -> None:
    journal = _journal(tmp_path / "j", {"provider": "kraken", "market": "spot"}, [PM_TRADE])
    with pytest.raises(ConfigError, match=r"unknown provider 'kraken'; choose one of massive, polymarket_us"):
        await load_journal(journal, [MemorySink()])
    provider, market = journal_provider(journal, provider="polymarket", market="markets")
    assert (provider.name, market) == ("polymarket_us", "markets")


class _BigBatches(MemorySink):
    """A sink that asks for batches of 40 events."""

    batch_events = 40


def test_the_disk_reader_merges_chunks_up_to_a_batch(tmp_path: Path) -> None:
    frames = [TRADE % (i, 1_700_000_000_000 + i, i, i) for i in range(100)]
    journal = _journal(tmp_path / "j", {"market": "stocks", "feed": "realtime"}, frames)
    provider, market = journal_provider(journal)
    small = JournalChunks(journal, 0, provider, market, max_bytes=300)  # a few records a read
    first = small.next()
    assert first is not None and 0 < len(first.events) < 10
    merged = small.next_events(40)
    assert merged is not None and 40 <= len(merged.events) < 50
    assert merged.start == first.end and merged.positions == sorted(merged.positions)
    rest = small.next_events(1_000)
    assert rest is not None and rest.start == merged.end
    assert len(first.events) + len(merged.events) + len(rest.events) == 100
    assert small.next_events(40) is None
    small.close()


def test_a_sink_stating_batch_events_gets_batches_that_large(tmp_path: Path) -> None:
    big, plain = _BigBatches(), MemorySink()
    assert batch_events(big, 10) == 40 and batch_events(big, 100) == 100 and batch_events(plain, 10) == 10
    journal = _journal(tmp_path / "j", {"market": "stocks", "feed": "realtime"}, [TRADE % (1, 2, 3, 4)])
    provider, market = journal_provider(journal)
    tail = JournalTail(journal, 0, provider, market, window_events=0)
    kw = {"tail": tail, "journal_dir": journal, "journal_id": "j", "provider": provider, "market": market}
    assert SinkCursor(big, dead_letter_dir=tmp_path, batch_size=10, **kw).batch_size == 40  # type: ignore[arg-type]
    assert SinkCursor(plain, dead_letter_dir=tmp_path, batch_size=10, **kw).batch_size == 10  # type: ignore[arg-type]
    assert DuckDBSink.batch_events >= 2 * 122_880  # a row group per table of a two-table batch
