#!/usr/bin/env python3
"""Regenerate the screenshots in docs/ from the commands themselves, run against the simulator.

* ``docs/stream.svg``: ``tickwire stream --sim`` (the live board as it is left on screen when the
  command ends), rendered from the command's own output with rich (``Console(record=True)`` →
  ``save_svg``);
* ``docs/record.svg``: ``tickwire record`` (the simulator) in a pseudo-terminal: the screen while
  it records (the status line rewritten in place) and the summary that replaces it at the end;
* ``docs/dashboard.png``: ``tickwire dashboard T.AAPL T.MSFT --sim --speed 60`` in headless
  Chromium (Debian's, from ``scripts/setup-system.sh``), once candles and the tape have data.

Usage: ``python3 scripts/screenshots.py [--only stream,record,dashboard] [--out docs]``. Each shot
runs the real command in a subprocess (``python3 -m tickwire``), so the pictures show what a user
sees; nothing is drawn by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pty
import re
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.text import Text

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 110
CHROMIUM = os.environ.get("TICKWIRE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
_CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASSIVE_", "POLYGON_", "APCA_"))}
    env.pop("NO_COLOR", None)
    env.update(COLUMNS=str(WIDTH), LINES="40", **extra)
    return env


def _tickwire(*args: str) -> list[str]:
    return [sys.executable, "-m", "tickwire", *args]


def _svg(text: Text, path: Path, title: str) -> None:
    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=WIDTH, force_terminal=True, color_system="truecolor", file=sink)
        console.print(text, overflow="fold")  # long lines wrap, as on a terminal
    console.save_svg(str(path), title=title)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def final_screen(raw: str) -> str:
    """What a terminal shows at the end of ``raw``: each line's text after its last carriage return
    (a status line rewritten in place), erase-line and cursor codes dropped, colours kept."""
    lines = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        line = line.rsplit("\r", 1)[-1]
        lines.append(
            "".join(
                m for m in re.split(f"({_CSI.pattern})", line) if not _CSI.fullmatch(m) or _SGR.fullmatch(m)
            )
        )
    while lines and not _SGR.sub("", lines[-1]).strip():
        lines.pop()
    return "\n".join(lines)


def shoot_stream(out: Path) -> None:
    """The live board: rich prints the final frame when its console is not interactive."""
    cmd = _tickwire("stream", "--sim", "--duration", "6", "T.*", "Q.*", "AM.*")
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=_env(FORCE_COLOR="1", TTY_INTERACTIVE="0"), timeout=120
    )
    if proc.returncode != 0:
        raise SystemExit(f"tickwire stream failed ({proc.returncode}): {proc.stderr[-2000:]}")
    board = final_screen(proc.stdout)
    summary = final_screen(proc.stderr).splitlines()[-1:]
    text = Text("$ tickwire stream --sim 'T.*' 'Q.*' 'AM.*'\n", style="bold")
    text.append_text(Text.from_ansi(board + "\n" + "\n".join(summary)))
    _svg(text, out / "stream.svg", "tickwire stream --sim")


def _run_in_pty(cmd: list[str], cwd: Path, timeout: float) -> str:
    """Run ``cmd`` with a pseudo-terminal as its stdout and stderr; everything it wrote."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    env = _env(FORCE_COLOR="1")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[2:])} failed ({proc.returncode}): {b''.join(chunks)[-2000:]!r}")
    return b"".join(chunks).decode("utf-8", "replace")


def shoot_record(out: Path) -> None:
    """The record status line on a terminal while it records, then what replaces it at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = _run_in_pty(_tickwire("record", "--duration", "8", "-d", "tickwire-data"), Path(tmp), 120)
    # the screen three quarters into the run (the last redraws are those of stopping)
    redraws = [m.start() for m in re.finditer("\r(?!\n)", raw)]
    during = final_screen(raw[: redraws[len(redraws) * 3 // 4]]) if len(redraws) >= 2 else ""
    end = final_screen(raw)
    text = Text("$ tickwire record --duration 8\n", style="bold")
    if during and during != end:
        text.append_text(Text.from_ansi(during))
        text.append("\n\n(when it ends, the status line gives way to the summary)\n", style="dim italic")
    text.append_text(Text.from_ansi(end))
    _svg(text, out / "record.svg", "tickwire record")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _dashboard(port: int) -> Iterator[subprocess.Popen[bytes]]:
    cmd = _tickwire("dashboard", "T.AAPL", "T.MSFT", "--sim", "--speed", "60", "--port", str(port))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as c:
                if c.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None:
                raise SystemExit(
                    f"tickwire dashboard exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
                )
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


async def _screenshot(url: str, path: Path) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=90_000)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 640})
            await page.goto(url, timeout=60_000)
            await page.wait_for_selector("#page-status[data-status='live']", timeout=60_000)
            await page.wait_for_function(
                "() => { const c = window.tickwire && window.tickwire.series.AAPL; "
                "return c && c.data().length >= 20; }",
                timeout=90_000,
            )
            await page.wait_for_function(
                "() => Number(document.querySelector('#tape').dataset.lastSeq) > 50", timeout=60_000
            )
            await page.screenshot(path=str(path), full_page=False)
        finally:
            await browser.close()


def shoot_dashboard(out: Path) -> None:
    """The dashboard page once it has candles and a moving tape."""
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: run scripts/setup-system.sh (or set TICKWIRE_CHROMIUM)")
    port = _free_port()
    path = out / "dashboard.png"
    with _dashboard(port):
        asyncio.run(_screenshot(f"http://127.0.0.1:{port}/", path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


SHOTS = {"stream": shoot_stream, "record": shoot_record, "dashboard": shoot_dashboard}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", default=",".join(SHOTS), help="comma-separated: " + ", ".join(SHOTS))
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs", help="where the pictures go (default docs/)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        if name not in SHOTS:
            raise SystemExit(f"unknown shot {name!r}: use {', '.join(SHOTS)}")
        SHOTS[name](args.out)


if __name__ == "__main__":
    main()
