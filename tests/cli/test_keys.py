"""Keys and URLs: a local server (``tickwire sim``, ``tickwire replay``) needs no key, a vendor host does,
and every command that uses a key takes ``--api-key`` (or the provider's ``--key-id``/``--secret-key``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_errors import _KEYS, one_line, run
from tickwire.credentials import is_local_url


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """``tickwire sim`` or ``tickwire replay`` of a fresh recording, in a subprocess: its stocks URL."""
    env = {k: v for k, v in __import__("os").environ.items() if k not in _KEYS}
    if request.param == "sim":
        args = ["sim", "--port", "0", "--duration", "60"]
    else:
        rec = run("record", "--sim", "--duration", "1.5", "-d", str(tmp_path / "d"), "T.*", cwd=tmp_path)
        assert rec.returncode == 0, rec.stderr
        args = ["replay", str(tmp_path / "d" / "journal"), "--port", "0", "--speed", "max"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickwire", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the announcement names the URL
            found = re.search(r"(ws://127\.0\.0\.1:\d+)", line)
            if found:
                yield found[1] + "/stocks"
                break
        else:
            pytest.fail("the server announced no URL")
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("server", ["sim", "replay"], indirect=True)
def test_stream_from_a_local_url_needs_no_key(server: str, tmp_path: Path) -> None:
    proc = run("stream", "--url", server, "--jsonl", "--duration", "2", "T.*", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert any(row.get("ev") == "T" for row in rows), proc.stdout[:500]  # trades came through
    assert "Traceback" not in proc.stderr and "error:" not in proc.stderr


def test_a_vendor_host_still_needs_a_key_and_the_error_speaks_cli(tmp_path: Path) -> None:
    proc = run("stream", "--url", "wss://socket.massive.com/stocks", "T.AAPL", cwd=tmp_path)
    line = one_line(proc, 2, "--api-key", "MASSIVE_API_KEY", "--sim")
    assert "api_key=" not in line


def test_record_live_without_a_key_speaks_cli(tmp_path: Path) -> None:
    proc = run("record", "--live", "--duration", "1", "-d", str(tmp_path / "d"), cwd=tmp_path)
    assert "api_key=" not in one_line(proc, 2, "--api-key", "--sim")


@pytest.mark.parametrize(
    ("command", "flags"),
    [
        ("stream", ("--api-key", "--key-id", "--secret-key")),
        ("record", ("--api-key", "--key-id", "--secret-key")),
        ("bars", ("--api-key",)),
        ("dashboard", ("--api-key", "--key-id", "--secret-key")),
    ],
)
def test_api_key_option_everywhere_a_key_is_used(
    command: str, flags: tuple[str, ...], tmp_path: Path
) -> None:
    proc = run(command, "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for flag in flags:
        assert flag in proc.stdout, (command, flag)


def test_api_key_option_is_used(tmp_path: Path) -> None:
    """``--api-key`` reaches the server: a simulator that accepts one key only lets it in."""
    code = """
import asyncio, subprocess, sys
from tickwire.sim import MassiveSimulator
async def main():
    async with MassiveSimulator(valid_keys=["k-right"]) as sim:
        for key in ("k-right", "k-wrong"):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tickwire", "stream", "--url", sim.url + "/stocks", "--api-key", key,
                "--jsonl", "--duration", "1.5", "T.*", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = await proc.communicate()
            print(key, proc.returncode, b"auth_success" in out, b"Traceback" in err)
asyncio.run(main())
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    results = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert results["k-right"] == "0 True False"
    assert results["k-wrong"].split()[0] == "1" and results["k-wrong"].endswith("False False")


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("ws://127.0.0.1:8765/stocks", True),
        ("ws://127.3.4.5:1", True),
        ("ws://localhost:8765", True),
        ("ws://[::1]:8765/stocks", True),
        ("127.0.0.1:8765", True),
        ("wss://socket.massive.com/stocks", False),
        ("wss://127.0.0.1.example.com/stocks", False),
        ("ws://10.0.0.1:8765", False),
        ("not a url", False),
    ],
)
def test_is_local_url(url: str, local: bool) -> None:
    assert is_local_url(url) is local


async def test_python_clients_with_a_loopback_url_need_no_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import asyncio

    from tickwire import AsyncStreamClient, EquityTrade, StreamClient
    from tickwire.errors import ConfigError
    from tickwire.sim import MassiveSimulator

    for name in _KEYS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    async with MassiveSimulator() as sim:
        async with AsyncStreamClient(url=sim.url) as client:
            await client.subscribe("T.*")
            async for ev in client:
                if isinstance(ev, EquityTrade):
                    break
        got: asyncio.Queue[str] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        threaded = StreamClient(
            url=sim.url, on_message=lambda msg: loop.call_soon_threadsafe(got.put_nowait, msg)
        )
        threaded.start_stream_thread()
        threaded.subscribe_stock_trades(["AAPL"])
        try:
            while '"ev":"T"' not in (await asyncio.wait_for(got.get(), 30)).replace(" ", ""):
                pass
        finally:
            threaded.close_stream()
    with pytest.raises(ConfigError, match="no API key"):
        AsyncStreamClient(url="wss://socket.massive.com/stocks")


def test_the_readme_simulator_snippet_runs(tmp_path: Path) -> None:
    """The Quick start's Python snippet (the simulator made in-process, used with no key) runs as shown."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    quick = text[text.index("## Quick start") : text.index("\n## ", text.index("## Quick start") + 5)]
    snippet = re.search(r"```python\n(.*?)```", quick, re.S)
    assert snippet is not None and "MassiveSimulator" in snippet[1]
    assert not any("api_key" in line.split("#")[0] for line in snippet[1].splitlines())  # no key anywhere
    env = {k: v for k, v in __import__("os").environ.items() if k not in _KEYS}
    proc = subprocess.run(
        [sys.executable, "-c", snippet[1]], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert re.match(r"AAPL \d+\.\d+ \d+", proc.stdout), proc.stdout[:300]
    assert "Traceback" not in proc.stderr
