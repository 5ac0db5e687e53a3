"""``tickwire sinks status|repair -d DIR``: each sink's watermark against the journal, and catching up.

The sinks are the data directory's own (``sinks.json``, written by ``tickwire record``, credentials
masked: pass ``--sink URL`` with the password to reach a sink that needs one) plus its DuckDB.
``status`` opens each sink, reads its watermark for the journal and counts exactly the events it
lacks; ``repair`` writes them (from the journal, in parallel) and exits 0 when every sink is
complete, 3 when one is not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import msgspec
import typer

from tickwire.errors import TickwireError

__all__ = ["outcome_lines", "sinks_app"]

sinks_app = typer.Typer(
    help="Sinks against the journal: status (watermarks, what each lacks) and repair.",
    no_args_is_help=True,
)


@sinks_app.callback()
def _needs_storage() -> None:
    from tickwire.cli.extras import require

    require("tickwire sinks", "storage")


INCOMPLETE = 3
"""The exit code of a run or repair that left a sink behind the journal."""


def outcome_lines(outcomes: Sequence[object], data_dir: Path) -> list[str]:
    """One line per incomplete sink: what it lacks, exactly, and how it gets complete."""
    from tickwire.journal.position import show_position
    from tickwire.record import SinkOutcome
    from tickwire.redact import escape_terminal

    lines = []
    for o in outcomes:
        assert isinstance(o, SinkOutcome)
        if o.complete:
            continue
        if o.lacking is not None:
            what = f"lacks {o.lacking:,} events (holds up to journal position {show_position(o.watermark)})"
        else:
            what = f"could not be reached; it lacks at least the {o.lacking_at_least:,} events of this run"
        why = f" [{escape_terminal(o.last_error)}]" if o.last_error else ""
        lines.append(
            f"sink {escape_terminal(o.name)}: {what}{why}; the next `tickwire record -d {data_dir}` "
            f"or `tickwire sinks repair -d {data_dir}` completes it"
        )
    for o in outcomes:
        assert isinstance(o, SinkOutcome)
        if o.dead_letters:
            lines.append(
                f"sink {escape_terminal(o.name)}: {o.dead_letters:,} events refused for their content, "
                f"kept in {data_dir / 'dead-letter'}"
            )
    return lines


def _sink_urls(data_dir: Path, given: list[str] | None) -> list[str]:
    from tickwire.record.recorder import SINKS_FILE

    if given:
        return given
    urls: list[str] = []
    duck = data_dir / "tickwire.duckdb"
    if duck.exists():
        urls.append(f"duckdb:{duck}")
    try:
        saved = json.loads((data_dir / SINKS_FILE).read_text())
    except (OSError, ValueError):
        saved = []
    urls.extend(u for u in saved if isinstance(u, str) and u not in urls)
    return urls


async def _run(data_dir: Path, urls: list[str], timeout: float, repair: bool) -> list[object]:  # noqa: ASYNC109
    from tickwire.journal import journal_info, journal_provider, resolve_journal_dir
    from tickwire.journal.position import position
    from tickwire.record import bring_up_to_date
    from tickwire.record.recorder import SinkOutcome, count_stored
    from tickwire.sinks import sink_from_url

    journal_dir = resolve_journal_dir(data_dir)
    provider, market = journal_provider(journal_dir)
    sinks = [sink_from_url(u, provider.tables(market)) for u in urls]
    if repair:
        return list(await bring_up_to_date(journal_dir, sinks, timeout=timeout))
    info = journal_info(journal_dir)
    head = position(info.head_seq)
    out: list[object] = []
    for s in sinks:
        wm: int | None = None
        error = None
        try:
            await asyncio.wait_for(s.open(), timeout)
            wm = await asyncio.wait_for(s.watermark(info.journal_id), timeout)
        except Exception as exc:  # a sink that is down is a status, not a crash
            from tickwire.record.runner import describe_error

            error = describe_error(exc)
        finally:
            try:
                await asyncio.wait_for(s.close(), timeout)
            except Exception:
                pass
        lacking = None
        if wm is not None:
            lacking = 0 if wm >= head else count_stored(journal_dir, provider, market, wm, head)
        out.append(
            SinkOutcome(
                name=s.name,
                complete=lacking == 0,
                watermark=wm or 0,
                head=head,
                lacking=lacking,
                lacking_at_least=lacking or 0,
                dead_letters=0,
                last_error=error,
            )
        )
    return out


def _report(data_dir: Path, outcomes: list[object], as_json: bool) -> None:
    from tickwire.journal.position import show_position
    from tickwire.record import SinkOutcome
    from tickwire.redact import escape_terminal

    if as_json:
        typer.echo(msgspec.json.encode(outcomes).decode())
    else:
        for o in outcomes:
            assert isinstance(o, SinkOutcome)
            state = "complete" if o.complete else ("unreachable" if o.lacking is None else "behind")
            lack = "" if o.lacking in (None, 0) else f", lacks {o.lacking:,} events"
            typer.echo(
                f"{escape_terminal(o.name)}: {state} at {show_position(o.watermark)} of "
                f"{show_position(o.head)}{lack}"
                + (f" [{escape_terminal(o.last_error)}]" if o.last_error else "")
            )
        refused = [o for o in outcomes if isinstance(o, SinkOutcome) and o.dead_letters]
        for line in outcome_lines(refused, data_dir):
            typer.echo(line, err=True)
    if not all(isinstance(o, SinkOutcome) and o.complete for o in outcomes):
        raise typer.Exit(INCOMPLETE)


DataDir = Annotated[Path, typer.Option("--data-dir", "-d", help="The recording's data directory")]
SinkUrls = Annotated[
    list[str] | None, typer.Option("--sink", help="Sink URL (default: the data directory's own sinks)")
]
Timeout = Annotated[float, typer.Option(help="Seconds to allow each sink (status: to answer)")]


@sinks_app.command("status")
def status(
    data_dir: DataDir = Path("tickwire-data"),
    sink: SinkUrls = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of lines")] = False,
    timeout: Timeout = 10.0,
) -> None:
    """Each sink's watermark against the journal head and exactly how many events it lacks
    (exit 0: all complete, 3: one is behind or unreachable)."""
    _main(data_dir, sink, timeout, as_json, repair=False)


@sinks_app.command("repair")
def repair(
    data_dir: DataDir = Path("tickwire-data"),
    sink: SinkUrls = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of lines")] = False,
    timeout: Timeout = 600.0,
) -> None:
    """Bring the sinks up to the journal head from their watermarks (exit 0 when all complete)."""
    _main(data_dir, sink, timeout, as_json, repair=True)


def _main(data_dir: Path, sink: list[str] | None, timeout: float, as_json: bool, *, repair: bool) -> None:
    from tickwire.journal import lock_data_dir

    try:
        urls = _sink_urls(data_dir, sink)
        if not urls:
            typer.echo(f"error: no sinks recorded in {data_dir}; pass --sink URL", err=True)
            raise typer.Exit(2)
        if repair:
            with lock_data_dir(data_dir):  # not while a recorder feeds these sinks itself
                outcomes = asyncio.run(_run(data_dir, urls, timeout, True))
        else:
            outcomes = asyncio.run(_run(data_dir, urls, timeout, False))
    except TickwireError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _report(data_dir, outcomes, as_json)
