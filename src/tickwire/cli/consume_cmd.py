"""``tickwire consume nats URL``: read recorded events back from NATS JetStream as typed events."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import msgspec
import typer

if TYPE_CHECKING:
    from tickwire.tables import TableRegistry

__all__ = ["consume_app"]

consume_app = typer.Typer(
    help="Read events back from a message bus the recorder publishes to.", no_args_is_help=True
)

_ENC = msgspec.json.Encoder()


@consume_app.command("nats")
def nats_cmd(
    url: Annotated[str, typer.Argument(help="nats://host:4222")] = "nats://127.0.0.1:4222",
    subject: Annotated[
        str | None,
        typer.Option(help="e.g. md.massive.stocks.T.AAPL, md.polymarket_us.markets.trade.> (default: all)"),
    ] = None,
    provider: Annotated[str, typer.Option(help="The recorded provider: massive or polymarket")] = "massive",
    market: Annotated[
        str | None,
        typer.Option(help="The recorded market (Massive: stocks...; Polymarket US: markets, private)"),
    ] = None,
    prefix: Annotated[str, typer.Option(help="The recorder's subject prefix")] = "md",
    stream: Annotated[
        str | None,
        typer.Option(help="Stream name (default <PREFIX>_<PROVIDER>_<MARKET>, e.g. MD_MASSIVE_STOCKS)"),
    ] = None,
    new: Annotated[bool, typer.Option("--new", help="Only events published from now on")] = False,
    limit: Annotated[int | None, typer.Option(help="Stop after this many events")] = None,
) -> None:
    """Print events from JetStream as JSON lines (typed on the way: bad payloads become decode errors;
    strings JSON-escaped). Exit 1 with a one-line error if the server cannot be read."""
    from tickwire.errors import ConfigError, TickwireError
    from tickwire.provider import get_provider
    from tickwire.redact import install_log_filter, safe_text

    install_log_filter()

    try:
        p = get_provider(provider)
        tables = p.tables(p.market(market))
    except ConfigError as exc:
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(2) from None
    try:
        asyncio.run(_run(url, subject, tables, prefix, stream, new, limit))
    except TickwireError as exc:  # the server's words may be in it: masked and escaped
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(1) from None


async def _run(
    url: str,
    subject: str | None,
    tables: TableRegistry,
    prefix: str,
    stream: str | None,
    new: bool,
    limit: int | None,
) -> None:
    from tickwire.redact import json_escape_controls
    from tickwire.sinks import consume_nats

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    out = sys.stdout.buffer

    async def pump() -> None:
        n = 0
        events = consume_nats(
            url, tables, subject, prefix=prefix, stream=stream, deliver="new" if new else "all"
        )
        async for ev in events:
            out.write(json_escape_controls(_ENC.encode(ev)) + b"\n")
            out.flush()
            n += 1
            if limit is not None and n >= limit:
                return

    task = asyncio.ensure_future(pump())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    else:
        task.result()
