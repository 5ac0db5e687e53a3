"""``tickwire journal verify|cat|stats``: the data directory accepted, exit 1 with counts on damage,
``stats --json`` with events counted by the journal's provider, one line for a missing path."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.journal.helpers import frames, write_journal
from tickwire.cli.app import app
from tickwire.journal import read_records
from tickwire.journal.format import HEADER

RUN = CliRunner()


def _damaged(data_dir: Path) -> int:
    """A journal with one bit flipped in record 40; the bytes of that record."""
    journal = data_dir / "journal"
    write_journal(journal, frames(100))
    (seg,) = journal.glob("*.twj")
    victim = list(read_records(journal))[40]
    raw = bytearray(seg.read_bytes())
    raw[victim.offset + HEADER.size + 1] ^= 0x01
    seg.write_bytes(bytes(raw))
    return HEADER.size + len(victim.data)


def test_clean_journal_from_the_data_dir(tmp_path: Path) -> None:
    write_journal(tmp_path / "journal", frames(100))
    res = RUN.invoke(app, ["journal", "verify", str(tmp_path)])
    assert res.exit_code == 0 and "101 records (100 frames)" in res.stdout and "ok" in res.stdout
    res = RUN.invoke(app, ["journal", "stats", "--json", str(tmp_path)])
    assert res.exit_code == 0, res.stderr
    stats = json.loads(res.stdout)
    assert (stats["records"], stats["frames"], stats["events"]) == (101, 100, 100)
    assert stats["events_by_type"] == {"T": 100} and stats["provider"] == "massive"
    res = RUN.invoke(app, ["journal", "cat", str(tmp_path), "--limit", "2"])
    assert res.exit_code == 0 and res.stdout.splitlines()[1].endswith(frames(2)[1].decode())


def test_damage_exits_1_with_counts(tmp_path: Path) -> None:
    size = _damaged(tmp_path)
    for cmd in (["verify"], ["cat"], ["stats"], ["stats", "--json"]):
        res = RUN.invoke(app, ["journal", *cmd, str(tmp_path)])
        assert res.exit_code == 1, cmd
        text = res.stdout if cmd == ["verify"] else res.stderr
        assert "1 unreadable records" in text and f"{size} unreadable bytes" in text, cmd
    res = RUN.invoke(app, ["journal", "stats", "--json", str(tmp_path)])
    assert json.loads(res.stdout)["frames"] == 99


def test_missing_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for cmd in ("verify", "cat", "stats"):
        res = RUN.invoke(app, ["journal", cmd, str(tmp_path / "nope")])
        assert res.exit_code == 2, cmd
        assert res.stderr.strip() == f"error: no journal at {tmp_path / 'nope'}"
        assert res.exception is None or isinstance(res.exception, SystemExit)
