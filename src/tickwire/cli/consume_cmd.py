"""``tickwire consume nats URL``: read recorded events back from NATS JetStream as typed events."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Annotated

import msgspec
import typer

__all__ = ["consume_app"]

consume_app = typer.Typer(
    help="Read events back from a message bus the recorder publishes to.", no_args_is_help=True
)

_ENC = msgspec.json.Encoder()


@consume_app.command("nats")
def nats_cmd(
    url: Annotated[str, typer.Argument(help="nats://host:4222")] = "nats://127.0.0.1:4222",
    subject: Annotated[str | None, typer.Option(help="e.g. md.massive.stocks.T.AAPL (default: all)")] = None,
    market: Annotated[str, typer.Option(help="The recorded market")] = "stocks",
    stream: Annotated[str | None, typer.Option(help="Stream name (default MD_MASSIVE_<MARKET>)")] = None,
    new: Annotated[bool, typer.Option("--new", help="Only events published from now on")] = False,
    limit: Annotated[int | None, typer.Option(help="Stop after this many events")] = None,
) -> None:
    """Print events from JetStream as JSON lines (typed on the way: bad payloads become decode errors)."""
    asyncio.run(_run(url, subject, market, stream, new, limit))


async def _run(
    url: str, subject: str | None, market: str, stream: str | None, new: bool, limit: int | None
) -> None:
    from tickwire.sinks import consume_nats

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    out = sys.stdout.buffer

    async def pump() -> None:
        n = 0
        async for ev in consume_nats(url, market, subject, stream=stream, deliver="new" if new else "all"):
            out.write(_ENC.encode(ev) + b"\n")
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
