"""``tickwire sim``: run the built-in exchange simulator until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib.util
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["sim"]


def sim(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one)")] = 8765,
    seed: Annotated[int, typer.Option(help="Market model seed: same seed, same market")] = 0,
    rate: Annotated[float, typer.Option(help="Mean trades per second per ticker")] = 2.0,
    tick_interval: Annotated[float, typer.Option(help="Seconds between data pushes")] = 0.05,
    max_connections: Annotated[int, typer.Option(help="Connections per key and cluster")] = 1,
    polymarket: Annotated[
        bool, typer.Option(help="Also serve Polymarket US (/v1/ws/markets, /v1/ws/private) on the same port")
    ] = True,
    pm_heartbeat: Annotated[float, typer.Option(help="Polymarket US heartbeat interval (s)")] = 5.0,
    pm_legacy: Annotated[
        bool, typer.Option(help="Polymarket US frames in the legacy snake_case format")
    ] = False,
    alpaca: Annotated[
        bool,
        typer.Option(help="Also serve Alpaca's streams (/v2/iex, /v1beta3/crypto/us, ...) on the same port"),
    ] = True,
    alpaca_reap_window: Annotated[
        float, typer.Option(help="Alpaca: seconds a dead session keeps its slot (406 until then)")
    ] = 90.0,
    alpaca_auth_timeout: Annotated[
        float, typer.Option(help="Alpaca: seconds to authenticate (404 after)")
    ] = 10.0,
    rest: Annotated[bool, typer.Option(help="Also serve the REST API (aggregates, trades...)")] = True,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Serve wss:// and https:// with this PEM certificate (chain)")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The certificate's PEM private key")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
) -> None:
    from tickwire.sim import serve

    if rest and importlib.util.find_spec("aiohttp") is None:  # the REST server runs on aiohttp
        typer.echo("note: not serving the REST API (needs aiohttp): pip install 'tickwire[rest]'", err=True)
        rest = False
    options: dict[str, Any] = {"rest": rest}
    if tls_cert is not None or tls_key is not None:  # e.g. to try a client's --ca-file on loopback
        if tls_cert is None:
            raise typer.BadParameter("--tls-key needs --tls-cert")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls_cert, tls_key)
        options["ssl_context"] = context
    dialects: list[Callable[[Any], Any]] = []
    if polymarket and importlib.util.find_spec("cryptography") is None:  # its Ed25519 signatures
        typer.echo(
            "note: not serving Polymarket US (needs cryptography): pip install 'tickwire[polymarket]'",
            err=True,
        )
        polymarket = False
    if polymarket:
        from tickwire.sim.polymarket import attach_polymarket

        dialects.append(
            lambda massive: attach_polymarket(massive, heartbeat_interval=pm_heartbeat, legacy=pm_legacy)
        )
    if alpaca:
        from tickwire.sim.alpaca import attach_alpaca

        dialects.append(
            lambda massive: attach_alpaca(
                massive, reap_window=alpaca_reap_window, auth_timeout=alpaca_auth_timeout
            )
        )
    if dialects:
        options["started"] = lambda massive: [attach(massive) for attach in dialects]

    async def run() -> None:
        server = serve(
            host,
            port,
            seed,
            rate=rate,
            tick_interval=tick_interval,
            max_connections=max_connections,
            **options,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server, duration)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        typer.echo(
            f"error: port {port} on {host} is in use (another simulator?); pass another --port", err=True
        )
        raise typer.Exit(2) from None
    typer.echo("simulator stopped", err=True)
