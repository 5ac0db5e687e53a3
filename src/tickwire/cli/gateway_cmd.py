"""``tickwire gateway``: one upstream connection, the Massive protocol served to many local clients.

The upstream is a Massive-protocol URL, the built-in simulator, or ``nats://...``: the JetStream
stream an HA recorder publishes (:class:`~tickwire.gateway.nats_upstream.NatsUpstream`), so any
number of gateways on any hosts serve that recorder's one vendor connection."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from tickwire.cli.extras import require
from tickwire.credentials import resolve_secret
from tickwire.errors import TickwireError
from tickwire.gateway.server import is_loopback
from tickwire.massive.client import API_KEY_ENV_VARS
from tickwire.massive.enums import parse_market
from tickwire.redact import mask_secrets, safe_text

__all__ = ["gateway"]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def gateway(
    upstream: Annotated[
        str | None,
        typer.Option(
            help="Massive-protocol URL to hold one connection to (wss://socket.massive.com, ws://...), "
            "or the NATS servers of an HA recorder (nats://a:4222,nats://b:4222) to serve its stream"
        ),
    ] = None,
    sim: Annotated[bool, typer.Option("--sim", help="Upstream: the built-in simulator, in-process")] = False,
    market: Annotated[
        str, typer.Option(help="stocks, options, forex, crypto, indices, futures...")
    ] = "stocks",
    host: Annotated[str, typer.Option(help="Address to bind; not loopback needs --token")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one)")] = 8766,
    token: Annotated[
        list[str] | None,
        typer.Option(help="A token clients authenticate with (repeatable); none: any value is accepted"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(help="Vendor key for --upstream (default: $MASSIVE_API_KEY)", show_default=False),
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Also serve /metrics on this port (it is always on the main port)")
    ] = None,
    buffer_bytes: Annotated[
        int, typer.Option(help="Per-client send buffer; a client over it is cut with slow_consumer")
    ] = 8 * 1024 * 1024,
    seed: Annotated[int, typer.Option(help="Simulator seed (with --sim)")] = 0,
    rate: Annotated[float, typer.Option(help="Simulator trades per second per ticker (with --sim)")] = 2.0,
    ha_prefix: Annotated[
        str | None,
        typer.Option("--ha-prefix", help="nats:// upstream: the recorder's subject prefix (default md)"),
    ] = None,
    nats_stream: Annotated[
        str | None,
        typer.Option(
            "--nats-stream",
            help="nats:// upstream: the stream (default the recorder's, MD_MASSIVE_<MARKET>)",
        ),
    ] = None,
) -> None:
    """Serve ws://HOST:PORT/<market> to any number of clients over ONE upstream connection."""
    tokens = [t for t in (token or []) if t]
    if token is not None and len(tokens) != len(token):
        raise _fail("--token must not be empty")
    if (upstream is None) == (not sim):
        raise _fail("give exactly one upstream: --upstream URL or --sim")
    try:
        mkt = parse_market(market)
    except TickwireError as exc:
        raise _fail(safe_text(str(exc))) from None
    if not is_loopback(host) and not tokens:
        raise _fail(f"--host {safe_text(host)} is not loopback: give at least one --token for clients")
    key: str | None = None
    nats = upstream is not None and urlsplit(upstream.strip()).scheme == "nats"
    if not nats and (ha_prefix is not None or nats_stream is not None):
        raise _fail("--ha-prefix and --nats-stream go with a nats:// upstream")
    if nats:
        assert upstream is not None
        _check_nats(upstream, ha_prefix, nats_stream)
        require("tickwire gateway --upstream nats://", "storage")
    elif upstream is not None:
        parts = urlsplit(upstream)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise _fail("--upstream must be a ws:// or wss:// URL (or use --sim)")
        secret = resolve_secret(api_key, API_KEY_ENV_VARS, None)
        if secret is not None:
            key = secret.reveal()
        elif is_loopback(parts.hostname):
            key = "local"  # a loopback server (the simulator, another gateway) takes any value
        else:
            raise _fail("no vendor key for the upstream: pass --api-key or set MASSIVE_API_KEY")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "tokens": tokens or None,
        "metrics_port": metrics_port,
        "buffer_bytes": buffer_bytes,
    }
    nats_options = {"prefix": ha_prefix or "md", "stream": nats_stream} if nats else None
    try:
        asyncio.run(_serve(upstream, key, mkt.value, sim, seed, rate, options, nats_options))
    except TickwireError as exc:
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:  # the port is taken, the address is not ours
        typer.echo(
            f"error: cannot serve on {safe_text(host)}:{port}: {safe_text(exc.strerror or str(exc))}",
            err=True,
        )
        raise typer.Exit(1) from None
    typer.echo("gateway stopped", err=True)


def _check_nats(upstream: str, prefix: str | None, stream: str | None) -> None:
    """``nats://host[:port]`` servers, comma-separated; a prefix and a stream name NATS accepts."""
    servers = [u.strip() for u in upstream.split(",")]
    for server in servers:
        parts = urlsplit(server)
        try:
            parts.port  # noqa: B018 (raises on a bad port)
        except ValueError:
            raise _fail(f"--upstream: bad port in {safe_text(mask_secrets(server))[:100]}") from None
        if parts.scheme != "nats" or not parts.hostname or parts.path not in ("", "/") or parts.query:
            raise _fail(
                "--upstream must be nats://host[:port][,nats://host[:port]...] (the servers of record --ha)"
            )
    if prefix is not None and (not prefix or re.search(r"[\s*>]", prefix) or prefix.strip(".") != prefix):
        raise _fail("--ha-prefix must be a subject prefix such as md (no spaces, * or >)")
    if stream is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", stream):
        raise _fail("--nats-stream must be a stream name (letters, digits, _ and -)")


async def _serve(
    upstream_url: str | None,
    key: str | None,
    market: str,
    sim: bool,
    seed: int,
    rate: float,
    options: dict[str, Any],
    nats_options: dict[str, Any] | None = None,
) -> None:
    from tickwire.gateway import Gateway, MassiveUpstream, Upstream

    async with contextlib.AsyncExitStack() as stack:
        source: Upstream | None = None
        if nats_options is not None:
            from tickwire.gateway.nats_upstream import NatsUpstream

            assert upstream_url is not None
            source = NatsUpstream(upstream_url, market, **nats_options)
            where = safe_text(source.description)
        elif sim:
            from tickwire.sim import MassiveSimulator

            simulator = await stack.enter_async_context(MassiveSimulator(seed=seed, rate=rate))
            upstream_url, key, where = simulator.url_for(market), "simulator", "the built-in simulator"
        else:
            assert upstream_url is not None
            parts = urlsplit(upstream_url)  # no userinfo, query or fragment: they may hold secrets
            where = safe_text(
                f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
            )
        if source is None:
            assert upstream_url is not None and key is not None
            source = MassiveUpstream(upstream_url, key, market)
        gw = await stack.enter_async_context(Gateway(source, **options))
        extra = f", /metrics also on port {gw.metrics_port}" if gw.metrics_port is not None else ""
        typer.echo(
            f"gateway serving {gw.url} (upstream: {where}; /metrics on the same port{extra})", err=True
        )
        loop = asyncio.get_running_loop()
        run = loop.create_task(gw.run())
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, run.cancel)
        try:
            await run
        except asyncio.CancelledError:
            pass
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
