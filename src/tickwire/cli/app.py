"""Typer application: the command tree. Each command's work lives in its own module."""

from __future__ import annotations

import logging

import typer
from rich.console import Console
from rich.logging import RichHandler

from .. import __version__
from .sim_cmd import sim
from .stream_cmd import stream

app = typer.Typer(
    name="tickwire",
    help="Real-time market data over WebSockets: stream, record and simulate Massive/Polygon feeds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # never print locals: they may hold keys
)
app.command(help="Stream channels to the terminal (live view) or as JSON lines.")(stream)
app.command(help="Run the built-in exchange simulator on 127.0.0.1.")(sim)


@app.command()
def version() -> None:
    """Print the tickwire version."""
    typer.echo(__version__)


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
    )
    app()
