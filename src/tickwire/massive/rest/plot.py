"""Candlestick charts with volume: a PNG through matplotlib, or an interactive HTML page through plotly.

The file name decides: ``.html``/``.htm`` writes a self-contained plotly page, anything else
(``.png``, ``.svg``, ``.pdf``) a matplotlib figure of ``width`` x ``height`` inches at ``dpi``
(1200 x 700 pixels by default). Up candles are green, down candles red; the volume panel
below shares the time axis.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tickwire.massive.rest.frames import Bars

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

__all__ = ["DOWN", "UP", "plot_bars"]

UP = "#26a69a"
DOWN = "#ef5350"


def plot_bars(
    bars: Bars | pd.DataFrame,
    path: str | Path,
    *,
    title: str | None = None,
    tz: str | None = None,
    width: float = 12.0,
    height: float = 7.0,
    dpi: int = 100,
) -> Path:
    """Draw ``bars`` (:class:`~.frames.Bars`, or a frame with ``timestamp``, OHLC, ``volume``) to ``path``."""
    out = Path(path)
    if isinstance(bars, Bars):
        df = bars.to_pandas(tz=tz)
        name = f"{bars.ticker} {bars.multiplier} {bars.timespan}"
    else:
        df = bars.copy()
        if tz is not None:
            df["timestamp"] = df["timestamp"].dt.tz_convert(tz)
        name = "bars"
    missing = {"timestamp", "open", "high", "low", "close", "volume"} - set(df.columns)
    if missing:
        raise ValueError(f"cannot plot: the frame lacks the columns {sorted(missing)}")
    label = title or name
    if out.suffix.lower() in (".html", ".htm"):
        _plotly(df, out, label, width, height, dpi)
    else:
        _matplotlib(df, out, label, width, height, dpi)
    return out


def _matplotlib(df: pd.DataFrame, out: Path, title: str, width: float, height: float, dpi: int) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
    ax = fig.add_subplot(grid[0])
    axv = fig.add_subplot(grid[1], sharex=ax)
    if len(df):
        x: Any = mdates.date2num(df["timestamp"].dt.tz_localize(None).to_numpy())  # type: ignore[no-untyped-call, unused-ignore]
        step = float(min((x[1:] - x[:-1]).min(), 1.0)) if len(x) > 1 else 1 / 1440
        w = step * 0.7
        up = (df["close"] >= df["open"]).to_numpy()
        colors = [UP if u else DOWN for u in up]
        opens, closes = df["open"].to_numpy(), df["close"].to_numpy()
        ax.vlines(x, df["low"].to_numpy(), df["high"].to_numpy(), colors=colors, linewidth=0.8)
        bottoms = [min(o, c) for o, c in zip(opens, closes, strict=True)]
        heights = [max(abs(c - o), 1e-9) for o, c in zip(opens, closes, strict=True)]
        ax.bar(x, heights, width=w, bottom=bottoms, color=colors, edgecolor=colors, linewidth=0.5)
        axv.bar(x, df["volume"].to_numpy(), width=w, color=colors)
        locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call, unused-ignore]
        axv.xaxis.set_major_locator(locator)
        axv.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call, unused-ignore]
    else:
        ax.text(0.5, 0.5, "no bars", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)
    ax.set_ylabel("price")
    axv.set_ylabel("volume")
    ax.grid(alpha=0.3)
    axv.grid(alpha=0.3)
    ax.tick_params(labelbottom=False)
    fig.savefig(out, dpi=dpi)


def _plotly(df: pd.DataFrame, out: Path, title: str, width: float, height: float, dpi: int) -> None:
    import plotly.graph_objects as go  # type: ignore[import-untyped, unused-ignore]
    from plotly.subplots import make_subplots  # type: ignore[import-untyped, unused-ignore]

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=(0.75, 0.25), vertical_spacing=0.03)
    fig.add_trace(
        go.Candlestick(
            x=df["timestamp"],
            open=df["open"],
            high=df["high"],
            low=df["low"],
            close=df["close"],
            increasing_line_color=UP,
            decreasing_line_color=DOWN,
            name="price",
        ),
        row=1,
        col=1,
    )
    colors = [UP if c >= o else DOWN for o, c in zip(df["open"], df["close"], strict=True)]
    fig.add_trace(go.Bar(x=df["timestamp"], y=df["volume"], marker_color=colors, name="volume"), row=2, col=1)
    fig.update_layout(
        title=title,
        width=int(width * dpi),
        height=int(height * dpi),
        xaxis_rangeslider_visible=False,
        showlegend=False,
    )
    fig.write_html(out, include_plotlyjs=True, full_html=True)
