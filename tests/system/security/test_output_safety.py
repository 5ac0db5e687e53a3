"""Output safety: hostile strings from the network print inertly, and a URL's key is never shown.

The helpers of :mod:`tickwire.redact` on their own, then ``tickwire stream`` run as a user runs it
(a subprocess) against a simulator in this process that injects raw frames (``send_raw``): trades
whose symbols are terminal escapes and rich markup, status messages that retitle the window or
rewrite the line, over a URL whose query carries an API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import pty
import signal
import struct
import sys
import termios

import pytest

from tickwire.events import Connected, Status
from tickwire.redact import (
    SafeLogFilter,
    escape_markup,
    escape_terminal,
    install_log_filter,
    mask_secrets,
    safe_text,
)
from tickwire.sim import MassiveSimulator

KEY = "sekret-key-9f3a"
ENV_KEY = "env-key-77c1"  # the key the CLI authenticates with (from the environment)
# what the server sends (symbols and messages), and how it must look once printed
PAYLOADS = {
    "CLS\x1b[2JX": "CLS\\x1b[2JX",
    "TTL\x1b]0;pwned\x07X": "TTL\\x1b]0;pwned\\x07X",
    "[bold red]MKP[/]": "[bold red]MKP[/]",
    "CR\rOVER": "CR\\rOVER",
    "C1\x9b31mX": "C1\\x9b31mX",
}


# ---------------------------------------------------------------------------- the helpers


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("wss://h/stocks?apiKey=abc123", "wss://h/stocks?apiKey=****"),
        ("wss://h/s?x=1&apikey=abc&y=2", "wss://h/s?x=1&apikey=****&y=2"),
        ("https://h/a?token=t0k&key=k&secret=s", "https://h/a?token=****&key=****&secret=****"),
        ("https://h/a?api_key=k#frag", "https://h/a?api_key=****#frag"),
        ("https://h/a?access_token=t&page=2", "https://h/a?access_token=****&page=2"),
        ("postgres://user:pw@db:5432/x", "postgres://user:****@db:5432/x"),
        ("redis://:tok@h:1", "redis://:****@h:1"),
        ("nats://s3cr3t@h:4222", "nats://****@h:4222"),
        (
            "cannot reach wss://u:p@h/x?apiKey=K (timeout)",
            "cannot reach wss://u:****@h/x?apiKey=**** (timeout)",
        ),
        ("postgres://user@db/x?sslmode=require", "postgres://user@db/x?sslmode=require"),
        ("no url here", "no url here"),
        ("?key=id:secret, then", "?key=**** then"),  # over-masks rather than show a part
    ],
)
def test_mask_secrets(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked
    assert mask_secrets(masked) == masked  # idempotent: masking twice changes nothing


def test_escape_terminal_shows_every_control_character_and_keeps_printable_text() -> None:
    for raw, shown in PAYLOADS.items():
        assert escape_terminal(raw) == shown
    assert escape_terminal("line1\nline2\tx\x00\x7f") == "line1\\nline2\\tx\\x00\\x7f"
    assert escape_terminal("evil\u202etxt.exe") == "evil\\u202etxt.exe"  # a bidi override
    plain = "AAPL BRK.B café 比特币 €"
    assert escape_terminal(plain) is plain  # nothing to do, no copy
    for code in [*range(0x20), *range(0x7F, 0xA0)]:
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in escape_terminal(chr(code)))


def test_escape_markup_and_safe_text() -> None:
    from rich.text import Text

    assert Text.from_markup(escape_markup("[bold red]x[/]")).plain == "[bold red]x[/]"
    assert safe_text(f"?apiKey={KEY}\x1b[2J") == "?apiKey=****\\x1b[2J"


def test_the_log_filter_masks_and_escapes_every_record(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tickwire.test.output_safety")
    handler = caplog.handler
    handler.addFilter(SafeLogFilter())
    try:
        logger.warning("connecting to %s - %s", f"wss://h/x?apiKey={KEY}", "bye\x1b]0;t\x07\r")
        logger.warning("no args \x1b[2J")
    finally:
        handler.filters.clear()
    first, second = (r.getMessage() for r in caplog.records)
    assert first == "connecting to wss://h/x?apiKey=**** - bye\\x1b]0;t\\x07\\r"
    assert second == "no args \\x1b[2J"
    assert KEY not in caplog.text and "\x1b" not in caplog.text


def test_install_log_filter_is_idempotent() -> None:
    logger = logging.getLogger("tickwire.test.install")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        install_log_filter(logger)
        install_log_filter(logger)
        assert len(handler.filters) == 1
    finally:
        logger.removeHandler(handler)


def test_the_cli_views_escape_and_mask_control_events() -> None:
    from rich.console import Console

    from tickwire.cli.view import StreamView, describe, encode_jsonl
    from tickwire.stream.metrics import MetricsSnapshot

    connected = Connected(url=f"wss://h/stocks?apiKey={KEY}", epoch=1, at=0.0)
    assert describe(connected) == "connected to wss://h/stocks?apiKey=**** (connection #1)"
    status = Status(status="info", message="hi\x1b]0;pwned\x07\r")
    assert describe(status) == "status info: hi\\x1b]0;pwned\\x07\\r"
    lines = encode_jsonl([connected, status]).decode().splitlines()
    assert json.loads(lines[0])["url"] == "wss://h/stocks?apiKey=****" and KEY not in lines[0]
    assert "\x1b" not in lines[1] and json.loads(lines[1])["message"] == status.message  # JSON-escaped

    view = StreamView(title=f"t · wss://h/x?apiKey={KEY} [blink]")
    view.add(connected)
    view.add(status)
    console = Console(record=True, width=200, force_terminal=False, color_system=None)
    zero = dict.fromkeys(["frames", "events", "bytes", "decode_errors", "unknown_events", "reconnects"], 0)
    zero |= dict.fromkeys(["disconnects", "queue_depth", "queue_peak", "dropped", "epoch"], 0)
    metrics = MetricsSnapshot(**zero, paused=False, lag_seconds=None, connected=True, uptime=1.0)
    console.print(view.render(metrics))
    text = console.export_text()
    assert KEY not in text and "apiKey=****" in text and "[blink]" in text
    assert "\x1b" not in text and "\x07" not in text


# ---------------------------------------------------------------------------- tickwire stream


def _frames() -> list[str]:
    trades = [
        {"ev": "T", "sym": sym, "x": 4, "i": str(n), "z": 3, "p": 10.5 + n, "s": 100, "t": 1_700_000_000_000}
        for n, sym in enumerate(PAYLOADS)
    ]
    statuses = [{"ev": "status", "status": "info", "message": f"msg {raw}"} for raw in PAYLOADS]
    return [json.dumps(trades), json.dumps(statuses[:3]), json.dumps(statuses[3:])]


def _subscribed(sim: MassiveSimulator) -> bool:
    return any("T.NOTHING" in c.subscriptions for c in sim.connections(authenticated=True))


class _Output:
    """A child's output read as it comes (a pipe, or the master side of a pseudo-terminal)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = bytearray()
        self._changed = asyncio.Event()
        asyncio.get_running_loop().add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the pty's other side closed
            chunk = b""
        if not chunk:
            asyncio.get_running_loop().remove_reader(self.fd)
        self.data += chunk
        self._changed.set()

    async def wait_for(self, marker: bytes, within: float = 30.0) -> None:
        try:
            async with asyncio.timeout(within):
                while marker not in self.data:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"no {marker!r} in the output after {within} s: {bytes(self.data[-2000:])!r}"
            ) from None

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)
        os.close(self.fd)


async def _stream(
    sim: MassiveSimulator, *args: str, inject: list[str], tty: bool, close_reason: str | None = None
) -> tuple[int, str, str]:
    """Run ``tickwire stream`` on ``sim`` (URL with a key in its query; on a 200-column
    pseudo-terminal if ``tty``), inject ``inject`` once it streams (then close with
    ``close_reason`` and wait for the reconnection, if given), and stop it with SIGINT once its
    output shows a last trade sent after them; returns (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k not in ("POLYGON_API_KEY", "COLUMNS", "LINES")}
    env["MASSIVE_API_KEY"] = ENV_KEY
    if tty:
        parent, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        env["TERM"] = "xterm-256color"
    else:
        parent, child = os.pipe()
    url = f"{sim.url_for('stocks')}?apiKey={KEY}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tickwire",
        "stream",
        "--url",
        url,
        "--duration",
        "60",
        *args,
        "T.NOTHING",  # the simulator's own trades stay out: the board holds only the injected ones
        stdout=child,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    os.close(child)
    out = _Output(parent)
    try:
        await sim.wait_until(lambda: _subscribed(sim), timeout=30, what="the CLI subscribed")
        for frame in inject:
            assert sim.send_raw(frame) == 1
        if close_reason is not None:
            sim.close(code=4000, reason=close_reason)
            await sim.wait_handshakes(2, timeout=30)
            await sim.wait_until(lambda: _subscribed(sim), timeout=30, what="the CLI resubscribed")
        # a last trade after the others: once the output shows it, it has shown them (frames in order)
        sim.send_raw(
            json.dumps([{"ev": "T", "sym": "LASTONE", "x": 4, "i": "9", "z": 3, "p": 1, "s": 1, "t": 1}])
        )
        await out.wait_for(b"LASTONE")
        proc.send_signal(signal.SIGINT)
        assert proc.stderr is not None
        err = await asyncio.wait_for(proc.stderr.read(), 30)
        await asyncio.wait_for(proc.wait(), 30)
        with contextlib.suppress(TimeoutError):
            await out.wait_for(b"\x00never", within=0.5 if tty else 5)  # drain what is left
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        out.close()
    return proc.returncode or 0, out.data.decode(errors="replace"), err.decode(errors="replace")


CLOSE_REASON = "bye\x1b[2J\x07"
# the payloads' own sequences (a terminal's output also holds the view's styling escapes, and rich
# moves the cursor with \r: those are not the payloads)
RAW = [*(raw for raw in PAYLOADS if raw != escape_terminal(raw)), "pwned\x07", CLOSE_REASON]


def _assert_inert(text: str) -> None:
    for raw in RAW:
        assert raw not in text, repr(raw)
    assert KEY not in text and ENV_KEY not in text


async def test_stream_live_view_on_a_terminal_prints_hostile_symbols_and_messages_inertly() -> None:
    async with MassiveSimulator(seed=5, tick_interval=0.05, close_timeout=0.3) as sim:
        code, out, err = await _stream(sim, inject=_frames(), tty=True)
    assert code == 0, err
    _assert_inert(out + err)
    for shown in PAYLOADS.values():
        assert shown in out, (shown, out[-3000:])  # each symbol on the board, escaped; markup as written
        assert f"msg {shown}" in out  # and each status message, in the connection panel


async def test_stream_jsonl_masks_the_connected_url_and_json_escapes_strings() -> None:
    async with MassiveSimulator(seed=5, tick_interval=0.05, close_timeout=0.3) as sim:
        code, out, err = await _stream(sim, "--jsonl", inject=_frames(), tty=False, close_reason=CLOSE_REASON)
    assert code == 0, err
    _assert_inert(out + err)
    assert "\x1b" not in out + err and "\x07" not in out + err
    events = [json.loads(line) for line in out.splitlines()]
    urls = [e["url"] for e in events if e["ev"] == "connected"]
    assert len(urls) == 2 and all(u.endswith("?apiKey=****") for u in urls)
    assert {e["symbol"] for e in events if e["ev"] == "T"} == {*PAYLOADS, "LASTONE"}  # the data, exact
    messages = {e["message"] for e in events if e["ev"] == "status"}
    assert {f"msg {raw}" for raw in PAYLOADS} <= messages
    closes = [e for e in events if e["ev"] == "disconnected"]
    assert [e["message"] for e in closes] == [CLOSE_REASON], closes  # the server's words, as data


def test_a_close_reason_and_a_polymarket_line_print_inertly() -> None:
    from tickwire.cli.pm_view import PolymarketView
    from tickwire.cli.view import describe
    from tickwire.events import Disconnected

    bye = Disconnected(reason="server closed (4000)", message=CLOSE_REASON, at=0.0, epoch=1, retry_in=0.5)
    assert describe(bye) == "disconnected: server closed (4000) (bye\\x1b[2J\\x07), retry in 0.50 s"
    status = Status(status="info", message="slug\x1b[2J\u202e")
    board = PolymarketView(title="t")  # the Polymarket board's connection panel
    board.add(object(), status)
    assert board.log[-1].endswith(" status info: slug\\x1b[2J\\u202e")
