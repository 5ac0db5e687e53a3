"""``tickwire record``: record a stream (the built-in simulator without a key) into a journal and sinks.

Any provider: ``--provider massive`` (the default; channels ``T.AAPL``, ``AM.*``...) or ``--provider
polymarket`` (channels ``market_data:<slug>,<slug>``, ``trade``..., markets from ``--markets`` or, with
``--sim``, the simulator's; ``--private`` records the private socket: orders, positions, balances).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from tickwire.cli.sinks_cmd import INCOMPLETE, outcome_lines
from tickwire.credentials import resolve_secret
from tickwire.errors import ConfigError, TickwireError
from tickwire.provider import Provider, get_provider
from tickwire.record import Recorder, RecorderStatus, SinkHealth

__all__ = ["record"]


def record(
    channels: Annotated[
        list[str] | None,
        typer.Argument(
            help="Channels (default: the provider's: every trade, quote, minute bar on Massive; "
            "books and trades on Polymarket US)"
        ),
    ] = None,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", "-d", help="Where the journal and DuckDB go")
    ] = Path("tickwire-data"),
    sink: Annotated[
        list[str] | None,
        typer.Option(help="Extra sink: postgresql://…, redis://…, nats://…, parquet:DIR, csv:DIR, jsonl:DIR"),
    ] = None,
    provider: Annotated[str, typer.Option(help="massive (polygon), polymarket or alpaca")] = "massive",
    market: Annotated[
        str | None,
        typer.Option(
            help="Massive: stocks, options, forex, crypto, indices, futures; Polymarket US: markets, "
            "private; Alpaca: iex, sip, delayed_sip, test, crypto, indicative, opra, news"
        ),
    ] = None,
    markets: Annotated[
        list[str] | None,
        typer.Option(
            "--markets",
            help="Polymarket US market slugs (default with --sim: all); Alpaca symbols for channels "
            "that name none (default *); comma-separated",
        ),
    ] = None,
    private: Annotated[
        bool,
        typer.Option("--private", help="Polymarket US: the private socket (orders, positions, balances)"),
    ] = False,
    feed: Annotated[
        str | None, typer.Option(help="Massive: realtime, delayed, business, launchpad, or a host")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="Massive: full ws:// or wss:// URL (overrides --feed); Polymarket US: base URL"),
    ] = None,
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
    flush_timeout: Annotated[
        float,
        typer.Option(help="At the end, seconds the sinks get (in parallel) to catch up with the journal"),
    ] = 30.0,
) -> None:
    """Record a stream: every frame to the journal, typed events to DuckDB and the --sink targets.

    Exit code 0 when every sink holds every journaled event at the end, 3 when one is behind (a line
    per sink says exactly how many events it lacks; the next run or `tickwire sinks repair` completes
    it), 1 on an error."""
    try:
        plan = _plan(provider, market, private, markets or [], feed, url, sim)
        final, example = asyncio.run(
            _run(
                plan,
                list(channels or []),
                data_dir,
                list(sink or []),
                seed,
                duration,
                not no_duckdb,
                fsync_interval or None,
                status_json,
                flush_timeout,
            )
        )
    except TickwireError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if sys.stderr.isatty() and not status_json:
        sys.stderr.write("\r\x1b[2K")  # the status line is replaced by the summary, not glued onto
    typer.echo(
        f"tickwire: recorded {final.events:,} events ({final.journal_records:,} journal records, "
        f"{_size(final.disk_bytes)}) in {final.elapsed:.1f} s into {data_dir}; "
        f"{final.reconnects} reconnects, "
        f'{final.gaps} gaps; query with: tickwire query -d {data_dir} "SELECT count(*) FROM {example}"',
        err=True,
    )
    if final.journal_lost:
        typer.echo(
            f"journal: {final.journal_lost:,} frames could not be kept "
            f"({final.journal_error or 'disk full'}); they are a reported gap in the journal",
            err=True,
        )
    for line in outcome_lines(final.outcomes or [], data_dir):
        typer.echo(line, err=True)
    if not final.complete:
        raise typer.Exit(INCOMPLETE)


@dataclass(frozen=True)
class _Plan:
    """What to record, checked before anything starts."""

    provider: Provider
    market: str
    markets: tuple[str, ...]
    feed: str | None
    url: str | None
    sim: bool


def _plan(
    name: str,
    market: str | None,
    private: bool,
    markets: list[str],
    feed: str | None,
    url: str | None,
    sim: bool | None,
) -> _Plan:
    p = get_provider(name)
    slugs = tuple(dict.fromkeys(s.strip() for item in markets for s in item.split(",") if s.strip()))
    if p.name == "polymarket_us":
        if private:
            if market not in (None, "private"):
                raise ConfigError(
                    f"--private records the private socket; it cannot go with --market {market}"
                )
            market = "private"
        if feed is not None:
            raise ConfigError("--feed is a Massive option; Polymarket US takes --url (its base URL)")
        has_key = resolve_secret(None, ("POLYMARKET_KEY_ID",)) is not None
    elif p.name == "alpaca":
        if private:
            raise ConfigError("--private is a Polymarket US option")
        if feed is not None:
            raise ConfigError(
                "--feed is a Massive option; Alpaca takes --market (iex, sip, test...) and --url"
            )
        has_key = resolve_secret(None, ("APCA_API_KEY_ID",)) is not None
        if sim and market is None:
            market = "iex"
    else:
        if private or slugs:
            raise ConfigError("--private and --markets are Polymarket US options (use --provider polymarket)")
        has_key = resolve_secret(None, ("MASSIVE_API_KEY", "POLYGON_API_KEY")) is not None
    use_sim = sim if sim is not None else (url is None and not has_key)
    return _Plan(provider=p, market=p.market(market), markets=slugs, feed=feed, url=url, sim=use_sim)


async def _run(
    plan: _Plan,
    channels: list[str],
    data_dir: Path,
    sinks: list[str],
    seed: int,
    duration: float | None,
    duckdb: bool,
    fsync_interval: float | None,
    status_json: bool,
    flush_timeout: float,
) -> tuple[RecorderStatus, str]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        options = await _client_options(plan, seed, stack)
        recorder = Recorder(
            data_dir,
            provider=plan.provider,
            market=plan.market,
            channels=channels or None,
            sinks=sinks,
            duckdb=duckdb,
            fsync_interval=fsync_interval,
            flush_timeout=flush_timeout,
            client_options=options,
        )
        names = [t.name for t in recorder.tables.tables() if not t.name.endswith("_unknown")]
        example = next(
            (n for n in names if n.endswith("_trades")), names[0] if names else "information_schema.tables"
        )
        show = _print_json if status_json else _StatusLine(sys.stderr.isatty()).show
        status = await recorder.run(stop, duration=duration, on_status=show, status_interval=1.0)
        return status, example
    raise AssertionError("unreachable")  # pragma: no cover


async def _client_options(plan: _Plan, seed: int, stack: contextlib.AsyncExitStack) -> dict[str, Any]:
    """The client options of the plan, starting the simulator it asks for (closed with ``stack``)."""
    options: dict[str, Any] = {}
    if plan.provider.name == "polymarket_us":
        markets = plan.markets
        if plan.sim:
            from tickwire.sim.polymarket import SIM_KEY_ID, SIM_SECRET_KEY, PolymarketSimulator

            pm = await stack.enter_async_context(PolymarketSimulator(seed=seed))
            options.update(base_url=pm.url, key_id=SIM_KEY_ID, secret_key=SIM_SECRET_KEY, dotenv_path=None)
            if plan.market == "markets":  # books need slugs; private streams cover every market anyway
                markets = markets or tuple(pm.markets)
        elif plan.url is not None:
            options["base_url"] = plan.url
        if markets:
            options["markets"] = markets
        return options
    if plan.provider.name == "alpaca":
        if plan.markets:
            options["markets"] = plan.markets
        if plan.sim:
            from tickwire.cli.stream_cmd import alpaca_sim_options

            # a simulated minute every 10 s, so minute bars show within a short recording
            _, sim_options = await alpaca_sim_options(stack, plan.market, seed=seed, speed=6.0)
            options.update(sim_options)
        elif plan.url is not None:
            options["url"] = plan.url
        return options
    feed = plan.feed or "realtime"
    options["feed"] = feed
    if plan.sim:
        from tickwire.sim import MassiveSimulator

        simulator = await stack.enter_async_context(MassiveSimulator(seed=seed))
        options.update(
            url=simulator.url_for(plan.market, delayed=feed.lower() == "delayed"), api_key="simulator"
        )
    elif plan.url is not None:
        options["url"] = plan.url
    return options


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
        sinks = " ".join(_sink_word(h) for h in s.sinks)
        journal = f"journal {s.journal_synced:,}/{s.journal_records:,} synced"
        if s.disk_full:
            journal += " DISK FULL"
        line = (
            f"{'●' if s.connected else '○'} {s.elapsed:6.0f}s {s.events_per_second:9,.0f} ev/s "
            f"{s.events:>11,} ev  {journal}  "
            f"{_size(s.disk_bytes)}  reconnects {s.reconnects} gaps {s.gaps}  {sinks}"
        )
        if self.tty:
            width = shutil.get_terminal_size((120, 20)).columns
            sys.stderr.write("\r\x1b[2K" + line[: max(20, width - 1)])
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _sink_word(h: SinkHealth) -> str:
    """``duckdb:live``, ``postgres:behind 4,012``, ``nats:down`` ..."""
    kind = h.name.split(":", 1)[0]
    if h.state in ("connecting", "failing"):
        word = "down" if h.state == "failing" else "connecting"
    elif h.behind:
        word = f"behind {h.behind:,}"
    elif h.behind is None:
        word = "catching up"
    else:
        word = "ok"
    if h.dead_letters:
        word += f" dead {h.dead_letters:,}"
    return f"{kind}:{word}"
