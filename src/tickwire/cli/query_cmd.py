"""``tickwire query "SELECT …"``: SQL over the embedded database (works while recording goes on).

``--tables`` lists the recording's tables with their row counts and natural keys (from the tables of
the provider that recorded it, as the journal says). Values reach the terminal with control
characters escaped: recorded text comes from the network.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from tickwire.errors import ConfigError, JournalError

__all__ = ["query"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """``text`` with control characters (terminal escapes...) shown as ``\\xNN``; newlines kept."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _cell(value: Any) -> str:
    """A CSV cell: decimals in plain notation (``0.000000000``, not ``0E-9``)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def query(
    sql: Annotated[
        str | None,
        typer.Argument(
            help='SQL, e.g. "SELECT symbol, count(*) FROM stocks_trades GROUP BY 1" '
            '(Polymarket US: "SELECT market_slug, avg(mid) FROM polymarket_us_books GROUP BY 1")'
        ),
    ] = None,
    data_dir: Annotated[Path, typer.Option("--data-dir", "-d", help="The recording's directory")] = Path(
        "tickwire-data"
    ),
    csv: Annotated[bool, typer.Option("--csv", help="CSV output instead of a table")] = False,
    tables: Annotated[bool, typer.Option("--tables", help="List the recording's tables")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to retry while the recorder holds the file")] = 15.0,
) -> None:
    """Run SQL on ``<data-dir>/tickwire.duckdb`` (read-only). ``parquet`` is a view-free alternative:
    ``read_parquet('<data-dir>/parquet/<table>/*.parquet')`` (one file per journal range)."""
    from tickwire.cli.extras import require

    require("tickwire query", "storage")
    import duckdb

    if sql is None and not tables:
        typer.echo('error: give SQL ("SELECT ...") or --tables', err=True)
        raise typer.Exit(2)
    path = data_dir / "tickwire.duckdb"
    if not path.exists():
        typer.echo(f"error: no database at {path}; record first: tickwire record -d {data_dir}", err=True)
        raise typer.Exit(2)
    deadline = time.monotonic() + wait
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException as exc:  # the recorder has it: it lets go at least every second
            if time.monotonic() > deadline:
                typer.echo(f"error: cannot open {path}: {_printable(str(exc))}", err=True)
                raise typer.Exit(1) from None
            time.sleep(0.01)
    try:
        if tables:
            _list_tables(con, data_dir, csv)
            return
        assert sql is not None
        rel = con.sql(sql)
        if rel is None:
            return
        if csv:
            typer.echo(",".join(rel.columns))
            for row in rel.fetchall():
                typer.echo(_printable(",".join(_cell(v) for v in row)))
        else:
            typer.echo(_printable(str(rel)))
    except duckdb.CatalogException as exc:
        present = ", ".join(name for name, _ in _counts(con)) or "none yet"
        message = str(exc).splitlines()[0]
        typer.echo(f"error: {_printable(message)} (tables here: {present})", err=True)
        raise typer.Exit(1) from None
    except duckdb.Error as exc:
        typer.echo(f"error: {_printable(str(exc))}", err=True)
        raise typer.Exit(1) from None
    finally:
        con.close()


def _counts(con: Any) -> list[tuple[str, int]]:
    names = [r[0] for r in con.sql("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
    return [(n, int(con.sql(f'SELECT count(*) FROM "{n}"').fetchall()[0][0])) for n in names]


def _list_tables(con: Any, data_dir: Path, csv: bool) -> None:
    """Every table of the database, rows and natural key; the recorder's tables not written yet too."""
    from tickwire.journal import journal_provider

    keys: dict[str, tuple[str, ...]] = {}
    try:
        provider, market = journal_provider(data_dir / "journal")
        keys = {t.name: t.key for t in provider.tables(market).tables()}
        header = f"{provider.title} {market}"
    except (ConfigError, JournalError, OSError):
        header = "unknown provider (no journal)"
    counts = {n: c for n, c in _counts(con) if not n.startswith("_tickwire")}  # bookkeeping, not data
    rows = [(name, counts.get(name, 0), ", ".join(keys.get(name, ()))) for name in sorted({*counts, *keys})]
    if csv:
        typer.echo("table,rows,key")
        for name, n, key in rows:
            typer.echo(f'{name},{n},"{key}"')
        return
    typer.echo(f"tables of {header}:")
    width = max((len(r[0]) for r in rows), default=5)
    for name, n, key in rows:
        typer.echo(f"  {name:<{width}}  {n:>12,}  {key}")
