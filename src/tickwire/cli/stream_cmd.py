"""``tickwire stream``: the live view (or JSON lines) of a Massive stream, real or simulated."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live

from tickwire.cli.view import StreamView, encode_jsonl
from tickwire.credentials import resolve_secret
from tickwire.errors import TickwireError
from tickwire.events import Event, Reconnected
from tickwire.massive.client import API_KEY_ENV_VARS, AsyncStreamClient
from tickwire.redact import install_log_filter, safe_text

__all__ = ["stream"]


def stream(
    channels: Annotated[list[str] | None, typer.Argument(help="Channels, e.g. T.AAPL Q.MSFT 'AM.*'")] = None,
    market: Annotated[str, typer.Option(help="stocks, options, forex, crypto, indices, futures")] = "stocks",
    feed: Annotated[str, typer.Option(help="realtime, delayed, business, launchpad, or a host")] = "realtime",
    url: Annotated[str | None, typer.Option(help="Full ws:// or wss:// URL (overrides --feed)")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Print one JSON object per event")] = False,
    sim: Annotated[bool, typer.Option("--sim", help="Stream from the built-in simulator")] = False,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
    seed: Annotated[int, typer.Option(help="Simulator seed (with --sim)")] = 0,
    provider: Annotated[str, typer.Option(help="massive or polymarket")] = "massive",
    markets: Annotated[str | None, typer.Option(help="Polymarket US market slugs: slug1,slug2")] = None,
) -> None:
    install_log_filter()
    if provider.lower() == "polymarket":
        from tickwire.cli.polymarket_stream import stream_polymarket

        stream_polymarket(markets, url, jsonl, sim, duration, seed)
        return
    if provider.lower() != "massive":
        raise typer.BadParameter(f"unknown provider {provider!r}: massive or polymarket")
    chans = list(channels or [])
    if not chans:
        chans = ["T.*", "Q.*", "AM.*"] if market == "stocks" else []
    if not chans:
        raise typer.BadParameter("name at least one channel, e.g. XT.BTC-USD")
    if not sim and url is None and resolve_secret(None, API_KEY_ENV_VARS) is None:
        typer.echo(
            "No API key found: set MASSIVE_API_KEY (or POLYGON_API_KEY), or put it in a .env file.\n"
            "To try tickwire without a key, stream from the built-in simulator:\n"
            f"    tickwire stream --sim {' '.join(chans)}",
            err=True,
        )
        raise typer.Exit(2)
    try:
        summary = asyncio.run(_run(chans, market, feed, url, jsonl, sim, duration, seed))
    except TickwireError as exc:
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary, err=True)


async def _run(
    chans: list[str],
    market: str,
    feed: str,
    url: str | None,
    jsonl: bool,
    sim: bool,
    duration: float | None,
    seed: int,
) -> str:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        api_key: str | None = None
        if sim:
            from tickwire.sim import MassiveSimulator

            simulator = await stack.enter_async_context(MassiveSimulator(seed=seed))
            url = simulator.url_for(market, delayed=feed.lower() == "delayed")
            api_key = "simulator"
        client = await stack.enter_async_context(
            AsyncStreamClient(api_key=api_key, market=market, feed=feed, url=url)
        )
        await client.subscribe(*chans)
        started = time.time()
        tally = _Tally()
        consumer = asyncio.ensure_future(_consume(client, jsonl, sim, tally))
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if consumer in done:
            consumer.result()  # re-raises a fatal error
        else:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
        m = client.metrics()
    elapsed = time.time() - started
    return (
        f"tickwire: {m.events:,} events in {elapsed:.1f} s, {m.reconnects} reconnects, {tally.gaps} gaps "
        f"({tally.gap_seconds:.1f} s), {m.dropped} dropped, {m.decode_errors} decode errors"
    )


class _Tally:
    """What the exit summary reports beyond the client's metrics."""

    def __init__(self) -> None:
        self.gaps = 0
        self.gap_seconds = 0.0

    def see(self, batch: list[Event]) -> None:
        for ev in batch:
            if isinstance(ev, Reconnected):
                self.gaps += 1
                self.gap_seconds += ev.gap_seconds


async def _consume(client: AsyncStreamClient, jsonl: bool, sim: bool, tally: _Tally) -> None:
    if jsonl:
        out = sys.stdout.buffer
        async for batch in client.batches():
            tally.see(batch)
            out.write(encode_jsonl(batch))
            out.flush()
        return
    title = f"tickwire · {client.market.value} · {'simulator' if sim else client.driver.session_url_safe}"
    view = StreamView(title=title)
    with Live(view.render(client.metrics()), console=Console(), refresh_per_second=8) as live:

        async def paint() -> None:  # on a clock, not per batch: a quiet stream still shows its last events
            while True:
                await asyncio.sleep(0.125)
                live.update(view.render(client.metrics()))

        painter = asyncio.ensure_future(paint())
        try:
            async for batch in client.batches():
                tally.see(batch)
                for ev in batch:
                    view.add(ev)
        finally:  # the view left on screen shows everything received
            painter.cancel()
            live.update(view.render(client.metrics()))
