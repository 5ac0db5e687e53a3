"""The seed-001-style example script, unchanged but for its import, against ``tickwire sim``."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[str], within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        with socket.socket() as c:
            if c.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail("the simulator did not start listening")


def test_callback_example_prints_trades_from_tickwire_sim() -> None:
    seed_style = (EXAMPLES / "callback_stream.py").read_text()
    assert "import tickwire  # was: import polygon" in seed_style
    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "tickwire", "sim", "--port", str(port), "--rate", "20", "--no-polymarket"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    example = None
    try:
        wait_listening(port, sim)
        env = {**os.environ, "TICKWIRE_STREAM_URL": f"ws://127.0.0.1:{port}"}
        example = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "callback_stream.py")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert example.stdout is not None
        trades: list[dict[str, object]] = []
        sel = selectors.DefaultSelector()
        sel.register(example.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 20
        while len(trades) < 3 and time.monotonic() < deadline:
            if not sel.select(timeout=deadline - time.monotonic()):
                break
            line = example.stdout.readline()
            if not line:
                break
            if line.startswith("["):
                trades += [e for e in json.loads(line) if e["ev"] == "T"]
        assert len(trades) >= 3, example.stderr.read() if example.poll() is not None else "no trades printed"
        assert {t["sym"] for t in trades} <= {"AMD", "NVDA"}
    finally:
        if example is not None:
            example.send_signal(signal.SIGINT)
            try:
                example.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                example.kill()
                example.communicate()
        sim.send_signal(signal.SIGINT)
        sim.communicate(timeout=10)
