"""TLS and binding from the command line, run as a user would (subprocesses): ``tickwire sim --tls-cert``
listens on 127.0.0.1 only; ``tickwire stream`` refuses its certificate with a clear error and exit code 1,
and streams once given ``tickwire --ca-file``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.security.pki import LoopbackPKI
from tests.system.security.test_bind_defaults import LOOPBACK, listening


def tickwire(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env["MASSIVE_API_KEY"] = "cli-tls-key"
    return subprocess.run(
        [sys.executable, "-m", "tickwire", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


@pytest.fixture
def tls_sim_process(pki: LoopbackPKI, tmp_path: Path) -> Iterator[tuple[int, int]]:
    """``tickwire sim --tls-cert ... --tls-key ...`` on a free port: yields (port, pid)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port = s.getsockname()[1]
    args = ["sim", "--port", str(port), "--tls-cert", str(pki.cert_file), "--tls-key", str(pki.key_file)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickwire", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 20
        while (LOOPBACK, port) not in listening(proc.pid) or len(listening(proc.pid)) < 2:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the simulator did not start: {proc.communicate()[1][-2000:]}")
            time.sleep(0.1)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_sim_serves_tls_on_loopback_and_stream_needs_the_ca(
    tls_sim_process: tuple[int, int], pki: LoopbackPKI, tmp_path: Path
) -> None:
    port, pid = tls_sim_process
    assert {address for address, _ in listening(pid)} == {LOOPBACK}  # WebSocket and REST ports
    url = f"wss://{LOOPBACK}:{port}"
    refused = tickwire("stream", "--url", url, "--jsonl", "--duration", "5", "T.*", cwd=tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert "certificate verification failed" in refused.stderr and "--ca-file" in refused.stderr
    assert "cli-tls-key" not in refused.stderr
    trusted = tickwire(
        "--ca-file",
        str(pki.ca_file),
        "stream",
        "--url",
        url,
        "--jsonl",
        "--duration",
        "1.5",
        "T.*",
        cwd=tmp_path,
    )
    assert trusted.returncode == 0, trusted.stderr
    kinds = {json.loads(line)["ev"] for line in trusted.stdout.splitlines()}
    assert {"connected", "T"} <= kinds
    assert "0 reconnects" in trusted.stderr
