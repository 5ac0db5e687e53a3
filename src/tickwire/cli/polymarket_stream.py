"""``tickwire stream --provider polymarket --markets a,b``: Polymarket US books and trades in the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time

import typer

from tickwire.cli.view import describe, encode_jsonl
from tickwire.errors import TickwireError
from tickwire.events import ControlEvent, Reconnected, Status
from tickwire.redact import escape_terminal, safe_text

__all__ = ["stream_polymarket"]


def stream_polymarket(
    markets: str | None, url: str | None, jsonl: bool, sim: bool, duration: float | None, seed: int
) -> None:
    """Stream MARKET_DATA and TRADE of ``markets`` (comma-separated slugs); exit code 1 on a fatal error."""
    slugs = [s.strip() for s in (markets or "").split(",") if s.strip()]
    if not slugs and not sim:
        raise typer.BadParameter("name the markets: --markets slug1,slug2")
    try:
        summary = asyncio.run(_run(slugs, url, jsonl, sim, duration, seed))
    except TickwireError as exc:
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary, err=True)


async def _run(
    slugs: list[str], url: str | None, jsonl: bool, sim: bool, duration: float | None, seed: int
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
        key_id = secret = None
        base_url = url or DEFAULT_BASE_URL
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

        async def consume() -> None:
            nonlocal gaps
            async for batch in client.batches():
                gaps += sum(isinstance(ev, Reconnected) for ev in batch)
                if jsonl:
                    sys.stdout.buffer.write(encode_jsonl(batch))
                    sys.stdout.buffer.flush()
                    continue
                for ev in batch:
                    sys.stdout.write(_line(client, ev) + "\n")
                sys.stdout.flush()

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


def _line(client: object, ev: object) -> str:
    """One plain line of ``ev``; strings from the venue (slugs, sides, messages) shown escaped."""
    return escape_terminal(_plain(client, ev))


def _plain(client: object, ev: object) -> str:
    from tickwire.polymarket_us.client import PolymarketClient
    from tickwire.polymarket_us.events import MarketData, Trade

    if isinstance(ev, MarketData):
        assert isinstance(client, PolymarketClient)
        book = client.book(ev.market_slug)
        if book is not None:
            return (
                f"book  {ev.market_slug:<28} bid {book.best_bid} ask {book.best_ask} "
                f"mid {book.mid} depth {book.depth('bid')}/{book.depth('ask')}"
            )
    if isinstance(ev, Trade):
        side = ev.taker_side.removeprefix("ORDER_SIDE_")
        return f"trade {ev.market_slug:<28} {ev.quantity} @ {ev.price} ({side})"
    if isinstance(ev, ControlEvent | Status):
        return describe(ev)
    return safe_text(f"{getattr(ev, 'event_type', type(ev).__name__)}: {ev}")
