"""The REST client against the simulator's REST API: pagination, retries, errors, tables."""

from __future__ import annotations

import itertools
import logging
import time

import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

from tickwire.errors import AuthError
from tickwire.massive.rest import BAR_COLUMNS, RateLimited
from tickwire.sim import MassiveSimulator, SimulatorThread
from tickwire.sim.rest import RestOptions

from .conftest import DENIED, KEY, async_client, rest_options, sync_client

HOUR = 3_600_000


async def test_multi_page_download_equals_single_page(sim: MassiveSimulator) -> None:
    now = sim.now_ms()
    async with async_client(sim) as client:
        whole = await client.aggs("AAPL", 1, "minute", now - HOUR, now)
        paged = await client.aggs("AAPL", 1, "minute", now - HOUR, now, limit=7)
    assert whole.pages == 1 and paged.pages >= 8
    assert len(whole) >= 55
    assert paged.rows == whole.rows
    pd.testing.assert_frame_equal(paged.to_pandas(), whole.to_pandas())


async def test_rest_bars_equal_the_market_model(sim: MassiveSimulator) -> None:
    now = sim.now_ms()
    async with async_client(sim) as client:
        bars = await client.aggs("MSFT", 1, "minute", now - HOUR // 2, now)
    model = [b for b in sim.bars("stocks", "MSFT", now - HOUR // 2, now) if b.end <= now]
    assert [
        (b.timestamp, b.open, b.high, b.low, b.close, b.volume, b.vwap, b.transactions) for b in bars
    ] == [(b.start, b.open, b.high, b.low, b.close, b.volume, b.vwap, b.transactions) for b in model][
        : len(bars)
    ]
    assert len(bars) >= len(model) - 1  # the model may have completed one more minute meanwhile


async def test_lazy_iteration_fetches_pages_on_demand(sim: MassiveSimulator) -> None:
    now = sim.now_ms()
    async with async_client(sim) as client:
        it = client.list_aggs("AAPL", 1, "minute", now - HOUR, now, limit=5)
        first = [bar async for bar in _take(it, 3)]
    assert len(first) == 3
    assert sim.rest is not None and sim.rest.stats.requests == 1


async def _take(it, n):  # type: ignore[no-untyped-def]
    async for item in it:
        yield item
        n -= 1
        if n == 0:
            return


async def test_trades_multi_page_equals_single_page(sim: MassiveSimulator) -> None:
    now = sim.now_ms()
    lo, hi = (now - 90_000) * 1_000_000, (now - 30_000) * 1_000_000
    async with async_client(sim) as client:
        whole = await client.trades("AAPL", timestamp_gte=lo, timestamp_lt=hi)
        paged = await client.trades("AAPL", timestamp_gte=lo, timestamp_lt=hi, limit=13)
    assert paged.pages > 3 and len(whole) > 40
    assert paged.rows == whole.rows
    model = sim.trades("stocks", "AAPL", lo // 1_000_000, hi // 1_000_000)
    assert [t.sip_timestamp for t in whole] == [t.timestamp * 1_000_000 for t in model]
    assert [t.price for t in whole] == [t.price for t in model]
    df = whole.to_pandas()
    assert str(df["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert df["timestamp"].is_monotonic_increasing


async def test_429_is_retried_after_retry_after() -> None:
    options = RestOptions(rate_limit=1, per=1.0)
    async with MassiveSimulator(seed=5, rest=options) as sim:
        now = sim.now_ms()
        async with async_client(sim) as client:
            await client.aggs("AAPL", 1, "minute", now - 600_000, now)
            started = time.monotonic()
            bars = await client.aggs("AAPL", 1, "minute", now - 600_000, now)
            waited = time.monotonic() - started
        assert sim.rest is not None and sim.rest.stats.rate_limited >= 1
    assert len(bars) >= 9
    assert waited >= 0.5  # Retry-After: 1 (the window's remainder), not the 10 ms backoff


async def test_429_gives_up_with_rate_limited(sim: MassiveSimulator) -> None:
    assert sim.rest is not None
    sim.rest.fail_next(429, count=10, retry_after=0.01)
    now = sim.now_ms()
    async with async_client(sim, max_retries=2) as client:
        with pytest.raises(RateLimited, match="429"):
            await client.aggs("AAPL", 1, "minute", now - 600_000, now)
    assert sim.rest.stats.injected == 3


async def test_server_errors_are_retried(sim: MassiveSimulator) -> None:
    assert sim.rest is not None
    sim.rest.fail_next(503, count=2)
    now = sim.now_ms()
    async with async_client(sim) as client:
        bars = await client.aggs("AAPL", 1, "minute", now - 600_000, now)
    assert len(bars) >= 9 and sim.rest.stats.injected == 2


async def test_401_is_a_clear_auth_error(sim: MassiveSimulator) -> None:
    now = sim.now_ms()
    async with async_client(sim, key="wrong-key-123") as client:
        with pytest.raises(AuthError) as info:
            await client.aggs("AAPL", 1, "minute", now - 600_000, now)
    text = str(info.value)
    assert "401" in text and "MASSIVE_API_KEY" in text and "Unknown API Key" in text
    assert "wrong-key-123" not in text
    assert sim.rest is not None and sim.rest.stats.requests == 1  # not retried


async def test_403_names_the_plan(sim: MassiveSimulator) -> None:
    now = sim.now_ms()
    async with async_client(sim, key=DENIED) as client:
        with pytest.raises(AuthError, match="plan") as info:
            await client.aggs("AAPL", 1, "minute", now - 600_000, now)
    assert "403" in str(info.value) and DENIED not in str(info.value)


async def test_empty_range_gives_an_empty_frame_with_columns(sim: MassiveSimulator) -> None:
    future = sim.now_ms() + 10 * HOUR
    async with async_client(sim) as client:
        bars = await client.aggs("AAPL", 1, "minute", future, future + HOUR)
        unknown = await client.aggs("NOSUCH", 1, "minute", future - 2 * HOUR, future - HOUR)
    for empty in (bars, unknown):
        assert empty.empty and len(empty) == 0 and "no 1 minute bars" in empty.note
        df = empty.to_pandas()
        assert tuple(df.columns) == BAR_COLUMNS and len(df) == 0
        assert str(df["timestamp"].dtype) == "datetime64[ms, UTC]"
        assert empty.to_polars().columns == list(BAR_COLUMNS)


async def test_frames_dtypes_tz_and_exports(sim: MassiveSimulator, tmp_path) -> None:  # type: ignore[no-untyped-def]
    now = sim.now_ms()
    async with async_client(sim) as client:
        bars = await client.aggs("AAPL", 1, "minute", now - HOUR // 4, now)
    df = bars.to_pandas()
    assert tuple(df.columns) == BAR_COLUMNS
    assert str(df["timestamp"].dtype) == "datetime64[ms, UTC]"
    assert all(str(df[c].dtype) == "float64" for c in ("open", "high", "low", "close", "volume", "vwap"))
    assert str(df["transactions"].dtype) == "int64"
    assert df["timestamp"].is_monotonic_increasing
    assert df["timestamp"].iloc[0].value // 1_000_000 == bars.rows[0].timestamp

    ny = bars.to_pandas(tz="America/New_York")
    assert str(ny["timestamp"].dtype) == "datetime64[ms, America/New_York]"
    assert (ny["timestamp"] == df["timestamp"]).all()  # same instants
    assert ny["timestamp"].iloc[0].hour == df["timestamp"].iloc[0].tz_convert("America/New_York").hour

    pf = bars.to_polars(tz="Asia/Tokyo")
    assert pf.schema["timestamp"] == pl.Datetime("ms", "Asia/Tokyo")
    assert pf["close"].to_list() == df["close"].tolist()

    parquet = bars.save(tmp_path / "aapl.parquet")
    assert pq.read_table(parquet).equals(bars.to_arrow())
    csv = bars.save(tmp_path / "aapl.csv")
    back = pd.read_csv(csv, parse_dates=["timestamp"])
    assert back["close"].tolist() == df["close"].tolist()
    assert (back["timestamp"] == df["timestamp"]).all()
    with pytest.raises(ValueError, match=r"csv or \.parquet"):
        bars.save(tmp_path / "aapl.xlsx")


def test_sync_client_matches_async_and_hides_the_key(
    sim_thread: SimulatorThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    now = sim_thread.simulator.now_ms()
    with sync_client(sim_thread.rest_url, auth="query") as client:
        assert KEY not in repr(client)
        whole = client.aggs("NVDA", 1, "minute", now - HOUR // 2, now)
        lazy = list(
            itertools.islice(client.list_aggs("NVDA", 1, "minute", now - HOUR // 2, now, limit=4), 10)
        )
    assert whole.pages == 1 and len(whole) >= 25
    assert lazy == whole.rows[:10]
    assert "apiKey=****" in caplog.text  # httpx logged the URLs, masked
    assert KEY not in caplog.text


def test_no_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from tickwire.errors import ConfigError
    from tickwire.massive.rest import RestClient

    monkeypatch.delenv("MASSIVE_API_KEY", raising=False)
    monkeypatch.delenv("POLYGON_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="MASSIVE_API_KEY"):
        RestClient(**rest_options("http://127.0.0.1:1"))


async def test_previous_close_and_snapshot(sim: MassiveSimulator) -> None:
    ticker = "I:VIX"
    async with async_client(sim) as client:
        prev = await client.previous_close(ticker)
        snap = await client.snapshot(ticker, market="indices")
    assert prev is not None and prev.ticker == ticker
    assert prev.low is not None and prev.high is not None and prev.low <= prev.close <= prev.high  # type: ignore[operator]
    assert snap is not None and snap.prev_day is not None and snap.prev_day.close == prev.close
    assert snap.day is not None and snap.min is not None and snap.last_trade is not None
