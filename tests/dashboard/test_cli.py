"""``tickwire dashboard`` as a user runs it: a subprocess serving the page on the simulator."""

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
        not_yet = 'tickwire_alerts_total{rule="move * 0.01% 60s any"} 0'
        # until the alert has fired (the market moves 0.01% within a minute almost at once)
        metrics = poll(
            lambda: urllib.request.urlopen(url.group(1) + "metrics", timeout=10).read().decode(),
            lambda text: "tickwire_alerts_total{" in text and not_yet not in text,
            within=25,
        )
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

        def ready(state: dict[str, Any]) -> bool:  # both markets have a book and a candle, an alert fired
            syms = state["symbols"]
            books = all(m in syms and "book" in syms[m] and syms[m]["candles"] for m in markets.split(","))
            return books and bool(state["alerts"])

        state = poll(
            lambda: json.loads(urllib.request.urlopen(url.group(1) + "api/state", timeout=10).read()),
            ready,
            within=25,
        )
        syms = state["symbols"]
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


def test_dashboard_token_from_the_environment_and_allow_host(tmp_path: Path) -> None:
    import urllib.error

    token = "cli-dash-t0ken"
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    env["TICKWIRE_DASHBOARD_TOKEN"] = token
    args = ["dashboard", "T.AAPL", "--sim", "--port", "0", "--duration", "30", "--allow-host", "dash.test"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickwire", *args], stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )

    def status(path: str, **headers: str) -> int:
        request = urllib.request.Request(url.group(1) + path, headers=headers)
        try:
            return int(urllib.request.urlopen(request, timeout=10).status)
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        url = re.search(r"dashboard: (http://127\.0\.0\.1:\d+/)", line)
        assert url and "?token=<your token>" in line and token not in line, line
        assert status("metrics") == 401
        assert status(f"metrics?token={token}") == 200
        assert status("api/state", Authorization=f"Bearer {token}", Host="dash.test") == 200
        assert status("api/state", Authorization=f"Bearer {token}", Host="evil.test") == 403
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert token not in err


def test_dashboard_help_states_the_symbol_bound(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tickwire", "dashboard", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0 and "--max-symbols" in proc.stdout and "5000" in proc.stdout
    assert "TICKWIRE_DASHBOARD_TOKEN" in proc.stdout and "--allow-host" in proc.stdout
