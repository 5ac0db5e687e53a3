"""``tickwire dashboard`` as a user runs it: a subprocess serving the page on the simulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def test_dashboard_sim_serves_page_and_metrics_then_exits(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tickwire",
            "dashboard",
            "T.AAPL",
            "MSFT",
            "--sim",
            "--speed",
            "60",
            "--port",
            "0",
            "--duration",
            "30",
            "--alert",
            "move * pct=0.01 window=60 cooldown=1000",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        url = re.search(r"dashboard: (http://127\.0\.0\.1:\d+/)", line)
        assert url, line
        deadline = time.monotonic() + 25
        not_yet = 'tickwire_alerts_total{rule="move * 0.01% 60s any"} 0'
        while True:  # until the alert has fired (the market moves 0.01% within a minute almost at once)
            metrics = urllib.request.urlopen(url.group(1) + "metrics", timeout=10).read().decode()
            if "tickwire_alerts_total{" in metrics and not_yet not in metrics:
                break
            assert time.monotonic() < deadline, metrics
            time.sleep(0.2)
        assert "tickwire_events_total" in metrics
        page = urllib.request.urlopen(url.group(1), timeout=10).read().decode()
        assert "lightweight-charts" in page
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "ALERT move" in err and "tickwire:" in err and "alerts" in err


def test_dashboard_bad_alert_rule_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickwire", "dashboard", "T.AAPL", "--sim", "--alert", "cross AAPL"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "level" in proc.stderr and "Traceback" not in proc.stderr


def test_polymarket_dashboard_sim_shows_books_of_the_named_markets(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLYMARKET_")}
    markets = "btc-100k-2026,eth-5k-2026"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tickwire",
            "dashboard",
            "--provider",
            "polymarket",
            "--markets",
            markets,
            "--sim",
            "--port",
            "0",
            "--interval",
            "1",
            "--duration",
            "30",
            "--alert",
            "move btc-100k-2026 pct=0.01 window=60 cooldown=1000",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        url = re.search(r"dashboard: (http://127\.0\.0\.1:\d+/)", line)
        assert url, line
        deadline = time.monotonic() + 25
        while True:  # until both markets have a book and a candle, and the move alert fired
            state = json.loads(urllib.request.urlopen(url.group(1) + "api/state", timeout=10).read())
            syms = state["symbols"]
            ready = all(m in syms and "book" in syms[m] and syms[m]["candles"] for m in markets.split(","))
            if ready and state["alerts"]:
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert set(syms) == set(markets.split(","))  # only the markets named
        assert state["alerts"][0]["symbol"] == "btc-100k-2026"
        page = urllib.request.urlopen(url.group(1), timeout=10).read().decode()
        assert "<title>tickwire · Polymarket US simulator · dashboard</title>" in page
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "ALERT move btc-100k-2026" in err and "tickwire:" in err


def test_polymarket_dashboard_needs_markets_without_the_simulator(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickwire", "dashboard", "--provider", "polymarket"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "--markets" in proc.stderr and "Traceback" not in proc.stderr
