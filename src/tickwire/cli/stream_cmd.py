"""``tickwire stream``: the live view (or JSON lines) of a stream, real or simulated.

Massive (channels ``T.AAPL``, ``AM.*``...), Polymarket US (``--markets``, its own module) and
Alpaca (channels ``trades:AAPL,MSFT``, ``quotes:*``, ``bars:*``...; ``--market`` picks the stream:
``iex``, ``sip``, ``test``, ``crypto``, ``opra``, ``news``...). ``--sim`` streams from the built-in
simulator of the provider (:func:`alpaca_sim_options` gives an Alpaca client its simulator).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.live import Live

from tickwire.cli.extras import require
from tickwire.cli.key_options import ApiKey, KeyId, SecretKey
from tickwire.cli.view import StreamView, encode_jsonl
from tickwire.credentials import is_local_url, resolve_secret
from tickwire.errors import TickwireError
from tickwire.events import Event, Reconnected
from tickwire.massive.client import API_KEY_ENV_VARS, AsyncStreamClient
from tickwire.massive.enums import parse_market
from tickwire.provider import get_provider
from tickwire.redact import install_log_filter, json_escape_controls, safe_text
from tickwire.stream.consumer import StreamConsumer
from tickwire.tables import TableRegistry

if TYPE_CHECKING:
    from tickwire.sim.alpaca import AlpacaSimulator

__all__ = ["alpaca_sim_options", "stream"]

ALPACA_KEY_ENV_VARS = ("APCA_API_KEY_ID",)


async def alpaca_sim_options(
    stack: contextlib.AsyncExitStack, market: str, *, seed: int = 0, speed: float = 1.0
) -> tuple[AlpacaSimulator, dict[str, Any]]:
    """Start an Alpaca simulator (closed with ``stack``): it, and the client options that stream
    ``market`` from it with its test key (``url``, ``key_id``, ``secret_key``, no ``.env``)."""
    from tickwire.alpaca.endpoints import market_info
    from tickwire.sim.alpaca import SIM_KEY_ID, SIM_SECRET_KEY, AlpacaSimulator

    simulator = await stack.enter_async_context(AlpacaSimulator(seed=seed, speed=speed))
    options: dict[str, Any] = {
        "url": simulator.url_for(market_info(market).name),
        "key_id": SIM_KEY_ID,
        "secret_key": SIM_SECRET_KEY,
        "dotenv_path": None,
    }
    return simulator, options


def stream(
    channels: Annotated[
        list[str] | None,
        typer.Argument(help="Channels, e.g. T.AAPL Q.MSFT 'AM.*' (Alpaca: trades:AAPL,MSFT 'quotes:*')"),
    ] = None,
    market: Annotated[
        str,
        typer.Option(
            help="Massive: stocks, options, forex, crypto, indices, futures; Alpaca: iex (stocks), sip, "
            "delayed_sip, test, crypto, indicative, opra, news"
        ),
    ] = "stocks",
    feed: Annotated[str, typer.Option(help="realtime, delayed, business, launchpad, or a host")] = "realtime",
    url: Annotated[
        str | None, typer.Option(help="Full ws:// or wss:// URL (overrides --feed; Alpaca: the stream URL)")
    ] = None,
    jsonl: Annotated[
        bool,
        typer.Option(
            "--jsonl", help="Print one JSON object per event: its table's row (symbol, price... ts in ns)"
        ),
    ] = False,
    wire: Annotated[
        bool, typer.Option("--wire", help="With --jsonl: the provider's wire keys (sym, p, t) instead")
    ] = False,
    sim: Annotated[bool, typer.Option("--sim", help="Stream from the built-in simulator")] = False,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
    seed: Annotated[int, typer.Option(help="Simulator seed (with --sim)")] = 0,
    provider: Annotated[str, typer.Option(help="massive, polymarket or alpaca")] = "massive",
    markets: Annotated[
        str | None,
        typer.Option(
            help="Polymarket US market slugs: slug1,slug2; Alpaca: symbols for channels that name none"
        ),
    ] = None,
    api_key: ApiKey = None,
    key_id: KeyId = None,
    secret_key: SecretKey = None,
) -> None:
    install_log_filter()
    if provider.lower() == "polymarket":
        from tickwire.cli.polymarket_stream import stream_polymarket

        require("tickwire stream --provider polymarket", "polymarket")
        if market != "stocks" and markets is None:  # --market given for --markets: never ignored
            raise typer.BadParameter(
                f"Polymarket US takes market slugs with --markets (--markets {market})", param_hint="--market"
            )
        stream_polymarket(markets, url, jsonl, sim, duration, seed, wire, key_id, secret_key)
        return
    if provider.lower() in ("alpaca", "alpaca-markets"):
        _stream_alpaca(
            list(channels or []), market, markets, url, jsonl, sim, duration, seed, wire, key_id, secret_key
        )
        return
    if provider.lower() != "massive":
        raise typer.BadParameter(f"unknown provider {provider!r}: massive, polymarket or alpaca")
    if wire and not jsonl:
        raise typer.BadParameter("--wire only applies to --jsonl output", param_hint="--wire")
    try:
        market = parse_market(market).value  # "stock": one line naming the markets, exit 2
    except TickwireError as exc:
        raise typer.BadParameter(safe_text(str(exc)), param_hint="--market") from None
    chans = list(channels or [])
    if not chans:
        chans = ["T.*", "Q.*", "AM.*"] if market == "stocks" else []
    if not chans:
        raise typer.BadParameter(f"name at least one channel for {market}, e.g. XT.BTC-USD on crypto")
    local = url is not None and is_local_url(url)  # the simulator, a replay: no key needed
    if not sim and not local and resolve_secret(api_key, API_KEY_ENV_VARS) is None:
        typer.echo(
            "error: no API key: pass --api-key KEY or set MASSIVE_API_KEY (or POLYGON_API_KEY, or put it "
            f"in a .env file); to try without a key: tickwire stream --sim {' '.join(chans)}",
            err=True,
        )
        raise typer.Exit(2)

    async def open_massive(stack: contextlib.AsyncExitStack) -> tuple[StreamConsumer, str]:
        stream_url = url
        if sim:
            from tickwire.sim import MassiveSimulator

            simulator = await stack.enter_async_context(MassiveSimulator(seed=seed))
            stream_url = simulator.url_for(market, delayed=feed.lower() == "delayed")
        client = await stack.enter_async_context(
            AsyncStreamClient(api_key=api_key, market=market, feed=feed, url=stream_url)
        )
        await client.subscribe(*chans)
        where = "simulator" if sim else client.driver.session_url_safe
        return client, f"tickwire · {client.market.value} · {where}"

    _run_and_report(open_massive, jsonl, duration, None if wire else get_provider("massive").tables(market))


def _stream_alpaca(
    channels: list[str],
    market: str,
    symbols: str | None,
    url: str | None,
    jsonl: bool,
    sim: bool,
    duration: float | None,
    seed: int,
    wire: bool = False,
    key_id: str | None = None,
    secret_key: str | None = None,
) -> None:
    """``--provider alpaca``: ``channels`` in the provider's syntax (default: its record set)."""
    from tickwire.alpaca.endpoints import market_info
    from tickwire.provider import get_provider

    provider = get_provider("alpaca")
    try:
        name = market_info(market).name  # "stocks" (the default) is iex
        chans = channels or list(provider.default_channels(name))
    except TickwireError as exc:
        raise typer.BadParameter(safe_text(str(exc)), param_hint="--market") from None
    local = url is not None and is_local_url(url)
    if not sim and not local and resolve_secret(key_id, ALPACA_KEY_ENV_VARS) is None:
        typer.echo(
            "error: no Alpaca key: pass --key-id and --secret-key or set APCA_API_KEY_ID and "
            "APCA_API_SECRET_KEY (or put them in a .env file); to try without a key: "
            f"tickwire stream --provider alpaca --sim {' '.join(chans)}",
            err=True,
        )
        raise typer.Exit(2)

    async def open_alpaca(stack: contextlib.AsyncExitStack) -> tuple[StreamConsumer, str]:
        options: dict[str, Any] = {}
        if sim:
            _, options = await alpaca_sim_options(stack, name, seed=seed)
        elif url is not None:
            options["url"] = url
            if local and resolve_secret(key_id, ALPACA_KEY_ENV_VARS) is None:  # a replay takes any key
                from tickwire.sim.alpaca import SIM_KEY_ID, SIM_SECRET_KEY

                options.update(key_id=SIM_KEY_ID, secret_key=SIM_SECRET_KEY)
        if not sim and key_id is not None:
            options["key_id"] = key_id
        if not sim and secret_key is not None:
            options["secret_key"] = secret_key
        markets = [symbols] if symbols else []
        client = await stack.enter_async_context(
            provider.open_client(name, chans, markets=markets, **options)
        )
        where = "simulator" if sim else client.safe_url
        return client, f"tickwire · Alpaca {name} · {where}"

    _run_and_report(open_alpaca, jsonl, duration, None if wire else provider.tables(name))


Opener = Callable[[contextlib.AsyncExitStack], Awaitable[tuple[StreamConsumer, str]]]


def _run_and_report(
    open_client: Opener, jsonl: bool, duration: float | None, tables: TableRegistry | None = None
) -> None:
    """Stream until ``duration`` or a signal, then print the summary; exit 1 on a fatal error.
    ``tables``: JSON lines are the events' normalized rows (None: the wire form, ``--wire``)."""
    try:
        summary = asyncio.run(_run(open_client, jsonl, duration, tables))
    except TickwireError as exc:
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(1) from None
    typer.echo(summary, err=True)


async def _run(
    open_client: Opener, jsonl: bool, duration: float | None, tables: TableRegistry | None = None
) -> str:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        client, title = await open_client(stack)
        started = time.time()
        tally = _Tally()
        consumer = asyncio.ensure_future(_consume(client, title, jsonl, tally, tables))
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


def rows_jsonl(tables: TableRegistry | None, batch: list[Event]) -> bytes:
    """JSON lines of a batch: each stored event's normalized row (:mod:`tickwire.sinks.rows`),
    control events as tickwire encodes them; ``tables`` None: every event in its wire form."""
    if tables is None:
        return encode_jsonl(batch)
    from tickwire.rows import event_rows  # msgspec only: no storage extra needed

    rows = event_rows(tables, batch)
    lines = [row if row is not None else encode_jsonl([ev])[:-1] for row, ev in zip(rows, batch, strict=True)]
    return json_escape_controls(b"\n".join(lines) + b"\n")


async def _consume(
    client: StreamConsumer, title: str, jsonl: bool, tally: _Tally, tables: TableRegistry | None = None
) -> None:
    if jsonl:
        out = sys.stdout.buffer
        async for batch in client.batches():
            tally.see(batch)
            out.write(rows_jsonl(tables, batch))
            out.flush()
        return
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
