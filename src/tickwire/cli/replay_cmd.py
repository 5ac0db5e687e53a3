"""``tickwire replay JOURNAL``: serve a recording through the Massive dialect, or load it into sinks."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from tickwire.errors import ConfigError

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
) -> None:
    """Serve JOURNAL on ws://127.0.0.1:PORT/<market> (any client, e.g. the official massive one, can
    consume it as if live), or rebuild databases from it with --into."""
    if not journal.exists():
        typer.echo(f"error: no journal at {journal}", err=True)
        raise typer.Exit(2)
    if into:
        from tickwire.journal import journal_meta
        from tickwire.record import load_journal
        from tickwire.sinks import sink_from_url

        m = market or str(journal_meta(journal).get("market") or "stocks")
        try:
            sinks = [sink_from_url(u, m)[0] for u in into]
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        n = asyncio.run(load_journal(journal, sinks, market=m))
        typer.echo(
            f"tickwire: loaded {n:,} events from {journal} into {', '.join(s.name for s in sinks)}", err=True
        )
        return
    factor: float | None
    if speed.lower() == "max":
        factor = None
    else:
        try:
            factor = float(speed)
        except ValueError:
            raise typer.BadParameter("speed is a number (1, 10...) or max") from None
    asyncio.run(_serve(journal, factor, port, market))


async def _serve(journal: Path, speed: float | None, port: int, market: str | None) -> None:
    from tickwire.sim.replay import JournalReplayer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with JournalReplayer(journal, speed=speed, port=port, market=market) as server:
        typer.echo(
            f"replaying {journal} at {'max' if speed is None else f'{speed:g}x'} speed on {server.url}\n"
            f"  official client: WebSocketClient(api_key='any', feed='{server.feed_host}', "
            f"market='{server.market}', secure=False)",
            err=True,
        )
        await stop.wait()
