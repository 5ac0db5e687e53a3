"""The simulator's REST API takes tickers in the real service's forms (X:BTCUSD, C:EURUSD, I:SPX, O:...)."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tickwire.cli.app import app
from tickwire.massive.rest import AsyncRestClient
from tickwire.sim import MassiveSimulator

HOUR = 3_600_000


@pytest.mark.parametrize(
    ("ticker", "stream_form"),
    [
        ("X:BTCUSD", "BTC-USD"),
        ("x:ethusd", "ETH-USD"),
        ("C:EURUSD", "EUR/USD"),
        ("I:SPX", "I:SPX"),
        ("O:SPY251219C00600000", "O:SPY251219C00600000"),
        ("AAPL", "AAPL"),
    ],
)
async def test_rest_finds_bars_for_the_real_ticker_forms(ticker: str, stream_form: str) -> None:
    async with MassiveSimulator(seed=3, rest=True) as sim:
        assert sim.rest is not None
        now = sim.now_ms()
        async with AsyncRestClient("k", base_url=sim.rest_url, dotenv_path=None) as client:
            bars = await client.aggs(ticker, 1, "minute", now - HOUR, now)
        cluster = {"X": "crypto", "x": "crypto", "C": "forex", "I": "indices", "O": "options"}.get(
            ticker[0] if ticker[1:2] == ":" else "", "stocks"
        )
        model = [b for b in sim.bars(cluster, stream_form, now - HOUR, now) if b.end <= now]
        assert len(bars) > 0 and [b.close for b in bars][:5] == [b.close for b in model][:5]


async def test_an_unknown_ticker_is_still_not_found() -> None:
    async with MassiveSimulator(seed=3, rest=True) as sim:
        now = sim.now_ms()
        async with AsyncRestClient("k", base_url=sim.rest_url, dotenv_path=None) as client:
            assert len(await client.aggs("X:NOPEUSD", 1, "minute", now - HOUR, now)) == 0
            assert len(await client.aggs("BTCUSD", 1, "minute", now - HOUR, now)) == 0  # no class prefix


def test_the_bars_help_example_finds_data(tmp_path: Path) -> None:
    """``tickwire bars X:BTCUSD --sim`` (the ticker its --help names) downloads bars."""
    out = tmp_path / "btc.parquet"
    now = int(time.time() * 1000)
    rng = ["--from", str(now - HOUR), "--to", str(now - 60_000)]
    result = CliRunner().invoke(app, ["bars", "X:BTCUSD", *rng, "--sim", "-q", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows >= 30
