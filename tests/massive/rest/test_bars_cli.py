"""``tickwire bars --sim``: the seed-003 tutorial in one command; the chart is a real candlestick PNG."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from PIL import Image
from typer.testing import CliRunner

from tickwire.cli.app import app
from tickwire.massive.rest.plot import DOWN, UP

START = 1_704_196_800_000  # 2024-01-02 12:00 UTC
RANGE = ["--from", str(START), "--to", str(START + 45 * 60_000)]


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def test_bars_command_writes_a_candlestick_png_and_parquet(tmp_path: Path) -> None:
    png, parquet = tmp_path / "aapl.png", tmp_path / "aapl.parquet"
    result = CliRunner().invoke(
        app,
        ["bars", "AAPL", *RANGE, "--timespan", "minute", "--plot", str(png), "--out", str(parquet), "--sim"],
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(parquet)
    assert table.num_rows == 46 and table.column_names[:5] == ["timestamp", "open", "high", "low", "close"]
    with Image.open(png) as img:
        assert img.format == "PNG" and img.size == (1200, 700)
        colors = {c for _, c in img.convert("RGB").getcolors(maxcolors=1_000_000) or []}
    assert _rgb(UP) in colors and _rgb(DOWN) in colors  # up and down candles were drawn


def test_bars_command_html_and_csv_with_tz(tmp_path: Path) -> None:
    html, csv = tmp_path / "aapl.html", tmp_path / "aapl.csv"
    result = CliRunner().invoke(
        app,
        [
            "bars",
            "MSFT",
            *RANGE,
            "--plot",
            str(html),
            "--out",
            str(csv),
            "--sim",
            "--tz",
            "America/New_York",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"type":"candlestick"' in html.read_text()
    df = pd.read_csv(csv)
    assert len(df) == 46 and df["timestamp"].iloc[0].startswith("2024-01-02 12:00:00")


def test_bars_command_rejects_unknown_formats(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bars", "AAPL", *RANGE, "--out", str(tmp_path / "x.xlsx"), "--sim"])
    assert result.exit_code != 0 and "parquet" in result.output
