"""``tickwire stream`` and ``tickwire dashboard`` with ``--provider alpaca``, run as a user would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from tests.waiting import poll

_NO_KEYS = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")


def run(*args: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _NO_KEYS}
    return subprocess.run(
        [sys.executable, "-m", "tickwire", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**env, "COLUMNS": "120"},
        cwd=cwd,
    )


def test_stream_sim_jsonl_gets_the_channels_asked_for(tmp_path: Path) -> None:
    proc = run(
        "stream",
        "--provider",
        "alpaca",
        "--sim",
        "--jsonl",
        "--duration",
        "5",  # the simulated session's midday lull must not leave a symbol without a trade
        "trades:AAPL,MSFT",
        "quotes:AAPL",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    trades = {e["symbol"] for e in events if e["ev"] == "t"}
    quotes = {e["symbol"] for e in events if e["ev"] == "q"}
    assert trades == {"AAPL", "MSFT"} and quotes == {"AAPL"}
    (ack,) = [e for e in events if e["ev"] == "subscription"]
    assert ack["channels"]["trades"] == ["AAPL", "MSFT"] and ack["channels"]["quotes"] == ["AAPL"]
    assert all(isinstance(e["timestamp"], int) for e in events if e["ev"] in ("t", "q"))
    m = re.search(r"tickwire: ([\d,]+) events", proc.stderr)
    assert m and int(m.group(1).replace(",", "")) >= len(trades), proc.stderr


def test_stream_sim_live_view_of_the_crypto_stream_by_default_channels(tmp_path: Path) -> None:
    proc = run(
        "stream", "--provider", "alpaca", "--sim", "--market", "crypto", "--duration", "2", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "Alpaca crypto" in proc.stdout and "BTC/USD" in proc.stdout and "streaming" in proc.stdout
    assert "/v1beta3/crypto/us" in proc.stdout  # the connection panel


def test_stream_without_keys_says_which_and_offers_the_simulator(tmp_path: Path) -> None:
    proc = run("stream", "--provider", "alpaca", "trades:AAPL", cwd=tmp_path)  # no .env here
    assert proc.returncode == 2
    assert "APCA_API_KEY_ID" in proc.stderr and "--provider alpaca --sim trades:AAPL" in proc.stderr


def test_stream_a_channel_the_stream_lacks_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run("stream", "--provider", "alpaca", "--sim", "orderbooks:AAPL", "--duration", "5", cwd=tmp_path)
    assert proc.returncode == 1
    assert "error: the iex stream has no orderbooks channel" in proc.stderr
    assert "Traceback" not in proc.stderr


def _dashboard(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in _NO_KEYS}
    cmd = [sys.executable, "-m", "tickwire", "dashboard", "--provider", "alpaca", "--sim", "--port", "0"]
    return subprocess.Popen(
        [*cmd, "--duration", "30", *args], stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )


def _url(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    line = proc.stderr.readline()
    url = re.search(r"dashboard: (http://127\.0\.0\.1:\d+/)", line)
    assert url, line
    return url.group(1)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.read().decode())


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def test_dashboard_sim_shows_the_named_alpaca_symbols(tmp_path: Path) -> None:
    proc = _dashboard(tmp_path, "AAPL", "MSFT", "--speed", "60")
    try:
        base = _url(proc)

        def ready(state: dict[str, Any]) -> bool:
            syms = state["symbols"]
            return all(s in syms and syms[s]["candles"] and syms[s].get("bid") for s in ("AAPL", "MSFT"))

        state = poll(lambda: json.loads(_get(base + "api/state")), ready, within=25)
        assert set(state["symbols"]) == {"AAPL", "MSFT"}
        metrics = _get(base + "metrics")
        events = re.search(r"^tickwire_events_total (\d+)", metrics, re.M)
        assert events and int(events.group(1)) > 0
        page = _get(base)
        assert "<title>tickwire · Alpaca simulator · dashboard</title>" in page
    finally:
        err = _stop(proc)
    assert "tickwire:" in err and "Traceback" not in err


def test_dashboard_sim_crypto_symbol_has_a_book_ladder(tmp_path: Path) -> None:
    proc = _dashboard(tmp_path, "--market", "crypto", "BTC/USD")
    try:
        base = _url(proc)
        state = poll(
            lambda: json.loads(_get(base + "api/state")),
            lambda s: bool(s["symbols"].get("BTC/USD", {}).get("book")),
            within=25,
        )
        book = state["symbols"]["BTC/USD"]["book"]
        bids, asks = book["bids"], book["asks"]
        assert bids and asks and bids[0][0] < asks[0][0]
        assert [b[0] for b in bids] == sorted((b[0] for b in bids), reverse=True)
    finally:
        _stop(proc)
