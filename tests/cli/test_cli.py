"""The ``tickwire`` command line, run as a user would: in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest


def run(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tickwire", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
    )


def test_stream_sim_jsonl_prints_events_and_a_summary(tmp_path: Path) -> None:
    proc = run("stream", "--sim", "--jsonl", "--duration", "2.5", "T.*", "Q.AAPL", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = {line["ev"] for line in lines}
    assert {"status", "connected", "T", "Q"} <= kinds
    quotes = [line for line in lines if line["ev"] == "Q"]
    assert quotes and all(q["symbol"] == "AAPL" for q in quotes)  # the normalized rows: readable names
    assert all(isinstance(q["ts"], int) and q["ts"] == q["timestamp"] * 1_000_000 for q in quotes)
    assert "tickwire:" in proc.stderr and "0 reconnects" in proc.stderr


def test_stream_sim_jsonl_wire_prints_the_wire_keys(tmp_path: Path) -> None:
    proc = run("stream", "--sim", "--jsonl", "--wire", "--duration", "1.5", "T.*", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    trades = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"ev":"T"')]
    assert trades and all({"sym", "p", "t"} <= set(t) and "symbol" not in t for t in trades)
    alone = run("stream", "--sim", "--wire", "--duration", "1", "T.*", cwd=tmp_path)
    assert alone.returncode == 2 and "--jsonl" in alone.stderr


def test_stream_sim_delayed_feed(tmp_path: Path) -> None:
    proc = run("stream", "--sim", "--feed", "delayed", "--jsonl", "--duration", "2", "T.*", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    connected = [json.loads(line) for line in proc.stdout.splitlines() if '"connected"' in line]
    assert any(c.get("url", "").endswith("/delayed/stocks") for c in connected)
    trades = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"ev":"T"')]
    assert trades and all(time.time() * 1000 - t["timestamp"] > 14 * 60 * 1000 for t in trades)


def test_stream_live_view_renders(tmp_path: Path) -> None:
    proc = run("stream", "--sim", "--duration", "2", "T.*", cwd=tmp_path, env={"COLUMNS": "120"})
    assert proc.returncode == 0, proc.stderr
    assert "streaming" in proc.stdout and "last trade" in proc.stdout
    # a row per symbol that traded (which ones, in 2 s, is the simulator's volume model's business)
    assert re.search(r"^[A-Z][A-Z.]* +│ +[\d,]+\.?\d* │ +[+-]\d+\.\d\d%", proc.stdout, re.M), proc.stdout
    assert "events" in proc.stderr


def test_stream_without_a_key_says_so_and_offers_sim(tmp_path: Path) -> None:
    proc = run("stream", "T.AAPL", cwd=tmp_path)  # an empty directory: no .env
    assert proc.returncode == 2
    assert "no API key" in proc.stderr and "--sim" in proc.stderr and "--api-key" in proc.stderr


def test_stream_keeps_retrying_when_nothing_listens(tmp_path: Path) -> None:
    proc = run(
        "stream",
        "--url",
        "ws://127.0.0.1:9/stocks",
        "T.AAPL",
        "--duration",
        "2",
        cwd=tmp_path,
        env={"MASSIVE_API_KEY": "k"},
    )
    assert proc.returncode == 0  # it retries until --duration, then prints a summary
    assert "0 reconnects" in proc.stderr, proc.stderr  # never connected: no reconnection, only attempts
    assert "cannot connect" in proc.stderr


@pytest.mark.parametrize("args", [["--help"], ["stream", "--help"], ["sim", "--help"], ["version"]])
def test_help_and_version(args: list[str]) -> None:
    proc = run(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_sim_command_serves_until_interrupted(tmp_path: Path) -> None:
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickwire", "sim", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            with socket.socket() as c:
                if c.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("simulator did not start listening")
        stream = run(
            "stream",
            "--url",
            f"ws://127.0.0.1:{port}",
            "--jsonl",
            "--duration",
            "1.5",
            "T.*",
            env={"MASSIVE_API_KEY": "k"},
        )
        assert stream.returncode == 0, stream.stderr
        assert any(json.loads(line)["ev"] == "T" for line in stream.stdout.splitlines())
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert f"127.0.0.1:{port}" in out + err
