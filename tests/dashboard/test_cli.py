"""``tickwire dashboard`` as a user runs it: a subprocess serving the page on the simulator."""

from __future__ import annotations

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
