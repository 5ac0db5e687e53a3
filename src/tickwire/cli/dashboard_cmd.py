"""``tickwire dashboard``: a live web page (candles, books, tape, alerts, connection) of a stream.

The page is provider-neutral: this command opens the chosen provider's client (Massive channels,
Polymarket US markets, or Alpaca symbols: their trades and quotes, plus order books on the crypto
stream) and hands the dashboard that provider's ``ticks`` converter, found by name through
:func:`tickwire.provider.get_provider`. ``--sim`` streams from the built-in simulator of any of
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from tickwire.cli.extras import require
from tickwire.cli.key_options import ApiKey, KeyId, SecretKey
from tickwire.credentials import is_local_url, resolve_secret
from tickwire.errors import ConfigError, TickwireError
from tickwire.massive.client import API_KEY_ENV_VARS
from tickwire.provider import Provider, get_provider
from tickwire.redact import install_log_filter, safe_text
from tickwire.stream.consumer import StreamConsumer

__all__ = ["dashboard"]

MAX_SYMBOLS = 5000
"""The default of ``--max-symbols``: ``tickwire.dashboard.state.MAX_SYMBOLS``, not imported here
because the dashboard package needs the ``dashboard`` extra and every CLI command loads this module."""


def _channels(items: list[str], quotes: bool) -> tuple[list[str], list[str]]:
    """Channels to subscribe and symbols to show (``AAPL`` means ``T.AAPL``; quotes added per symbol)."""
    chans: list[str] = []
    symbols: list[str] = []
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            chan = part if "." in part else f"T.{part.upper()}"
            prefix, _, sym = chan.partition(".")
            if chan not in chans:
                chans.append(chan)
            if prefix in ("T", "XT") and sym != "*":
                if sym not in symbols:
                    symbols.append(sym)
                quote = f"{'Q' if prefix == 'T' else 'XQ'}.{sym}"
                if quotes and quote not in chans:
                    chans.append(quote)
    return chans, symbols


def _slugs(markets: str | None, extra: list[str]) -> list[str]:
    """Polymarket US market slugs from ``--markets a,b`` and any positional ones, in order, once each."""
    items = [markets or "", *extra]
    return list(dict.fromkeys(s.strip() for item in items for s in item.split(",") if s.strip()))


@dataclass
class _Stream:
    """What the dashboard is built over: a started-on-enter client and how to show it."""

    client: StreamConsumer
    symbols: list[str]
    clock: Callable[[], int]
    title: str


async def _open_massive(
    stack: contextlib.AsyncExitStack,
    provider: Provider,
    chans: list[str],
    symbols: list[str],
    *,
    market: str,
    feed: str,
    url: str | None,
    sim: bool,
    seed: int,
    speed: float,
    api_key: str | None = None,
) -> _Stream:
    stream_url = url
    clock: Callable[[], int] = time.time_ns
    if sim:
        from tickwire.sim import MassiveSimulator

        simulator = await stack.enter_async_context(MassiveSimulator(seed=seed, speed=speed))
        stream_url = simulator.url_for(market, delayed=feed.lower() == "delayed")

        def clock() -> int:  # the simulator's market clock (it may run fast)
            return simulator.now_ms() * 1_000_000

    client = provider.open_client(market, chans, api_key=api_key, feed=feed, url=stream_url)
    await stack.enter_async_context(client)
    where = "simulator" if sim else provider.market(market)
    return _Stream(client, symbols, clock, f"tickwire · {where}")


async def _open_polymarket(
    stack: contextlib.AsyncExitStack,
    provider: Provider,
    slugs: list[str],
    *,
    url: str | None,
    sim: bool,
    seed: int,
    lite: bool,
    keys: dict[str, str] | None = None,
) -> _Stream:
    options: dict[str, object] = dict(keys or {})
    if url is not None:
        options["base_url"] = url
    if sim:
        from tickwire.sim.polymarket import PolymarketSimulator

        simulator = await stack.enter_async_context(PolymarketSimulator(seed=seed))
        options.update(key_id=simulator.key_id, secret_key=simulator.secret_key, base_url=simulator.url)
        slugs = slugs or simulator.markets[:3]
    channels = ["market_data", "trade", *(["market_data_lite"] if lite else [])]
    client = provider.open_client("markets", channels, markets=slugs, **options)
    await stack.enter_async_context(client)
    return _Stream(client, slugs, time.time_ns, f"tickwire · {provider.title}{' simulator' if sim else ''}")


def _alpaca_channels(items: list[str], market: str, quotes: bool) -> tuple[list[str], list[str]]:
    """Alpaca channels and the symbols to show: ``AAPL`` (or ``BTC/USD``) means its trades, its
    quotes (``quotes``) and, on the crypto stream, its order book; ``channel:SYM,...`` is taken as is."""
    from tickwire.alpaca.endpoints import market_info

    crypto = market_info(market).asset_class == "crypto"
    chans: list[str] = []
    symbols: list[str] = []
    for item in items:
        if ":" in item:
            chans.append(item.strip())
            channel, _, named = item.partition(":")
            if channel.strip().lower() in ("trades", "trade"):
                symbols += [s.strip() for s in named.split(",") if s.strip() and s.strip() != "*"]
            continue
        for part in item.split(","):
            sym = part.strip().upper()
            if sym and sym not in symbols:
                symbols.append(sym)
    if symbols:
        joined = ",".join(symbols)
        wanted = ["trades", *(["quotes"] if quotes else []), *(["orderbooks"] if crypto else [])]
        chans += [f"{c}:{joined}" for c in wanted if not any(x.startswith(c + ":") for x in chans)]
    return list(dict.fromkeys(chans)), list(dict.fromkeys(symbols))


async def _open_alpaca(
    stack: contextlib.AsyncExitStack,
    provider: Provider,
    items: list[str],
    *,
    market: str,
    url: str | None,
    sim: bool,
    seed: int,
    speed: float,
    quotes: bool,
    keys: dict[str, str] | None = None,
) -> _Stream:
    from tickwire.alpaca.endpoints import market_info
    from tickwire.cli.stream_cmd import alpaca_sim_options

    name = market_info(market).name  # "stocks" (the default) is iex
    options: dict[str, Any] = {}
    clock: Callable[[], int] = time.time_ns
    if sim:
        simulator, options = await alpaca_sim_options(stack, name, seed=seed, speed=speed)
        items = items or simulator.symbols(name)[:3]

        def clock() -> int:  # the simulator's market clock (it may run fast)
            return simulator.now_ms() * 1_000_000

    else:
        options.update(keys or {})
        if url is not None:
            options["url"] = url
    chans, symbols = _alpaca_channels(items, name, quotes)
    if not chans:
        raise ConfigError("name the symbols, e.g. AAPL MSFT (or channels: trades:AAPL)")
    client = provider.open_client(name, chans, **options)
    await stack.enter_async_context(client)
    where = "simulator" if sim else name
    return _Stream(client, symbols, clock, f"tickwire · {provider.title} {where}")


def dashboard(
    channels: Annotated[
        list[str] | None,
        typer.Argument(
            help="Massive trade channels or symbols, e.g. T.AAPL T.MSFT (or AAPL); Alpaca symbols "
            "(AAPL, BTC/USD) or channels (trades:AAPL)"
        ),
    ] = None,
    provider: Annotated[str, typer.Option(help="massive, polymarket or alpaca")] = "massive",
    markets: Annotated[
        str | None, typer.Option(help="Polymarket US market slugs: slug1,slug2 (--sim: its first three)")
    ] = None,
    market: Annotated[
        str,
        typer.Option(
            help="Massive: stocks, options, forex, crypto, indices, futures; Alpaca: iex (stocks), sip, "
            "test, crypto, indicative, opra..."
        ),
    ] = "stocks",
    feed: Annotated[str, typer.Option(help="realtime, delayed, business, launchpad, or a host")] = "realtime",
    url: Annotated[
        str | None,
        typer.Option(
            help="Stream URL: a full ws(s):// Massive URL (overrides --feed), or a Polymarket base URL"
        ),
    ] = None,
    sim: Annotated[bool, typer.Option("--sim", help="Stream from the built-in simulator")] = False,
    seed: Annotated[int, typer.Option(help="Simulator seed (with --sim)")] = 0,
    speed: Annotated[
        float, typer.Option(help="Simulator market-clock speed (60: a minute candle per second)")
    ] = 1.0,
    host: Annotated[str, typer.Option(help="Address to serve the page on")] = "127.0.0.1",
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            help="A Host name to serve besides localhost and --host (repeatable; '*': any). Other names "
            "are refused (403), against DNS rebinding"
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="TICKWIRE_DASHBOARD_TOKEN",
            show_envvar=True,
            help="Require this token on every request (?token= or Authorization: Bearer); "
            "the environment variable keeps it out of the process list",
        ),
    ] = None,
    max_symbols: Annotated[
        int,
        typer.Option(help="Symbols tracked besides the named ones (least recently updated dropped)"),
    ] = MAX_SYMBOLS,
    port: Annotated[int, typer.Option(help="Port of the page (0 picks a free one)")] = 8050,
    interval: Annotated[float, typer.Option(help="Candle length in seconds")] = 60.0,
    push_interval: Annotated[float, typer.Option(help="Seconds between pushes to the page")] = 0.25,
    quotes: Annotated[
        bool, typer.Option(help="Massive, Alpaca: also subscribe the quotes of each symbol")
    ] = True,
    lite: Annotated[
        bool, typer.Option(help="Polymarket: also subscribe MARKET_DATA_LITE (current prices)")
    ] = True,
    ladder_depth: Annotated[int, typer.Option(help="Book levels shown per side")] = 10,
    alert: Annotated[
        list[str] | None,
        typer.Option(help="Alert rule 'KIND SYMBOL key=value...', e.g. 'cross AAPL level=190'"),
    ] = None,
    alerts: Annotated[
        Path | None, typer.Option(help="TOML file of alert rules (and webhook/NATS targets)")
    ] = None,
    webhook: Annotated[str | None, typer.Option(help="POST each alert as JSON to this URL")] = None,
    nats_url: Annotated[str | None, typer.Option(help="Publish each alert to NATS at this URL")] = None,
    nats_subject: Annotated[str | None, typer.Option(help="NATS subject of the alerts")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in a browser")] = False,
    api_key: ApiKey = None,
    key_id: KeyId = None,
    secret_key: SecretKey = None,
) -> None:
    require("tickwire dashboard", "dashboard")
    keys = {k: v for k, v in (("key_id", key_id), ("secret_key", secret_key)) if v}
    if provider.lower().startswith("polymarket"):
        require("tickwire dashboard --provider polymarket", "polymarket")
    from tickwire.alerts import AlertNotifier, NatsSink, WebhookSink, load_alert_config

    install_log_filter()
    if token is not None and not token.strip():
        raise typer.BadParameter("the token must not be empty", param_hint="--token")
    if max_symbols < 1:
        raise typer.BadParameter("at least 1", param_hint="--max-symbols")
    try:
        chosen = get_provider(provider)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--provider") from None
    massive = chosen.name == "massive"
    alpaca = chosen.name == "alpaca"
    chans, symbols = _channels(list(channels or []), quotes) if massive else ([], [])
    slugs = [] if massive or alpaca else _slugs(markets, list(channels or []))
    if massive and not chans:
        raise typer.BadParameter("name at least one channel or symbol, e.g. T.AAPL")
    if alpaca:
        if not channels and not sim:
            raise typer.BadParameter("name the symbols, e.g. AAPL MSFT (or channels: trades:AAPL)")
        if not sim and url is None and resolve_secret(key_id, ("APCA_API_KEY_ID",)) is None:
            typer.echo(
                "No Alpaca key found: set APCA_API_KEY_ID and APCA_API_SECRET_KEY, or put them in a .env "
                "file.\nTo try the dashboard without a key:\n"
                f"    tickwire dashboard --provider alpaca --sim --speed 60 {' '.join(channels or [])}",
                err=True,
            )
            raise typer.Exit(2)
    elif not massive and not slugs and not sim:
        raise typer.BadParameter("name the markets: --markets slug1,slug2", param_hint="--markets")
    local = url is not None and is_local_url(url)  # the simulator, a replay: any key does
    if massive and not sim and not local and resolve_secret(api_key, API_KEY_ENV_VARS) is None:
        typer.echo(
            "error: no API key: pass --api-key KEY or set MASSIVE_API_KEY (or POLYGON_API_KEY, or put it "
            f"in a .env file); to try without a key: tickwire dashboard --sim --speed 60 {' '.join(chans)}",
            err=True,
        )
        raise typer.Exit(2)
    try:
        cfg = load_alert_config(alerts, alert)
        webhook = webhook or cfg.webhook
        nats_url = nats_url or cfg.nats_url
        sinks: list[WebhookSink | NatsSink] = []
        if webhook:
            sinks.append(WebhookSink(webhook))
        if nats_url:
            sinks.append(NatsSink(nats_url, nats_subject or cfg.nats_subject))
    except (ConfigError, ValueError) as exc:
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(2) from None

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        if duration is not None:
            loop.call_later(duration, stop.set)
        from tickwire.dashboard import Dashboard

        async with contextlib.AsyncExitStack() as stack:
            if massive:
                stream = await _open_massive(
                    stack,
                    chosen,
                    chans,
                    symbols,
                    market=market,
                    feed=feed,
                    url=url,
                    sim=sim,
                    seed=seed,
                    speed=speed,
                    api_key=api_key,
                )
            elif alpaca:
                stream = await _open_alpaca(
                    stack,
                    chosen,
                    list(channels or []),
                    market=market,
                    url=url,
                    sim=sim,
                    seed=seed,
                    speed=speed,
                    quotes=quotes,
                    keys=keys,
                )
            else:
                stream = await _open_polymarket(
                    stack, chosen, slugs, url=url, sim=sim, seed=seed, lite=lite, keys=keys
                )
            dash = await stack.enter_async_context(
                Dashboard(
                    stream.client,
                    ticks=chosen.ticks,
                    symbols=stream.symbols,
                    interval=interval,
                    rules=cfg.rules,
                    notifier=AlertNotifier(sinks=list(sinks)),
                    host=host,
                    port=port,
                    push_interval=push_interval,
                    clock=stream.clock,
                    title=stream.title,
                    ladder_depth=ladder_depth,
                    max_symbols=max_symbols,
                    allow_hosts=allow_host or (),
                    token=token,
                )
            )
            needs = "; add ?token=<your token> to the address" if token else ""
            typer.echo(
                f"dashboard: {dash.url}  ({len(cfg.rules)} alert rules{needs}; Ctrl-C to stop)", err=True
            )
            if open_browser:
                webbrowser.open(dash.url + (f"?token={quote(token, safe='')}" if token else ""))
            ended = asyncio.ensure_future(dash.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({ended, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if ended.done():
                ended.result()
            else:
                ended.cancel()
            m = stream.client.metrics()
            fired = sum(dash.engine.fired.values())
            typer.echo(
                f"tickwire: {m.events:,} events, {dash.state.panel.reconnects} reconnects, {fired} alerts, "
                f"{dash.server.pushes} pushes to {dash.server.pages_total} pages",
                err=True,
            )

    try:
        asyncio.run(run())
    except TickwireError as exc:
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:  # the port is taken, most likely
        typer.echo(f"error: cannot serve the dashboard on {host}:{port}: {exc}", err=True)
        raise typer.Exit(1) from None
