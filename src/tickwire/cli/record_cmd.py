"""``tickwire record``: record a stream (the built-in simulator without a key) into a journal and sinks."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import Annotated

import msgspec
import typer

from tickwire.credentials import resolve_secret
from tickwire.errors import TickwireError
from tickwire.massive.client import API_KEY_ENV_VARS
from tickwire.record import Recorder, RecorderStatus

__all__ = ["record"]


def record(
    channels: Annotated[
        list[str] | None, typer.Argument(help="Channels (default: every trade, quote, minute bar)")
    ] = None,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", "-d", help="Where the journal and DuckDB go")
    ] = Path("tickwire-data"),
    sink: Annotated[
        list[str] | None,
        typer.Option(help="Extra sink: postgresql://…, redis://…, nats://…, parquet:DIR, csv:DIR, jsonl:DIR"),
    ] = None,
    market: Annotated[str, typer.Option(help="stocks, options, forex, crypto, indices, futures")] = "stocks",
    feed: Annotated[str, typer.Option(help="realtime, delayed, business, launchpad, or a host")] = "realtime",
    url: Annotated[str | None, typer.Option(help="Full ws:// or wss:// URL (overrides --feed)")] = None,
    sim: Annotated[
        bool | None, typer.Option("--sim/--live", help="Built-in simulator (default when no API key is set)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Simulator seed")] = 0,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
    no_duckdb: Annotated[bool, typer.Option("--no-duckdb", help="Do not write the embedded DuckDB")] = False,
    fsync_interval: Annotated[
        float, typer.Option(help="Seconds between journal fsyncs (0: per segment)")
    ] = 1.0,
    status_json: Annotated[
        bool, typer.Option("--status-json", help="Status as JSON lines on stdout")
    ] = False,
) -> None:
    """Record a stream: every frame to the journal, typed events to DuckDB and the --sink targets."""
    use_sim = sim if sim is not None else (url is None and resolve_secret(None, API_KEY_ENV_VARS) is None)
    try:
        final = asyncio.run(
            _run(
                list(channels or []),
                data_dir,
                list(sink or []),
                market,
                feed,
                url,
                use_sim,
                seed,
                duration,
                not no_duckdb,
                fsync_interval or None,
                status_json,
            )
        )
    except TickwireError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"tickwire: recorded {final.events:,} events ({final.journal_records:,} journal records, "
        f"{_size(final.disk_bytes)}) in {final.elapsed:.1f} s into {data_dir}; "
        f"{final.reconnects} reconnects, "
        f'{final.gaps} gaps; query with: tickwire query -d {data_dir} "SELECT count(*) FROM {market}_trades"',
        err=True,
    )


async def _run(
    channels: list[str],
    data_dir: Path,
    sinks: list[str],
    market: str,
    feed: str,
    url: str | None,
    use_sim: bool,
    seed: int,
    duration: float | None,
    duckdb: bool,
    fsync_interval: float | None,
    status_json: bool,
) -> RecorderStatus:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        api_key: str | None = None
        if use_sim:
            from tickwire.sim import MassiveSimulator

            simulator = await stack.enter_async_context(MassiveSimulator(seed=seed))
            url = simulator.url_for(market, delayed=feed.lower() == "delayed")
            api_key = "simulator"
        recorder = Recorder(
            data_dir,
            market=market,
            feed=feed,
            url=url,
            api_key=api_key,
            channels=channels or None,
            sinks=sinks,
            duckdb=duckdb,
            fsync_interval=fsync_interval,
        )
        show = _print_json if status_json else _StatusLine(sys.stderr.isatty()).show
        return await recorder.run(stop, duration=duration, on_status=show, status_interval=1.0)
    raise AssertionError("unreachable")  # pragma: no cover


_ENC = msgspec.json.Encoder()


def _print_json(status: RecorderStatus) -> None:
    sys.stdout.buffer.write(_ENC.encode(status) + b"\n")
    sys.stdout.flush()


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n //= 1024
    return f"{n} TB"


class _StatusLine:
    """One line, rewritten in place on a terminal (appended otherwise)."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def show(self, s: RecorderStatus) -> None:
        sinks = " ".join(
            f"{h.name.split(':', 1)[0]}:{'ok' if h.healthy else 'ERR'} lag {h.lag_seconds:.1f}s"
            + (f" drop {h.dropped}" if h.dropped else "")
            for h in s.sinks
        )
        line = (
            f"{'●' if s.connected else '○'} {s.elapsed:6.0f}s {s.events_per_second:9,.0f} ev/s "
            f"{s.events:>11,} ev  journal {s.journal_synced:,}/{s.journal_records:,} synced  "
            f"{_size(s.disk_bytes)}  reconnects {s.reconnects} gaps {s.gaps}  {sinks}"
        )
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
