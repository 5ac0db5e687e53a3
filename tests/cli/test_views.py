"""What the terminal views show: the record status line in a real pseudo-terminal, the live boards,
reconnects counted per outage, handler failures rate-limited, the dashboard's lag and badge."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import pty
import re
import select
import socket
import struct
import subprocess
import sys
import termios
import time
from decimal import Decimal
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from tests.cli.test_errors import _KEYS
from tickwire.cli.view import StreamView, fit
from tickwire.stream.metrics import MetricsSnapshot

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _metrics(**over: object) -> MetricsSnapshot:
    zero = dict.fromkeys(["frames", "events", "bytes", "decode_errors", "unknown_events", "reconnects"], 0)
    zero |= dict.fromkeys(["disconnects", "queue_depth", "queue_peak", "dropped", "epoch"], 0)
    fields: dict[str, object] = zero | {
        "paused": False,
        "lag_seconds": None,
        "connected": True,
        "uptime": 1.0,
    }
    return MetricsSnapshot(**(fields | over))  # type: ignore[arg-type]


def _text(renderable: object, width: int = 160) -> str:
    console = Console(record=True, width=width, force_terminal=True, color_system="truecolor")
    console.print(renderable)
    return console.export_text(styles=False)


def _run_in_pty(args: list[str], cols: int, cwd: Path, timeout: float = 60) -> tuple[int, str]:
    """``tickwire ARGS`` with a pseudo-terminal of ``cols`` columns as stdin/stdout/stderr: exit code, output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in (*_KEYS, "COLUMNS", "LINES")}
    env["TERM"] = "xterm"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickwire", *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env
    )
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    code = proc.wait(10)
    os.close(master)
    return code, out.decode(errors="replace")


def test_fit_counts_terminal_cells() -> None:
    assert fit("abc", 80) == "abc"
    cut = fit("● " + "x" * 200, 40)
    assert cell_len(cut) == 40 and cut.endswith("…")
    wide = fit("漢字" * 50, 31)
    assert cell_len(wide) <= 31


def test_record_status_line_fits_and_log_lines_go_above_it(tmp_path: Path) -> None:
    """A 60-column terminal: every rewrite of the line fits (no wrap, no scroll); a sink's warnings
    are printed on their own lines; the banner says what is recorded and where; the summary stands
    on a line of its own."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # bound, not listening: refused
    sink = f"redis://127.0.0.1:{dead}/0"
    code, out = _run_in_pty(
        [
            "record",
            "--sim",
            "--duration",
            "3",
            "--flush-timeout",
            "0.5",
            "-d",
            "data",
            "--sink",
            sink,
            "T.AAPL",
        ],
        cols=60,
        cwd=tmp_path,
    )
    assert code == 3, out  # the sink lacks the run's events
    assert "Traceback" not in out
    plain = out.replace("\r\n", "\n")
    banner = next(line for line in plain.split("\n") if line.startswith("recording "))
    assert "Massive stocks" in banner and "simulator" in banner and "T.AAPL" in banner
    assert "data/journal" in banner and "duckdb:data/tickwire.duckdb" in banner and "redis:" in banner
    status_writes = [seg for seg in re.split(r"\r\x1b\[2K", plain) if "ev/s" in seg]
    assert len(status_writes) >= 2, plain
    for seg in status_writes:
        line = _ANSI.sub("", seg.split("\n")[0])
        assert cell_len(line) <= 59, line  # never wider than the terminal: a rewrite never wraps
    # log lines (the sink's warnings) start on a cleared line, never after a status text
    for match in re.finditer(r"WARNING|retrying", plain):
        line_start = max(plain.rfind("\n", 0, match.start()), plain.rfind("\x1b[2K", 0, match.start()))
        assert "ev/s" not in plain[line_start : match.start()], plain[line_start : match.end()]
    summary = plain.index("tickwire: recorded")
    assert plain[:summary].endswith(("\n", "\x1b[2K")), repr(plain[summary - 40 : summary])


def test_live_board_change_colour_and_bars() -> None:
    from tickwire import EquityAgg, EquityTrade

    view = StreamView(title="t")
    view.add(EquityTrade(symbol="AAPL", price=100.0, size=100, timestamp=1))
    view.add(EquityTrade(symbol="AAPL", price=101.5, size=200, timestamp=2))
    view.add(
        EquityAgg(
            symbol="AAPL",
            open=1234.5,
            high=1250.25,
            low=1200.0,
            close=1240.125,
            volume=1_234_567,
            start_timestamp=0,
            end_timestamp=60_000,
        )
    )
    row = view.rows["AAPL"]
    assert row.last == 101.5  # a bar's close is not the last trade
    assert row.tick == 1 and row.change().plain == "+1.50%" and row.change().style == "green"
    text = _text(view.render(_metrics(events=3)))
    assert "last trade" in text and "last bar (o h l c v)" in text
    assert "o 1,234.5 h 1,250.25 l 1,200 c 1,240.125 v 1.2M" in text
    view.add(EquityTrade(symbol="AAPL", price=99.0, size=1, timestamp=3))
    assert row.tick == -1 and row.change().style == "red" and row.change().plain == "-1.00%"


def test_polymarket_board_is_a_table() -> None:
    from tickwire.cli.pm_view import PolymarketView
    from tickwire.polymarket_us.events import MarketDataLite, Trade

    class _NoBooks:
        def book(self, slug: str) -> None:
            return None

    view = PolymarketView(title="pm")
    for bid, ask in (("0.40", "0.42"), ("0.45", "0.47")):
        view.add(
            _NoBooks(),
            MarketDataLite(
                request_id="r", market_slug="fed-cut-june", best_bid=Decimal(bid), best_ask=Decimal(ask)
            ),
        )
    trade = Trade(
        request_id="r",
        market_slug="fed-cut-june",
        price=Decimal("0.46"),
        quantity=Decimal("12.5"),
        taker_side="ORDER_SIDE_BUY",
    )
    view.add(_NoBooks(), trade)
    text = _text(view.render(_metrics(events=3)))
    header = next(line for line in text.splitlines() if "market" in line and "mid" in line)
    assert all(col in header for col in ("bid", "ask", "spread", "last trade", "trades"))
    row = next(line for line in text.splitlines() if line.startswith("fed-cut-june"))
    assert "0.45" in row and "0.47" in row and "0.46" in row and "0.02" in row  # bid, ask, mid, spread
    assert "12.5 @ 0.46 buy" in row
    assert view.rows["fed-cut-june"].tick == 1
    assert "MarketDataLite(" not in text  # no reprs


async def test_polymarket_stream_shows_the_board(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _KEYS} | {"COLUMNS": "150"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tickwire",
        "stream",
        "--provider",
        "polymarket",
        "--sim",
        "--duration",
        "2",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    out, err = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert "depth bid / ask" in text and "last trade" in text
    rows = [line for line in text.splitlines() if re.match(r"^[a-z0-9-]+-\S* +│", line)]
    assert len(rows) >= 2 and len(rows) == len({r.split()[0] for r in rows}), text  # one row per market


async def test_reconnects_count_outages_not_attempts() -> None:
    """One outage with several refused attempts is one reconnect."""
    from tickwire import AsyncStreamClient, Backoff, Disconnected, Reconnected
    from tickwire.sim import MassiveSimulator

    async with MassiveSimulator() as sim:
        client = AsyncStreamClient(
            api_key="k", url=sim.url, backoff=Backoff(base=0.01, cap=0.02, minimum=0.005), dotenv_path=None
        )
        async with client:
            await client.subscribe("T.*")
            failed = 0
            dropped = False
            async for ev in client:
                if not dropped and type(ev).__name__ == "EquityTrade":
                    sim.refuse_handshakes(503, count=4)
                    sim.drop()
                    dropped = True
                elif isinstance(ev, Disconnected):
                    failed += 1
                elif isinstance(ev, Reconnected):
                    break
            assert failed >= 5  # the drop, then four refused upgrades
            assert ev.attempts >= 5 and client.metrics().reconnects == 1


def test_a_raising_handler_logs_one_traceback_then_counts(caplog: pytest.LogCaptureFixture) -> None:
    from tickwire.stream.handler_log import HandlerFailures

    now = [0.0]
    failures = HandlerFailures(logging.getLogger("tickwire.test"), interval=10.0, clock=lambda: now[0])

    def handler(ev: object) -> None:
        raise ValueError("boom")

    with caplog.at_level(logging.ERROR, logger="tickwire.test"):
        for i in range(1000):
            now[0] = i * 0.025  # 1,000 failures over 25 s
            try:
                handler(None)
            except ValueError as exc:
                failures.failed(handler, "T", exc)
    tracebacks = [r for r in caplog.records if r.exc_info]
    counts = [r for r in caplog.records if not r.exc_info]
    assert len(tracebacks) == 1
    assert len(counts) == 2 and all("more times" in r.getMessage() for r in counts)  # at 10 s and 20 s
    assert sum(int(re.search(r"failed (\d+) more", r.getMessage())[1]) for r in counts) == 800  # type: ignore[index]


async def test_handlers_of_a_client_are_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    from tickwire import AsyncStreamClient
    from tickwire.sim import MassiveSimulator

    seen = 0
    async with (
        MassiveSimulator(rate=50.0) as sim,
        AsyncStreamClient(api_key="k", url=sim.url, dotenv_path=None) as client,
    ):

        def bad(ev: object) -> None:
            nonlocal seen
            seen += 1
            if seen >= 200:
                asyncio.get_running_loop().call_soon(asyncio.ensure_future, client.close())
            raise RuntimeError("user bug")

        client.on("T", bad)
        await client.subscribe("T.*")
        with caplog.at_level(logging.ERROR, logger="tickwire.stream"):
            await asyncio.wait_for(client.run(), 60)
    assert seen >= 200
    assert len([r for r in caplog.records if r.exc_info]) == 1


def test_status_line_steps_aside_for_log_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal, a log line printed while the status line shows clears it first and the line
    is drawn again below; at the end the line is cleared for the summary."""
    import io
    from types import SimpleNamespace

    from tickwire.cli.record_cmd import _StatusLine

    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback=(80, 24): os.terminal_size((50, 20)))
    handler = logging.StreamHandler(buf)
    root = logging.getLogger()
    root.addHandler(handler)
    status = SimpleNamespace(
        connected=True,
        elapsed=3.0,
        events_per_second=1234.0,
        events=99_999,
        journal_synced=10,
        journal_records=12,
        disk_full=False,
        disk_bytes=4096,
        reconnects=0,
        gaps=0,
        sinks=[],
    )
    try:
        with _StatusLine(tty=True) as line:
            line.show(status)  # type: ignore[arg-type]
            logging.getLogger("tickwire.test").warning("a sink is down")
            line.show(status)  # type: ignore[arg-type]
    finally:
        root.removeHandler(handler)
    out = buf.getvalue()
    drawn = line_text = fit(
        "●      3s     1,234 ev/s      99,999 ev  journal 10/12 synced  4 KB  reconnects 0 gaps 0  ", 49
    )
    assert cell_len(line_text) <= 49
    assert out.count(drawn) == 3  # shown, redrawn after the log line, shown again
    assert out.count("a sink is down") == 1
    assert f"{drawn}\r\x1b[2Ka sink is down\n{drawn}" in out  # the log line on a line of its own
    assert out.endswith("\r\x1b[2K")  # cleared for the summary


def test_bars_progress_pulses_and_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    """A long download from the simulator: the bar moves while the first page is computed (a pulse,
    not a bar stuck at 0) and Ctrl-C ends the command at once, not after the page."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in (*_KEYS, "COLUMNS", "LINES")} | {"TERM": "xterm"}
    args = ["bars", "AAPL", "--from", "2022-01-01", "--to", "2024-06-30", "--timespan", "minute", "--sim"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickwire", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=env,
    )
    os.close(slave)
    out = bytearray()
    frames: set[bytes] = set()
    try:
        deadline = time.monotonic() + 60
        while len(frames) < 3 and time.monotonic() < deadline:  # three different drawings of the bar
            if select.select([master], [], [], 1.0)[0]:
                chunk = os.read(master, 65536)
                out += chunk
                # the drawings without their elapsed time: only the bar itself can make them differ
                frames |= {re.sub(rb"\d+:\d\d:\d\d", b"", f) for f in chunk.split(b"\r") if b"page 0" in f}
        assert len(frames) >= 3 and proc.poll() is None, out.decode(errors="replace")[-2000:]
        interrupted = time.monotonic()
        proc.send_signal(2)  # SIGINT, as Ctrl-C
        code = proc.wait(30)
        took = time.monotonic() - interrupted
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(OSError):
            while select.select([master], [], [], 0.2)[0] and (chunk := os.read(master, 65536)):
                out += chunk
        os.close(master)
    text = out.decode(errors="replace")
    assert code == 130 and "interrupted" in text and "Traceback" not in text, text[-2000:]
    assert took < 5.0, took  # at once (it waited for the page before: 16 s and more)
