"""``tickwire bars``: download aggregate bars over REST, with a progress bar; plot and save them."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tickwire.cli.extras import require
from tickwire.credentials import LOCAL_KEY, is_local_url, resolve_secret
from tickwire.errors import TickwireError
from tickwire.massive.client import API_KEY_ENV_VARS

if TYPE_CHECKING:
    from tickwire.massive.rest import Bars

__all__ = ["bars"]

SIM_KEY = "tickwire-sim"


def bars(
    ticker: Annotated[str, typer.Argument(help="Ticker, e.g. AAPL, O:SPY251219C00600000, X:BTCUSD")],
    from_: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD) or Unix ms")],
    to: Annotated[str, typer.Option("--to", help="Last day (YYYY-MM-DD, inclusive) or Unix ms")],
    timespan: Annotated[str, typer.Option(help="second, minute, hour, day, week, month...")] = "minute",
    multiplier: Annotated[int, typer.Option(help="Bar size in timespans (5 + minute = 5-minute bars)")] = 1,
    plot: Annotated[Path | None, typer.Option(help="Write a candlestick chart: .png or .html")] = None,
    out: Annotated[Path | None, typer.Option(help="Save the bars: .parquet or .csv")] = None,
    tz: Annotated[str | None, typer.Option(help="Time zone for the chart, e.g. America/New_York")] = None,
    sim: Annotated[bool, typer.Option("--sim", help="Download from the built-in simulator")] = False,
    seed: Annotated[int, typer.Option(help="Simulator seed (with --sim)")] = 0,
    base_url: Annotated[
        str | None, typer.Option(help="REST base URL (default https://api.massive.com)")
    ] = None,
    limit: Annotated[int, typer.Option(help="Bars per page (max 50000)")] = 50_000,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary")] = False,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="Massive key (default: MASSIVE_API_KEY, POLYGON_API_KEY or .env)"),
    ] = None,
) -> None:
    """Download bars; print a summary, and plot (--plot) and save (--out) them."""
    require("tickwire bars", "rest")
    if plot is not None:
        require("tickwire bars --plot", "plot")
    local = base_url is not None and is_local_url(base_url)
    if not sim and not local and resolve_secret(api_key, API_KEY_ENV_VARS) is None:
        typer.echo(
            "error: no API key: pass --api-key KEY or set MASSIVE_API_KEY (or POLYGON_API_KEY, or put it "
            "in a .env file); to try without a key: tickwire bars ... --sim",
            err=True,
        )
        raise typer.Exit(2)
    for target, kinds in (
        (out, (".csv", ".parquet", ".pq")),
        (plot, (".png", ".svg", ".pdf", ".html", ".htm")),
    ):
        if target is not None and target.suffix.lower() not in kinds:
            raise typer.BadParameter(f"{target}: use one of {', '.join(kinds)}")
    try:
        with _endpoint(sim, seed, base_url) as (url, key):
            key = (
                key
                or api_key
                or (LOCAL_KEY if local and resolve_secret(None, API_KEY_ENV_VARS) is None else None)
            )
            result = _download(ticker, multiplier, timespan, from_, to, url, key, limit, quiet)
    except TickwireError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except ImportError as exc:
        typer.echo(f"error: {exc} (pip install 'tickwire[rest,plot]')", err=True)
        raise typer.Exit(1) from None
    if result.empty:
        typer.echo(f"{result.note}", err=True)
    if out is not None:
        result.save(out)
    if plot is not None:
        result.plot(plot, tz=tz)
    if not quiet:
        _summary(result, out, plot, tz)


@contextlib.contextmanager
def _endpoint(sim: bool, seed: int, base_url: str | None) -> Iterator[tuple[str | None, str | None]]:
    """The REST base URL and key: a simulator started for the command, or the given/official service."""
    if not sim:
        yield base_url, None
        return
    from tickwire.sim import MassiveSimulator

    running = MassiveSimulator(seed, rest=True, start="now").run_in_thread()  # history to now
    running.__enter__()
    try:
        yield running.rest_url, SIM_KEY
    except KeyboardInterrupt:
        # Ctrl-C: at once. The simulator's (daemon) thread may be deep in computing a page, and
        # stopping it would wait for that page: the process ends without it.
        sys.stdout.flush()
        sys.stderr.write("\ntickwire bars: interrupted\n")
        sys.stderr.flush()
        os._exit(130)
    running.__exit__(None, None, None)


def _download(
    ticker: str,
    multiplier: int,
    timespan: str,
    from_: str,
    to: str,
    base_url: str | None,
    key: str | None,
    limit: int,
    quiet: bool,
) -> Bars:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from tickwire.massive.rest import RestClient
    from tickwire.massive.rest.core import Page

    options: dict[str, Any] = {} if base_url is None else {"base_url": base_url}
    lo, hi = _bound_ms(from_, False), _bound_ms(to, True)
    with (
        RestClient(key, **options) as client,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[bars]} bars, page {task.fields[pages]}"),
            TimeElapsedColumn(),
            disable=quiet,
            transient=True,
        ) as progress,
    ):
        # no total until the first page is in: the bar pulses while a page downloads, never sits at 0
        task = progress.add_task(f"{ticker} {multiplier} {timespan}", total=None, bars=0, pages=0)
        counts = {"bars": 0}

        def advance(page: Page[Any]) -> None:
            counts["bars"] += len(page.items)
            last = page.items[-1].timestamp if page.items else None
            done = (last - lo) if last is not None and lo <= last else 0
            progress.update(
                task,
                total=max(1, hi - lo),
                completed=hi - lo if not page.has_next else done,
                bars=counts["bars"],
                pages=page.number,
            )

        return client.aggs(ticker, multiplier, timespan, from_, to, limit=limit, progress=advance)  # type: ignore[arg-type]


def _bound_ms(text: str, end: bool) -> int:
    """A ``--from``/``--to`` value in Unix ms (for the progress bar's scale)."""
    try:
        d = date.fromisoformat(text)
    except ValueError:
        try:
            return int(text)
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD) or Unix ms") from None
    start = int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)
    return start + 86_400_000 - 1 if end else start


def _summary(result: Bars, out: Path | None, plot: Path | None, tz: str | None) -> None:
    from rich.console import Console

    console = Console(stderr=True)
    console.print(f"{result.ticker}: {len(result)} bars in {result.pages} page(s)")
    if len(result):
        console.print(result.to_pandas(tz=tz).to_string(max_rows=10))
    if out is not None:
        console.print(f"saved {out}")
    if plot is not None:
        console.print(f"chart {plot}")
