"""The CLI around recordings: query while recording goes on, journal cat/stats, bad input."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.waiting import until
from tickwire.record import Recorder
from tickwire.sim import MassiveSimulator


async def _cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tickwire",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_query_works_while_recording_and_journal_tools(tmp_path: Path) -> None:
    async with MassiveSimulator(seed=2, tick_interval=0.02, rate=20.0, close_timeout=0.3) as sim:
        rec = Recorder(
            tmp_path,
            url=sim.url,
            api_key="k",
            channels=["T.*"],
            sink_flush_interval=0.1,
            client_options={"dotenv_path": None},
        )
        stop = asyncio.Event()
        run = asyncio.create_task(rec.run(stop))
        await until(lambda: rec.cursors and rec.cursors[0].written >= 100, 20, "100 rows in DuckDB")
        code, out, err = await _cli(
            "query", "-d", str(tmp_path), "--csv", "SELECT count(*) AS n FROM stocks_trades"
        )
        assert code == 0, err
        assert int(out.splitlines()[1]) >= 100
        assert not run.done()  # still recording
        stop.set()
        final = await run
    code, out, _ = await _cli("query", "-d", str(tmp_path), "--csv", "SELECT count(*) FROM stocks_trades")
    assert int(out.splitlines()[1]) == final.events
    code, out, _ = await _cli("journal", "stats", str(tmp_path / "journal"))
    assert code == 0 and f"T: {final.events:,}" in out
    code, out, _ = await _cli("journal", "cat", str(tmp_path / "journal"), "--limit", "3")
    assert code == 0 and len(out.splitlines()) == 3 and '"ev":' in out
    code, _, err = await _cli("query", "-d", str(tmp_path / "nope"), "SELECT 1")
    assert code == 2 and "no database" in err
    code, _, err = await _cli("query", "-d", str(tmp_path), "SELEC oops")
    assert code == 1 and "error" in err
    code, _, err = await _cli("record", "--sink", "ftp://x", "--duration", "0.1", "-d", str(tmp_path / "x"))
    assert code != 0 and "unknown sink" in err


async def test_record_polymarket_sim_for_chosen_markets_then_query(tmp_path: Path) -> None:
    code, _, err = await _cli(
        "record",
        "--provider",
        "polymarket",
        "--sim",
        "--markets",
        "fed-cut-june",
        "--duration",
        "3",  # the book snapshot answers the subscription at once; this is slack for a loaded machine
        "-d",
        str(tmp_path),
    )
    assert code == 0, err
    code, out, err = await _cli(
        "query",
        "-d",
        str(tmp_path),
        "--csv",
        "SELECT market_slug, count(*) FROM polymarket_us_books GROUP BY 1",
    )
    assert code == 0, err
    (header, row) = out.splitlines()
    slug, n = row.split(",")
    assert header.startswith("market_slug,") and slug == "fed-cut-june" and int(n) >= 1
    code, _, err = await _cli("query", "-d", str(tmp_path), "SELECT * FROM stocks_trades")
    assert code == 1 and "polymarket_us_books" in err and len(err.strip().splitlines()) == 1


def test_record_option_errors_are_one_line() -> None:
    from typer.testing import CliRunner

    from tickwire.cli.app import app

    cases = [
        (["--provider", "kraken"], "unknown provider 'kraken'"),
        (["--private"], "Polymarket US options"),
        (["--provider", "polymarket", "--live"], "market_data needs market slugs"),
        (["--provider", "polymarket", "--live", "--markets", "m", "order"], "record it with --private"),
        (["--provider", "polymarket", "--private", "--market", "markets"], "cannot go with --market"),
        (["--provider", "polymarket", "--feed", "delayed"], "--feed is a Massive option"),
        (["--market", "moon"], "Massive has no market 'moon'"),
    ]
    for args, message in cases:
        result = CliRunner().invoke(app, ["record", "--duration", "0.1", *args])
        assert result.exit_code == 2, (args, result.output)  # usage errors exit 2
        assert message in result.output and len(result.output.strip().splitlines()) == 1, (
            args,
            result.output,
        )
