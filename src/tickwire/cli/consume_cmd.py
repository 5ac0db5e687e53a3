"""``tickwire consume nats URL``: read recorded events back from NATS JetStream as typed events."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from tickwire.tables import TableRegistry

__all__ = ["consume_app"]

consume_app = typer.Typer(
    help="Read events back from a message bus the recorder publishes to.", no_args_is_help=True
)


@consume_app.callback()
def _needs_storage() -> None:
    from tickwire.cli.extras import require

    require("tickwire consume", "storage")


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
    limit: Annotated[
        int | None,
        typer.Option(help="Stop after this many events (or, with fewer stored, once caught up)"),
    ] = None,
    idle: Annotated[
        float,
        typer.Option(
            help="With --limit: seconds without a message that mean every stored one was read (caught up)"
        ),
    ] = 1.0,
    wire: Annotated[
        bool, typer.Option("--wire", help="Print the events in their wire form, not the normalized rows")
    ] = False,
) -> None:
    """Print events from JetStream as JSON lines: the normalized rows of the SQL tables (``--wire``:
    the provider's wire keys), typed on the way (bad payloads become decode errors; strings
    JSON-escaped). Exit 1 with a one-line error if the server cannot be read."""
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
        asyncio.run(_run(url, subject, tables, prefix, stream, new, limit, idle, wire))
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
    idle: float = 1.0,
    wire: bool = False,
) -> None:
    from tickwire.cli.stream_cmd import rows_jsonl
    from tickwire.sinks import consume_nats
    from tickwire.sinks.base import mask_url
    from tickwire.sinks.nats_jetstream import default_stream

    # How many messages are stored: past them, --limit would wait for new ones. A missing stream is
    # a usage mistake (a prefix, a market), said in one line.
    name = stream or default_stream(prefix, tables.namespace)
    stored = await _stored(url, name, subject or f"{prefix}.{tables.namespace}.>")
    if stored is _NO_STREAM:
        typer.echo(
            f"error: no stream {name} on {mask_url(url)}; record into it first (tickwire record --sink "
            f"{mask_url(url)}) or pass the recorder's --prefix/--market/--stream",
            err=True,
        )
        raise typer.Exit(2)
    if limit is None or new:
        stored = None
    caught_up = asyncio.Event()

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
        # Stored messages arrive back to back: none stored, or none for ``idle`` s, means caught up
        # (a message holds a chunk of events, so events cannot be counted against messages).
        quiet = None
        if stored == 0:
            caught_up.set()
        elif stored is not None:
            quiet = loop.call_later(idle, caught_up.set)
        async for ev in events:
            out.write(rows_jsonl(None if wire else tables, [ev]))
            out.flush()
            n += 1
            if limit is not None and n >= limit:
                return
            if quiet is not None:
                quiet.cancel()
                quiet = loop.call_later(idle, caught_up.set)

    task = asyncio.ensure_future(pump())
    stopper = asyncio.ensure_future(stop.wait())
    ended = asyncio.ensure_future(caught_up.wait())
    await asyncio.wait({task, stopper, ended}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    ended.cancel()
    if caught_up.is_set():
        typer.echo(
            f"caught up: every stored message read ({stored:,}), fewer events than --limit {limit}", err=True
        )
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    else:
        task.result()


_NO_STREAM = -1


async def _stored(url: str, stream: str, subject: str) -> int | None:
    """Messages stored on ``subject`` in ``stream`` now: ``_NO_STREAM`` when there is no such stream,
    ``None`` when the server cannot tell (the read itself then says why)."""
    import nats

    async def quiet(_exc: Exception) -> None:  # nats-py logs a traceback per failed attempt otherwise
        return None

    try:
        nc = await asyncio.wait_for(
            nats.connect(url, allow_reconnect=False, max_reconnect_attempts=1, error_cb=quiet), 5.0
        )
    except Exception:
        return None
    try:
        info = await nc.jetstream().stream_info(stream, subjects_filter=subject)
        if info.state.subjects is not None:
            return sum(info.state.subjects.values())
        return info.state.messages if subject.endswith(">") else None
    except Exception as exc:
        return _NO_STREAM if type(exc).__name__ == "NotFoundError" else None
    finally:
        await nc.close()
