"""Typer application: the command tree. Each command's work lives in its own module."""

from __future__ import annotations

import errno
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import typer.core
from rich.console import Console
from rich.logging import RichHandler
from typer._click import Context
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer vendors click

from tickwire import __version__
from tickwire.cli.bars_cmd import bars
from tickwire.cli.consume_cmd import consume_app
from tickwire.cli.dashboard_cmd import dashboard
from tickwire.cli.extras import missing_extra_line
from tickwire.cli.gateway_cmd import gateway
from tickwire.cli.ha_cmd import ha_app
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
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
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
app.add_typer(ha_app, name="ha")
app.command(help="Download aggregate bars over REST; plot (--plot) and save (--out) them.")(bars)
app.command(help="Serve a live web page of a stream: candles, tape, alerts.")(dashboard)
app.command(help="Serve the Massive protocol to many clients over ONE upstream connection.")(gateway)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"tickwire {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Print the version and exit.", callback=_show_version, is_eager=True
        ),
    ] = False,
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


def _flag_type(self: typer.core.TyperOption, ctx: Context) -> str | None:
    """No ``<bool>`` type column for a flag: ``--sim`` takes no value."""
    return None if self.is_flag else _option_type(self, ctx)


_option_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


def main() -> None:
    logging.basicConfig(
        level=logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
    )
    install_log_filter()  # every log line: secrets masked, network strings escaped
    try:
        code = app(standalone_mode=False)  # usage errors are ours to print: one line, not a box
    except NoArgsIsHelpError as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except ClickException as exc:
        print(_one_line(exc), file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        print("aborted", file=sys.stderr)
        raise SystemExit(1) from None
    except ModuleNotFoundError as exc:  # a command reached a module of an extra not installed
        line = missing_extra_line(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:  # a server's port taken: the commands name their --port; this is the net
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"error: address already in use ({exc.strerror}); pick another --port", file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _one_line(exc: ClickException) -> str:
    """``error: Invalid value for '--speed': ... (tickwire replay --help)``: what to do, on one line."""
    text = "; ".join(line.strip() for line in exc.format_message().splitlines() if line.strip())
    ctx = getattr(exc, "ctx", None)
    where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
    return f"error: {text}{where}"
