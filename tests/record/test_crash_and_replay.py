"""kill -9 of ``tickwire record`` then restart: the journal verifies, nothing synced is lost, the
database rebuilt from it equals the events sent; a recording replayed at max speed to the
unmodified official ``massive`` client yields the same events."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import msgspec
from massive import WebSocketClient  # type: ignore[import-untyped]
from massive.websocket.models import EquityQuote as MQuote  # type: ignore[import-untyped]
from massive.websocket.models import EquityTrade as MTrade  # type: ignore[import-untyped]

from tests.waiting import until
from tickwire.journal import FRAME, read_records
from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.models import EquityQuote, EquityTrade, MassiveEvent
from tickwire.record import Recorder
from tickwire.sim import MassiveSimulator
from tickwire.sim.replay import JournalReplayer


def _events(journal: Path) -> list[MassiveEvent]:
    dec = MassiveDecoder("stocks")
    return [
        e
        for r in read_records(journal)
        if r.kind == FRAME
        for e in dec.decode(r.data)
        if isinstance(e, MassiveEvent)
    ]


async def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tickwire",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out, err


async def test_kill_9_then_restart_loses_nothing_synced_and_rebuilds(tmp_path: Path) -> None:
    env = {**os.environ, "MASSIVE_API_KEY": "test-key-0000"}
    data = tmp_path / "data"
    async with MassiveSimulator(seed=9, tick_interval=0.02, rate=20.0, close_timeout=0.3) as sim:
        args = [
            "record",
            "T.AAPL",
            "T.MSFT",
            "Q.AAPL",
            "-d",
            str(data),
            "--url",
            sim.url,
            "--fsync-interval",
            "0.1",
            "--status-json",
        ]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tickwire",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        assert proc.stdout is not None
        synced = 0
        async with asyncio.timeout(30):
            while synced < 40:
                line = await proc.stdout.readline()
                assert line, "the recorder exited early"
                synced = msgspec.json.decode(line)["journal_synced"]
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert proc.returncode == -signal.SIGKILL

        code, out, _ = await _cli("journal", "verify", str(data / "journal"))
        assert code in (0, 1), out  # 1 only for a torn tail, which the next open cuts
        first = list(read_records(data / "journal"))
        assert len(first) >= synced, "records before the last sync were lost"

        code, _, err = await _cli(*args[:-1], "--duration", "1.5", env=env)  # restart, then a clean stop
        assert code == 0, err
    code, out, _ = await _cli("journal", "verify", str(data / "journal"))
    assert code == 0, out
    after = list(read_records(data / "journal"))
    first_frames = [r.data for r in first if r.kind == FRAME]
    after_frames = [r.data for r in after if r.kind == FRAME]
    assert (
        after_frames[: len(first_frames)] == first_frames
    )  # everything from before the crash is still there
    assert len(after_frames) > len(first_frames)

    # the database rebuilt from the journal equals the events sent (each one is the model's)
    code, _, err = await _cli("replay", str(data / "journal"), "--into", f"duckdb:{tmp_path / 're.duckdb'}")
    assert code == 0, err
    sent = _events(data / "journal")
    trades = [e for e in sent if isinstance(e, EquityTrade)]
    import duckdb

    rows = (
        duckdb.connect(str(tmp_path / "re.duckdb"), read_only=True)
        .sql("SELECT symbol, timestamp, price, size, sequence_number FROM stocks_trades")
        .fetchall()
    )
    assert sorted(rows) == sorted((t.symbol, t.timestamp, t.price, t.size, t.sequence_number) for t in trades)
    for t in trades[:: max(1, len(trades) // 50)]:
        assert t.symbol is not None and t.timestamp is not None
        model = sim.trades("stocks", t.symbol, t.timestamp, t.timestamp + 1)
        assert any((m.price, m.size, m.sequence) == (t.price, t.size, t.sequence_number) for m in model)


async def test_replay_at_max_speed_to_the_official_massive_client(tmp_path: Path) -> None:
    async with MassiveSimulator(seed=5, tick_interval=0.02, rate=20.0, close_timeout=0.3) as sim:
        rec = Recorder(
            tmp_path,
            url=sim.url,
            api_key="k",
            channels=["T.*", "Q.AAPL"],
            duckdb=False,
            client_options={"dotenv_path": None},
        )
        stop = asyncio.Event()
        run = asyncio.create_task(rec.run(stop))
        await until(lambda: rec.events >= 400, 20, "400 events")
        stop.set()
        await run
    recorded = _events(tmp_path / "journal")
    want = sorted(
        (
            type(e).__name__,
            e.symbol,
            e.timestamp,
            getattr(e, "price", None) or getattr(e, "bid_price", None),
            e.sequence_number,
        )
        for e in recorded
        if isinstance(e, EquityTrade | EquityQuote)
    )
    assert len(want) == len(recorded) >= 400

    async with JournalReplayer(tmp_path / "journal", speed=None) as replayer:
        client = WebSocketClient(
            api_key="k", feed=replayer.feed_host, market="stocks", secure=False, subscriptions=["T.*", "Q.*"]
        )
        got: list[object] = []
        enough = asyncio.Event()

        async def processor(messages: list[object]) -> None:
            got.extend(messages)
            if len(got) >= len(want):
                enough.set()

        task = asyncio.create_task(client.connect(processor))
        await asyncio.wait_for(enough.wait(), 30)
        await client.close()
        await asyncio.wait_for(task, 5)
    names = {MTrade: "EquityTrade", MQuote: "EquityQuote"}
    seen = sorted(
        (
            names[type(m)],
            m.symbol,
            m.timestamp,
            getattr(m, "price", None) or getattr(m, "bid_price", None),
            m.sequence_number,
        )
        for m in got
        if type(m) in names
    )
    assert seen == want
