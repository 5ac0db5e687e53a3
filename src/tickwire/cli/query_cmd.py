"""``tickwire query "SELECT …"``: SQL over the embedded database (works while recording goes on)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["query"]


def query(
    sql: Annotated[
        str, typer.Argument(help='SQL, e.g. "SELECT symbol, count(*) FROM stocks_trades GROUP BY 1"')
    ],
    data_dir: Annotated[Path, typer.Option("--data-dir", "-d", help="The recording's directory")] = Path(
        "tickwire-data"
    ),
    csv: Annotated[bool, typer.Option("--csv", help="CSV output instead of a table")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to retry while the recorder holds the file")] = 15.0,
) -> None:
    """Run SQL on ``<data-dir>/tickwire.duckdb`` (read-only). ``parquet`` is a view-free alternative:
    ``read_parquet('<data-dir>/parquet/channel=*/*/*.parquet', hive_partitioning=true)``."""
    import duckdb

    path = data_dir / "tickwire.duckdb"
    if not path.exists():
        typer.echo(f"error: no database at {path}; record first: tickwire record -d {data_dir}", err=True)
        raise typer.Exit(2)
    deadline = time.monotonic() + wait
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException as exc:  # the recorder is writing right now: it lets go every second
            if time.monotonic() > deadline:
                typer.echo(f"error: cannot open {path}: {exc}", err=True)
                raise typer.Exit(1) from None
            time.sleep(0.05)
    try:
        rel = con.sql(sql)
        if rel is None:
            return
        if csv:
            cols = rel.columns
            typer.echo(",".join(cols))
            for row in rel.fetchall():
                typer.echo(",".join("" if v is None else str(v) for v in row))
        else:
            typer.echo(str(rel))
    except duckdb.Error as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        con.close()
