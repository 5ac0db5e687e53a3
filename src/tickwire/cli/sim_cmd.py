"""``tickwire sim``: run the built-in exchange simulator until Ctrl-C."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

__all__ = ["sim"]


def sim(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one)")] = 8765,
    seed: Annotated[int, typer.Option(help="Market model seed: same seed, same market")] = 0,
) -> None:
    from ..sim import run_sim

    try:
        asyncio.run(run_sim(host=host, port=port, seed=seed))
    except KeyboardInterrupt:
        typer.echo("simulator stopped", err=True)
