"""``tickwire replay JOURNAL``: serve a recording in its provider's dialect, or load it into sinks."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tickwire.cli.extras import require
from tickwire.errors import ConfigError

if TYPE_CHECKING:
    from tickwire.sim.replay import JournalReplayer
    from tickwire.sinks.base import Sink

__all__ = ["replay"]


def replay(
    journal: Annotated[Path, typer.Argument(help="Journal directory (e.g. tickwire-data/journal)")],
    speed: Annotated[str, typer.Option(help="1, 10, any factor, or max")] = "1",
    port: Annotated[int, typer.Option(help="Port to serve on (0: any free port)")] = 8765,
    into: Annotated[
        list[str] | None,
        typer.Option(help="Instead of serving, load into sinks: duckdb:PATH, postgresql://…, parquet:DIR…"),
    ] = None,
    market: Annotated[str | None, typer.Option(help="Override the journal's market")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop serving after this many seconds")] = None,
) -> None:
    """Serve JOURNAL in the dialect that recorded it, on ws://127.0.0.1:PORT/<cluster> (Massive),
    /v1/ws/<socket> (Polymarket US) or /v2/<feed>, /v1beta3/crypto/us... (Alpaca, in JSON or msgpack
    as each client asks): any client, the official ones included, consumes it as if live.
    Or rebuild databases from it with --into."""
    require("tickwire replay", "storage")
    if not journal.exists():
        typer.echo(f"error: no journal at {journal}", err=True)
        raise typer.Exit(2)
    if into:
        _load(journal, into, market)
        return
    factor: float | None
    if speed.lower() == "max":
        factor = None
    else:
        try:
            factor = float(speed)
        except ValueError:
            raise typer.BadParameter("speed is a number (1, 10...) or max") from None
    asyncio.run(_serve(journal, factor, port, market, duration))


def _load(journal: Path, into: list[str], market: str | None) -> None:
    """``--into``: bring each sink up to date with the journal from its own watermark (a second
    load adds nothing); exit 3 naming what a sink lacks when one cannot be completed."""
    from tickwire.cli.sinks_cmd import INCOMPLETE, outcome_lines
    from tickwire.errors import TickwireError
    from tickwire.journal import journal_provider
    from tickwire.record import bring_up_to_date
    from tickwire.sinks import sink_from_url

    try:  # the provider and market that recorded the journal lay the tables out
        provider, m = journal_provider(journal, market=market)
        sinks = [sink_from_url(u, provider.tables(m)) for u in into]
        _check_sinks(sinks)
        outcomes = asyncio.run(bring_up_to_date(journal, sinks, provider=provider, market=m, timeout=600.0))
    except TickwireError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    written = max((o.written for o in outcomes), default=0)
    typer.echo(
        f"tickwire: loaded {written:,} events from {journal} into {', '.join(s.name for s in sinks)}",
        err=True,
    )
    data_dir = journal.parent if journal.name == "journal" else journal
    for line in outcome_lines(outcomes, data_dir):
        typer.echo(line, err=True)
    if not all(o.complete for o in outcomes):
        raise typer.Exit(INCOMPLETE)


def _check_sinks(sinks: list[Sink]) -> None:
    """Each sink opened once first: one that cannot be opened is one line (exit 2 for a URL that can
    never work, 1 for a server that is down), not a load retrying forever."""
    from tickwire.cli.sink_check import probe_sinks

    problems = asyncio.run(probe_sinks(sinks))
    for p in problems:
        typer.echo(p.line(), err=True)
    if problems:
        raise typer.Exit(2 if any(p.usage for p in problems) else 1)


async def _serve(
    journal: Path, speed: float | None, port: int, market: str | None, duration: float | None = None
) -> None:
    from tickwire.sim.replay import JournalReplayer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    try:
        replayer = JournalReplayer(journal, speed=speed, port=port, market=market)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        server = await replayer.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        typer.echo(
            f"error: port {port} is in use (a simulator or another replay?); pass another --port", err=True
        )
        raise typer.Exit(2) from None
    try:
        pace = "max" if speed is None else f"{speed:g}x"
        typer.echo(f"replaying {journal} ({server.provider}) at {pace} speed on {server.url}", err=True)
        for line in _clients(server):
            typer.echo(f"  {line}", err=True)
        await stop.wait()
    finally:
        await replayer.aclose()


def _clients(server: JournalReplayer) -> list[str]:
    """How the official client of the recorded provider connects to the replay."""
    if server.provider == "alpaca":
        from tickwire.sim.alpaca import SIM_KEY_ID, SIM_SECRET_KEY

        return [
            f"test key: key id {SIM_KEY_ID}  secret {SIM_SECRET_KEY}",
            f"alpaca-py: StockDataStream('{SIM_KEY_ID}', '{SIM_SECRET_KEY}', url_override='{server.url}') "
            "(CryptoDataStream, OptionDataStream, NewsDataStream alike for those journals)",
        ]
    if server.provider == "polymarket_us":
        from tickwire.sim.polymarket import SIM_KEY_ID, SIM_SECRET_KEY

        return [
            f"test key: key id {SIM_KEY_ID}  secret {SIM_SECRET_KEY}",
            f"official SDK: AsyncPolymarketUS(key_id=..., secret_key=..., "
            f"api_base_url='http://{server.host}:{server.port}')",
        ]
    return [
        f"official client: WebSocketClient(api_key='any', feed='{server.feed_host}', "
        f"market='{server.market}', secure=False)"
    ]
