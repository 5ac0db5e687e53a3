"""``tickwire journal verify|cat|stats``: check, print and summarise a raw journal."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from tickwire.journal import FRAME, JournalError, read_records, verify

__all__ = ["journal_app"]

journal_app = typer.Typer(help="Check, print and summarise a raw journal.", no_args_is_help=True)

_Path = Annotated[Path, typer.Argument(help="Journal directory (e.g. tickwire-data/journal) or segment file")]


@journal_app.command("verify")
def verify_cmd(journal: _Path) -> None:
    """Check every record's length and CRC; exit 1 if any segment is damaged."""
    try:
        report = verify(journal)
    except JournalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for s in report.segments:
        state = "ok" if s.error is None else f"DAMAGED: {s.error}"
        typer.echo(f"{s.path.name}: {s.records:,} records, {s.bytes:,} payload bytes, {state}")
    typer.echo(
        f"{len(report.segments)} segments, {report.records:,} records ({report.frames:,} frames): "
        + ("ok" if report.ok else "DAMAGED")
    )
    if not report.ok:
        raise typer.Exit(1)


@journal_app.command("cat")
def cat_cmd(
    journal: _Path,
    meta: Annotated[bool, typer.Option("--meta", help="Also print session metadata records")] = False,
    limit: Annotated[int | None, typer.Option(help="Stop after this many records")] = None,
) -> None:
    """Print records as ``recv_ns epoch frame`` lines (the frame exactly as received)."""
    out = sys.stdout.buffer
    try:
        for i, rec in enumerate(read_records(journal, frames_only=not meta)):
            if limit is not None and i >= limit:
                break
            kind = b"" if rec.kind == FRAME else b"meta "
            out.write(b"%d %d %s%s\n" % (rec.recv_ns, rec.epoch, kind, rec.data))
    except JournalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except BrokenPipeError:
        pass


@journal_app.command("stats")
def stats_cmd(journal: _Path) -> None:
    """Records, frames, events by type, epochs, time span and size."""
    evs: Counter[bytes] = Counter()
    epochs: set[int] = set()
    first = last = None
    frames = nbytes = 0
    try:
        for rec in read_records(journal, frames_only=True):
            frames += 1
            nbytes += len(rec.data)
            epochs.add(rec.epoch)
            first = rec.recv_ns if first is None else first
            last = rec.recv_ns
            data = rec.data
            pos = data.find(b'"ev":"')
            while pos >= 0:
                end = data.find(b'"', pos + 6)
                evs[data[pos + 6 : end]] += 1
                pos = data.find(b'"ev":"', end)
    except JournalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    span = (last - first) / 1e9 if first is not None and last is not None else 0.0
    typer.echo(
        f"frames: {frames:,}  payload: {nbytes:,} bytes  "
        f"connections (epochs): {len(epochs)}  span: {span:.1f} s"
    )
    for ev, n in evs.most_common():
        typer.echo(f"  {ev.decode(errors='replace'):>8}: {n:,}")
