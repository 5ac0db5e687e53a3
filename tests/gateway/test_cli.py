"""``tickwire gateway`` as a user runs it: usage errors in one line (exit 2), and serving the simulator."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request

import pytest
from websockets.sync.client import connect

from tickwire.sim import MassiveSimulator


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sim", "--host", "0.0.0.0"], "is not loopback: give at least one --token"),
        ([], "give exactly one upstream"),
        (["--sim", "--upstream", "ws://127.0.0.1:1"], "give exactly one upstream"),
        (["--upstream", "nats://"], "--upstream must be nats://host"),  # more in test_nats_upstream
        (["--upstream", "wss://socket.massive.com"], "no vendor key"),
        (["--sim", "--market", "moon"], "moon"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickwire", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(),
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("upstream", ["--sim", "--upstream"])
def test_gateway_serves_clients_and_metrics_until_interrupted(upstream: str) -> None:
    with contextlib.ExitStack() as stack:
        if upstream == "--sim":
            _serve_one_client(["--sim", "--rate", "20"])
        else:  # a loopback upstream needs no key
            sim = stack.enter_context(MassiveSimulator(seed=3, tick_interval=0.02, rate=20.0).run_in_thread())
            _serve_one_client(["--upstream", sim.url])
            assert sim.counters.handshakes == 1


def _serve_one_client(args: list[str]) -> None:
    command = [sys.executable, "-m", "tickwire", "gateway", *args, "--port", "0", "--token", "s3cret"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        found = re.search(r"gateway serving (ws://127\.0\.0\.1:(\d+)/stocks)", first)
        assert found, first
        url, port = found.group(1), found.group(2)
        with connect(url, open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))[0]["status"] == "connected"
            ws.send(json.dumps({"action": "auth", "params": "s3cret"}))
            assert json.loads(ws.recv(timeout=5))[0]["status"] == "auth_success"
            ws.send(json.dumps({"action": "subscribe", "params": "T.MSFT"}))
            assert json.loads(ws.recv(timeout=5)) == [
                {"ev": "status", "status": "success", "message": "subscribed to: T.MSFT"}
            ]
            trades: list[dict[str, object]] = []
            while len(trades) < 3:
                trades += json.loads(ws.recv(timeout=5))
            assert {t["sym"] for t in trades} == {"MSFT"}
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                text = resp.read().decode()
            assert "tickwire_gateway_clients 1" in text and "s3cret" not in text
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "gateway stopped" in err and "Traceback" not in err
