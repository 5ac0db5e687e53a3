"""``tickwire journal verify|cat|stats``: check, print and summarise a raw journal.

Each takes the data directory (holding ``journal/``), the journal directory or one segment file.
Exit codes: 0 clean, 1 damage found (with counts of what is unreadable), 2 no journal there.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from tickwire.errors import TickwireError
from tickwire.journal import (
    FRAME,
    GAP,
    JournalError,
    SegmentReport,
    read_records,
    resolve_journal_dir,
    verify,
)

__all__ = ["journal_app"]

journal_app = typer.Typer(help="Check, print and summarise a raw journal.", no_args_is_help=True)


@journal_app.callback()
def _needs_storage() -> None:
    from tickwire.cli.extras import require

    require("tickwire journal", "storage")


_Path = Annotated[
    Path, typer.Argument(help="Data directory (e.g. tickwire-data), journal directory or segment file")
]
_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _damage(reports: list[SegmentReport]) -> str | None:
    """One line of what is unreadable, None if nothing is."""
    bad = [r for r in reports if r.error is not None]
    if not bad:
        return None
    lost = sum(r.lost_records for r in bad)
    skipped = sum(r.skipped_bytes for r in bad)
    return (
        f"DAMAGED: {len(bad)} segments, {lost:,} unreadable records, {skipped:,} unreadable bytes "
        f"(first: {bad[0].path.name}: {bad[0].error})"
    )


@journal_app.command("verify")
def verify_cmd(journal: _Path) -> None:
    """Check every record's length, CRC and sequence; exit 1 if anything is damaged."""
    try:
        report = verify(resolve_journal_dir(journal))
    except JournalError as exc:
        raise _fail(exc) from None
    if not report.segments:  # never "ok" for nothing: a directory with no journal in it
        typer.echo(
            f"error: no journal segments in {journal}; pass a recording's data directory (tickwire-data), "
            "its journal directory (tickwire-data/journal) or a segment file",
            err=True,
        )
        raise typer.Exit(2)
    for s in report.segments:
        state = "ok"
        if s.error is not None:
            state = (
                f"DAMAGED: {s.error} ({s.lost_records:,} unreadable records, "
                f"{s.skipped_bytes:,} unreadable bytes)"
            )
        typer.echo(f"{s.path.name}: {s.records:,} records, {s.bytes:,} payload bytes, {state}")
    damage = _damage(report.segments)
    typer.echo(
        f"{len(report.segments)} segments, {report.records:,} records ({report.frames:,} frames), "
        f"head {report.head_seq:,}: " + (damage or "ok")
    )
    if damage:
        raise typer.Exit(1)


@journal_app.command("cat")
def cat_cmd(
    journal: _Path,
    meta: Annotated[bool, typer.Option("--meta", help="Also print metadata and gap records")] = False,
    limit: Annotated[int | None, typer.Option(help="Stop after this many records")] = None,
    from_seq: Annotated[int, typer.Option("--from-seq", help="Start at this record number")] = 0,
) -> None:
    """Print records as ``recv_ns epoch frame`` lines (the frame exactly as received; control
    characters escaped on a terminal). Exit 1 if damage was skipped."""
    out = sys.stdout.buffer
    tty = sys.stdout.isatty()
    reports: list[SegmentReport] = []
    try:
        root = resolve_journal_dir(journal)
        records = read_records(root, from_seq=from_seq, frames_only=not meta, reports=reports)
        for i, rec in enumerate(records):
            if limit is not None and i >= limit:
                break
            kind = b"" if rec.kind == FRAME else (b"gap " if rec.kind == GAP else b"meta ")
            data = _CONTROL.sub(lambda m: b"\\x%02x" % m.group()[0], rec.data) if tty else rec.data
            out.write(b"%d %d %s%s\n" % (rec.recv_ns, rec.epoch, kind, data))
        out.flush()
    except JournalError as exc:
        raise _fail(exc) from None
    except BrokenPipeError:
        return
    damage = _damage(reports)
    if damage:
        typer.echo(damage, err=True)
        raise typer.Exit(1)


@journal_app.command("stats")
def stats_cmd(
    journal: _Path,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object instead of lines")] = False,
) -> None:
    """Records, frames, events by type (decoded by the journal's provider), gaps, epochs, time span
    and size; exit 1 if damage was skipped."""
    from tickwire.journal import journal_provider

    try:
        root = resolve_journal_dir(journal)
        provider, market = journal_provider(root)
        stats = _stats(root, provider.decoder(market).decode)
    except TickwireError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(msgspec.json.encode({"provider": provider.name, "market": market, **stats}).decode())
    else:
        typer.echo(
            f"records: {stats['records']:,}  frames: {stats['frames']:,}  events: {stats['events']:,}  "
            f"payload: {stats['payload_bytes']:,} bytes  connections (epochs): {stats['epochs']}  "
            f"span: {stats['span_seconds']:.1f} s"
        )
        if stats["gaps"]:
            typer.echo(f"gaps: {stats['gaps']} ({stats['gap_lost_records']:,} frames not kept)")
        for ev, n in stats["events_by_type"].items():
            typer.echo(f"  {ev:>8}: {n:,}")
    if stats["damage"]:
        typer.echo(stats["damage"], err=True)
        raise typer.Exit(1)


def _stats(root: Path, decode: Any) -> dict[str, Any]:
    evs: Counter[str] = Counter()
    epochs: set[int] = set()
    first = last = None
    records = frames = nbytes = gaps = gap_lost = 0
    reports: list[SegmentReport] = []
    for rec in read_records(root, reports=reports):
        records += 1
        if rec.kind == GAP:
            gaps += 1
            try:
                gap_lost += int(msgspec.json.decode(rec.data).get("lost_records", 0))
            except (msgspec.DecodeError, AttributeError, TypeError, ValueError):
                pass
            continue
        if rec.kind != FRAME:
            continue
        frames += 1
        nbytes += len(rec.data)
        epochs.add(rec.epoch)
        first = rec.recv_ns if first is None else first
        last = rec.recv_ns
        for ev in decode(rec.data):
            evs[_tag(type(ev))] += 1
    span = (last - first) / 1e9 if first is not None and last is not None else 0.0
    return {
        "records": records,
        "frames": frames,
        "events": sum(evs.values()),
        "events_by_type": dict(evs.most_common()),
        "payload_bytes": nbytes,
        "epochs": len(epochs),
        "span_seconds": span,
        "gaps": gaps,
        "gap_lost_records": gap_lost,
        "segments": len(reports),
        "unreadable_records": sum(r.lost_records for r in reports),
        "unreadable_bytes": sum(r.skipped_bytes for r in reports),
        "damage": _damage(reports),
    }


def _tag(cls: type) -> str:
    config = getattr(cls, "__struct_config__", None)
    tag = getattr(config, "tag", None)
    return tag if isinstance(tag, str) else cls.__name__
