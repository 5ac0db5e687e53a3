"""Typer application: the command tree. Each command's work lives in its own module."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from tickwire import __version__
from tickwire.cli.bars_cmd import bars
from tickwire.cli.consume_cmd import consume_app
from tickwire.cli.dashboard_cmd import dashboard
from tickwire.cli.journal_cmd import journal_app
from tickwire.cli.query_cmd import query
from tickwire.cli.record_cmd import record
from tickwire.cli.replay_cmd import replay
from tickwire.cli.sim_cmd import sim
from tickwire.cli.sinks_cmd import sinks_app
from tickwire.cli.stream_cmd import stream
from tickwire.redact import install_log_filter

app = typer.Typer(
    name="tickwire",
    help="Real-time market data over WebSockets: stream, record and simulate Massive/Polygon feeds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # never print locals: they may hold keys
)
app.command(help="Stream channels to the terminal (live view) or as JSON lines.")(stream)
app.command(help="Run the built-in exchange simulator on 127.0.0.1.")(sim)
app.command(help="Record a stream (the simulator without a key): journal + DuckDB + --sink targets.")(record)
app.command(help="SQL over the recorded database (while recording goes on).")(query)
app.command(
    help="Serve a recorded journal as a live stream in its provider's dialect, or load it --into sinks."
)(replay)
app.add_typer(journal_app, name="journal")
app.add_typer(sinks_app, name="sinks")
app.add_typer(consume_app, name="consume")
app.command(help="Download aggregate bars over REST; plot (--plot) and save (--out) them.")(bars)
app.command(help="Serve a live web page of a stream: candles, tape, alerts.")(dashboard)


@app.callback()
def options(
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            help="PEM bundle of CAs to trust for wss:// and https:// (a corporate proxy's, a test CA); "
            "sets SSL_CERT_FILE. Certificates are always verified.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Options for every command (``tickwire --ca-file ca.pem stream --url wss://...``)."""
    if ca_file is not None:  # read by OpenSSL's default store (streams) and httpx (REST)
        os.environ["SSL_CERT_FILE"] = str(ca_file)


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
    install_log_filter()  # every log line: secrets masked, network strings escaped
    app()
