"""``tickwire stream --provider polymarket --markets a,b``: Polymarket US books and trades in the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import typer

from tickwire.cli.stream_cmd import rows_jsonl
from tickwire.credentials import is_local_url, resolve_secret
from tickwire.errors import TickwireError
from tickwire.events import Reconnected
from tickwire.provider import get_provider
from tickwire.redact import mask_secrets, safe_text

__all__ = ["stream_polymarket"]


def _env_key() -> bool:
    return resolve_secret(None, ("POLYMARKET_KEY_ID",)) is not None


def stream_polymarket(
    markets: str | None,
    url: str | None,
    jsonl: bool,
    sim: bool,
    duration: float | None,
    seed: int,
    wire: bool = False,
    key_id: str | None = None,
    secret_key: str | None = None,
) -> None:
    """Stream MARKET_DATA and TRADE of ``markets`` (comma-separated slugs); exit code 1 on a fatal error."""
    slugs = [s.strip() for s in (markets or "").split(",") if s.strip()]
    if not slugs and not sim:
        raise typer.BadParameter("name the markets: --markets slug1,slug2")
    try:
        summary = asyncio.run(_run(slugs, url, jsonl, sim, duration, seed, wire, (key_id, secret_key)))
    except TickwireError as exc:
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary, err=True)


async def _run(
    slugs: list[str],
    url: str | None,
    jsonl: bool,
    sim: bool,
    duration: float | None,
    seed: int,
    wire: bool,
    keys: tuple[str | None, str | None] = (None, None),
) -> str:
    from tickwire.polymarket_us.client import DEFAULT_BASE_URL, PolymarketClient

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    gaps = 0
    async with contextlib.AsyncExitStack() as stack:
        key_id, secret = keys
        base_url = url or DEFAULT_BASE_URL
        if url is not None and is_local_url(url) and key_id is None and not _env_key():
            from tickwire.sim.polymarket import SIM_KEY_ID, SIM_SECRET_KEY  # a local replay's key

            key_id, secret = SIM_KEY_ID, SIM_SECRET_KEY
        if sim:
            from tickwire.sim.polymarket import PolymarketSimulator

            simulator = await stack.enter_async_context(PolymarketSimulator(seed=seed))
            key_id, secret, base_url = simulator.key_id, simulator.secret_key, simulator.url
            slugs = slugs or simulator.markets[:3]
        client = await stack.enter_async_context(
            PolymarketClient("markets", key_id, secret, base_url=base_url)
        )
        await client.subscribe_market_data(*slugs)
        await client.subscribe_trades(*slugs)
        started = time.time()
        tables = None if wire else get_provider("polymarket").tables("markets")

        def count_gaps(batch: list[Any]) -> None:
            nonlocal gaps
            gaps += sum(isinstance(ev, Reconnected) for ev in batch)

        async def consume() -> None:
            nonlocal gaps
            if not jsonl:
                where = "simulator" if sim else mask_secrets(base_url)
                await _board(client, f"tickwire · Polymarket US · {where}", count_gaps)
                return
            async for batch in client.batches():
                gaps += sum(isinstance(ev, Reconnected) for ev in batch)
                sys.stdout.buffer.write(rows_jsonl(tables, batch))
                sys.stdout.buffer.flush()

        consumer = asyncio.ensure_future(consume())
        stopper = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if consumer in done:
            consumer.result()
        else:
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
        m = client.metrics()
    return (
        f"tickwire: {m.events:,} Polymarket US events in {time.time() - started:.1f} s, "
        f"{m.reconnects} reconnects, {gaps} gaps, {m.decode_errors} decode errors"
    )


async def _board(client: Any, title: str, see: Callable[[list[Any]], None]) -> None:
    """The live table (one row per market), repainted on a clock; left on screen at the end."""
    from rich.console import Console
    from rich.live import Live

    from tickwire.cli.pm_view import PolymarketView

    view = PolymarketView(title=safe_text(title))
    with Live(view.render(client.metrics()), console=Console(), refresh_per_second=8) as live:

        async def paint() -> None:
            while True:
                await asyncio.sleep(0.125)
                live.update(view.render(client.metrics()))

        painter = asyncio.ensure_future(paint())
        try:
            async for batch in client.batches():
                see(batch)
                for ev in batch:
                    view.add(client, ev)
        finally:
            painter.cancel()
            live.update(view.render(client.metrics()))
