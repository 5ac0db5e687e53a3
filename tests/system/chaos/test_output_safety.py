"""Strings from the network never reach a terminal raw, and a key in the URL is never shown.

One recording gets trades whose symbols carry terminal escapes (colour, an OSC title-setting
sequence, BEL) and rich markup, plus a frame of raw control bytes; it authenticates with a key in
the feed URL's query (``?apiKey=``) and in the environment, and writes to PostgreSQL with a password
in the sink URL. Then every view (``record``'s output, ``query``, ``journal cat`` on a real
terminal, ``journal stats``, ``sinks status``) is checked: no ESC or BEL from the payload, markup
shown literally, and no secret anywhere: output, logs, journal metadata, any file of the data dir.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.system.chaos.conftest import ResultRow, stocks_url
from tests.system.chaos.recorder import API_KEY, ROOT, RecordRun, env, tickwire
from tests.system.chaos.stores import Stores
from tickwire.journal import journal_meta
from tickwire.sim.thread import SimulatorThread

pytestmark = pytest.mark.services

URL_KEY = "URLKEY-9d2e-never-shown"
PG_PASSWORD = "PGPASS-77aa-never-shown"
SECRETS = (URL_KEY, API_KEY, PG_PASSWORD)
ESCAPES = "EVIL\x1b[31mRED\x1b]0;PWNED\x07"
MARKUP = "MARK[bold red]UP[/bold red]"
RAW = b"\x1b]0;RAWTITLE\x07\x1b[2J"
PAYLOAD_CONTROLS = ("\x1b[31m", "\x1b]0;", "\x07", "\x1b[2J")


def _trade(symbol: str) -> dict[str, object]:
    return {
        "ev": "T",
        "sym": symbol,
        "x": 4,
        "i": "9",
        "z": 3,
        "p": 1.25,
        "s": 10,
        "c": [],
        "t": int(time.time() * 1000),
        "q": 1,
    }


def on_terminal(*args: str | Path, timeout: float = 30) -> str:
    """``tickwire ARGS`` with stdout and stderr on a pseudo-terminal (the tty code paths); the output."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickwire", *map(str, args)],
        stdout=follower,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        env=env(TERM="xterm"),
        cwd=ROOT,
    )
    os.close(follower)
    out = bytearray()
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(10)
    os.close(leader)
    return out.decode("utf-8", "replace")


def test_hostile_strings_and_secrets(sim: SimulatorThread, stores: Stores, row: ResultRow) -> None:
    row.experiment = "terminal escapes, markup and URL keys"
    row.sinks = ["duckdb", "postgres"]
    data = stores.data
    pg = stores.pg_sink.replace("postgresql://postgres@", f"postgresql://postgres:{PG_PASSWORD}@")
    assert PG_PASSWORD in pg
    run = RecordRun(data, f"{stocks_url(sim)}?apiKey={URL_KEY}", ["--sink", pg], duration=3, flush_timeout=5)
    run.wait_status(lambda s: s["connected"] and s["events"] > 0, 20, "a connected recorder")
    assert sim.send_raw(json.dumps([_trade(ESCAPES), _trade(MARKUP), _trade("NUL\u0000" + ESCAPES)])) == 1
    assert sim.send_raw(RAW) == 1
    done = run.wait(30)

    query = tickwire(
        "query",
        "-d",
        data,
        "SELECT symbol FROM stocks_trades WHERE symbol LIKE 'EVIL%' OR symbol LIKE 'MARK%'",
    )
    query_csv = tickwire(
        "query", "-d", data, "--csv", "SELECT symbol FROM stocks_trades WHERE symbol LIKE 'EVIL%'"
    )
    stats = tickwire("journal", "stats", data)
    status = tickwire("sinks", "status", "-d", data)
    cat_tty = on_terminal("journal", "cat", data)
    views = {
        "record": done.output,
        "query": query.output,
        "query --csv": query_csv.output,
        "journal stats": stats.output,
        "sinks status": status.output,
        "journal cat (tty)": cat_tty,
    }
    if os.environ.get("CHAOS_DEBUG"):
        print({k: v[-600:] for k, v in views.items()})
    row.notes.append(f"record exit {done.code}; views checked: {', '.join(views)}")

    assert done.code in (0, 3), str(done)  # the NUL symbol is PostgreSQL's dead letter, not a failure
    assert query.code == 0 and "EVIL" in query.stdout, str(query)
    assert "[bold red]" in query.stdout, f"markup was interpreted, not shown:\n{query.stdout}"
    assert "RAWTITLE" in cat_tty, cat_tty[-500:]
    for name, text in {k: v for k, v in views.items() if k != "journal cat (tty)"}.items():
        assert "\x1b" not in text and "\x07" not in text, (
            f"{name} printed a raw control character: {text[-800:]!r}"
        )
    for seq in PAYLOAD_CONTROLS:
        assert seq not in cat_tty, f"journal cat put {seq!r} on the terminal"

    meta = json.dumps(journal_meta(data / "journal"))
    leaks = [
        f"{name}: {s}" for s in SECRETS for name, text in {**views, "journal meta": meta}.items() if s in text
    ]
    for path in data.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            leaks += [f"{path.relative_to(data)}: {s}" for s in SECRETS if s.encode() in blob]
    assert not leaks, f"secrets shown: {leaks}"
