"""``tickwire stream --provider polymarket`` against its own simulator."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tickwire.cli.app import app


def test_stream_polymarket_sim_jsonl() -> None:
    result = CliRunner().invoke(
        app,
        [
            "stream",
            "--provider",
            "polymarket",
            "--sim",
            "--markets",
            "fed-cut-june,eth-5k-2026",
            "--jsonl",
            "--duration",
            "0.6",
        ],
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    books = [e for e in events if e["ev"] == "market_data"]
    assert events[0]["ev"] == "connected" and {b["market_slug"] for b in books} == {
        "fed-cut-june",
        "eth-5k-2026",
    }


def test_stream_polymarket_needs_markets() -> None:
    result = CliRunner().invoke(app, ["stream", "--provider", "polymarket"])
    assert result.exit_code != 0 and "--markets" in result.output
