"""Alpaca journals served in the Alpaca dialect: alpaca-py (msgpack only) reads a JSON recording
unmodified, tickwire's client reads it too, each connection gets the items it subscribed to in the
encoding it asked for (whole frames byte for byte when nothing is filtered), times exact.

Journals are recorded here from the Alpaca simulator's own frames (a raw client, every frame as
received, control frames included, written with :class:`~tickwire.journal.JournalWriter` and the
recorder's metadata), so the replay is checked against exactly what was recorded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from websockets.exceptions import InvalidStatus

from tickwire.alpaca import AlpacaStreamClient, Trade
from tickwire.alpaca.wire import parse_rfc3339_ns, time_ns
from tickwire.journal import JournalWriter
from tickwire.sim.alpaca import SIM_KEY_ID, SIM_SECRET_KEY
from tickwire.sim.alpaca.replay import pick_items, read_items
from tickwire.sim.replay import JournalReplayer

from .conftest import fast_sim
from .raw_client import Encoding, RawAlpaca
from .streams import Running, of_type

with warnings.catch_warnings():  # alpaca-py imports websockets.legacy, deprecated since websockets 14
    warnings.simplefilter("ignore", DeprecationWarning)
    from alpaca.data.live import StockDataStream
    from alpaca.data.models import Trade as PyTrade

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHANNELS = {"trades": ["*"], "quotes": ["AAPL", "MSFT"], "bars": ["*"]}


async def record_alpaca(directory: Path, encoding: Encoding = "json", feed: str = "sip") -> list[bytes]:
    """Every frame of a simulator session (``connected`` to the last data frame), written as a journal."""
    frames: list[bytes] = []
    async with fast_sim(correction_rate=0.05, cancel_rate=0.05) as sim:
        client = await RawAlpaca.open(sim.url_for(feed), encoding)
        await client.login(SIM_KEY_ID, SIM_SECRET_KEY)
        await client.send({"action": "subscribe", **CHANNELS})
        kinds: set[str] = set()
        async with asyncio.timeout(15):
            while len(client.raw) < 40 or not kinds >= {"t", "q", "b", "c"}:
                await client.recv()
                for item in _decode(client.raw[-1]):
                    kinds.add(item["T"])
        frames = [f.encode() if isinstance(f, str) else f for f in client.raw]
        url = sim.url_for(feed)
        await client.close()
    meta = {"provider": "alpaca", "market": feed, "url": url, "subscriptions": ["trades:*"]}
    with JournalWriter(directory, meta=meta, compress=False) as writer:
        start = time.time_ns()
        for i, frame in enumerate(frames):
            writer.append(frame, start + i * 1_000_000, 1)
    return frames


def _decode(frame: bytes | str) -> list[dict[str, Any]]:
    if isinstance(frame, str):
        return list(msgspec.json.decode(frame))
    if frame[:1] == b"[":
        return list(msgspec.json.decode(frame))
    return list(msgspec.msgpack.decode(frame))


def recorded_items(frames: list[bytes], kinds: tuple[str, ...]) -> list[bytes]:
    """The raw items of the recorded frames whose ``T`` is one of ``kinds``, in order."""
    out = []
    for frame in frames:
        encoding, items, _ = read_items(frame)
        decode = msgspec.json.decode if encoding == "json" else msgspec.msgpack.decode
        out += [i.data for i in items if decode(i.data, type=_Tag).T in kinds]
    return out


class _Tag(msgspec.Struct):
    T: str


def trade_facts(item: dict[str, Any], t_ns: int) -> tuple[Any, ...]:
    return (item["S"], item["i"], item["p"], item["s"], item["x"], item["c"], item["z"], t_ns)


def _us(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    directory = tmp_path_factory.mktemp("alpaca") / "journal"
    return directory, asyncio.run(record_alpaca(directory))


def test_alpaca_py_reads_a_json_journal_in_msgpack(journal: tuple[Path, list[bytes]]) -> None:
    directory, frames = journal
    expected = []
    for frame in frames:
        for item in msgspec.json.decode(frame):
            if item["T"] == "t":
                expected.append(trade_facts(item, parse_rfc3339_ns(item["t"]) or 0))
    assert len(expected) >= 10
    replayer = JournalReplayer(directory, speed=None)
    assert (replayer.provider, replayer.market) == ("alpaca", "sip")
    with replayer.server.run_in_thread() as sim:
        url = sim.url + "/v2/sip"
        stream = StockDataStream(SIM_KEY_ID, SIM_SECRET_KEY, url_override=url)
        with Running(stream) as run:
            stream.subscribe_trades(run.handler, "*")
            items = run.wait(lambda got: len(of_type(got, PyTrade)) >= len(expected), what="every trade")
        handshake = sim.simulator.handshakes[0]
    trades = of_type(items, PyTrade)
    assert handshake.encoding == "msgpack"
    got = [(t.symbol, t.id, t.price, t.size, t.exchange, t.conditions, t.tape, t.timestamp) for t in trades]
    assert got == [(*facts[:-1], _us(facts[-1])) for facts in expected]


async def test_tickwire_client_gets_its_subscriptions_in_either_encoding(
    journal: tuple[Path, list[bytes]],
) -> None:
    directory, frames = journal
    aapl = [item for item in recorded_items(frames, ("t",)) if b'"S":"AAPL"' in item]
    assert aapl
    async with JournalReplayer(directory, speed=None) as replayer:
        for encoding in ("json", "msgpack"):
            async with AlpacaStreamClient(
                SIM_KEY_ID, SIM_SECRET_KEY, "sip", url=replayer.url, encoding=encoding, dotenv_path=None
            ) as client:
                await client.subscribe_trades("AAPL")
                trades: list[Trade] = []
                async with asyncio.timeout(10):
                    async for ev in client:
                        if isinstance(ev, Trade):
                            trades.append(ev)
                            if len(trades) == len(aapl):
                                break
            want = [msgspec.json.decode(item) for item in aapl]
            assert [(t.symbol, t.id, t.price, t.timestamp) for t in trades] == [
                ("AAPL", w["i"], w["p"], parse_rfc3339_ns(w["t"])) for w in want
            ], encoding


async def test_whole_frames_go_byte_for_byte_and_msgpack_times_are_exact(
    journal: tuple[Path, list[bytes]],
) -> None:
    directory, frames = journal
    data_frames = [f for f in frames if read_items(f)[2] and read_items(f)[1]]
    async with JournalReplayer(directory, speed=None) as replayer:
        same = await RawAlpaca.open(replayer.url, "json")
        await same.login(SIM_KEY_ID, SIM_SECRET_KEY)
        await same.send({"action": "subscribe", **CHANNELS})
        assert (await same.recv())[0]["T"] == "subscription"
        got = [await same.recv_raw() for _ in data_frames]
        assert [g.encode() if isinstance(g, str) else g for g in got] == data_frames
        packed = await RawAlpaca.open(replayer.url, "msgpack")
        await packed.login(SIM_KEY_ID, SIM_SECRET_KEY)
        await packed.send({"action": "subscribe", "trades": ["*"]})
        assert (await packed.recv())[0]["T"] == "subscription"
        want = recorded_items(frames, ("t", "c", "x"))
        items: list[bytes] = []
        while len(items) < len(want):
            raw = await packed.recv_raw()
            assert isinstance(raw, bytes)
            items += [bytes(r) for r in msgspec.msgpack.decode(raw, type=list[msgspec.Raw])]
        await replayer.wait_finished(2, timeout=10)
    assert len(items) == len(want)
    for mine, theirs in zip(items, want, strict=True):
        a = msgspec.msgpack.decode(mine, type=dict[str, msgspec.Raw])
        b = msgspec.json.decode(theirs, type=dict[str, msgspec.Raw])
        assert list(a) == list(b)
        assert time_ns(a["t"], True) == time_ns(b["t"], False)  # the Timestamp extension, to the ns
        assert bytes(a["t"])[:2] == b"\xd7\xff"
        for key in a.keys() - {"t"}:
            assert msgspec.msgpack.decode(a[key]) == msgspec.json.decode(b[key]), key


async def test_a_msgpack_journal_is_served_as_json_with_nanosecond_times(tmp_path: Path) -> None:
    frames = await record_alpaca(tmp_path / "journal", "msgpack", feed="iex")
    want = recorded_items(frames, ("q",))
    async with JournalReplayer(tmp_path / "journal", speed=None) as replayer:
        assert replayer.url.endswith("/v2/iex")
        client = await RawAlpaca.open(replayer.url, "json")
        await client.login(SIM_KEY_ID, SIM_SECRET_KEY)
        await client.send({"action": "subscribe", "quotes": ["*"]})
        assert (await client.recv())[0]["T"] == "subscription"
        got: list[dict[str, Any]] = []
        while len(got) < len(want):
            got += await client.recv()
    assert [g["T"] for g in got] == ["q"] * len(want)
    for mine, theirs in zip(got, want, strict=True):
        original = msgspec.msgpack.decode(theirs, type=dict[str, msgspec.Raw])
        assert parse_rfc3339_ns(mine["t"]) == time_ns(original["t"], True)
        assert mine["S"] == msgspec.msgpack.decode(original["S"])
        assert (mine["bp"], mine["as"]) == (
            msgspec.msgpack.decode(original["bp"]),
            msgspec.msgpack.decode(original["as"]),
        )


async def test_the_replay_keeps_the_dialects_rules_and_faults(journal: tuple[Path, list[bytes]]) -> None:
    directory, _ = journal
    async with JournalReplayer(directory, speed=None) as replayer:
        with pytest.raises(InvalidStatus) as info:
            await RawAlpaca.open(replayer.url.replace("/v2/sip", "/v2/iex"))
        assert info.value.response.status_code == 404
        bad = await RawAlpaca.open(replayer.url)
        assert (await bad.login(SIM_KEY_ID, "wrong"))[0]["code"] == 402
        early = await RawAlpaca.open(replayer.url)
        await early.recv()
        await early.send({"action": "subscribe", "trades": ["*"]})
        assert (await early.recv())[0]["code"] == 401  # nothing replayed before auth
        muted = await RawAlpaca.open(replayer.url)
        await muted.login(SIM_KEY_ID, SIM_SECRET_KEY)
        assert replayer.server.mute() >= 1
        await muted.send({"action": "subscribe", "trades": ["*"]})
        await replayer.wait_finished(1, timeout=10)
        assert replayer.frames_sent == 0  # a muted connection is sent nothing of the journal


def test_pick_items_routes_by_channel_symbol_and_follows_trades() -> None:
    frame = (
        b'[{"T":"t","S":"AAPL","i":1,"p":1,"s":1,"t":"2026-01-02T15:00:00.000000001Z"},'
        b'{"T":"c","S":"AAPL","x":"V","t":"2026-01-02T15:00:00.5Z"},'
        b'{"T":"q","S":"MSFT","bp":1,"t":"2026-01-02T15:00:01Z"},'
        b'{"T":"n","id":7,"symbols":["TSLA","AAPL"],"created_at":"2026-01-02T15:00:02Z"}]'
    )
    subs = {"trades": frozenset({"AAPL"})}
    out, n = pick_items(frame, subs, "json")
    assert n == 2 and out is not None
    assert [i["T"] for i in msgspec.json.decode(out)] == ["t", "c"]
    assert pick_items(frame, {"news": frozenset({"TSLA"})}, "json")[1] == 1
    everything = {c: frozenset({"*"}) for c in ("trades", "quotes", "news")}
    assert pick_items(frame, everything, "json") == (frame, 4)
    control = b'[{"T":"subscription","trades":["*"]},{"T":"t","S":"AAPL","p":1,"s":1}]'
    out, n = pick_items(control, everything, "json")
    assert (out, n) == (b'[{"T":"t","S":"AAPL","p":1,"s":1}]', 1)  # control items never replayed
    packed, n = pick_items(frame, {"news": frozenset({"*"})}, "msgpack")
    assert n == 1 and packed is not None
    (news,) = msgspec.msgpack.decode(packed)  # the Timestamp extension decodes to a datetime
    assert news["created_at"] == datetime(2026, 1, 2, 15, 0, 2, tzinfo=UTC)
    assert news["symbols"] == ["TSLA", "AAPL"]
    assert pick_items(b"not a frame", everything, "json") == (None, 0)
    assert pick_items(b"[1, {", everything, "json") == (None, 0)


def test_replay_cli_serves_an_alpaca_journal_to_alpaca_py(journal: tuple[Path, list[bytes]]) -> None:
    directory, frames = journal
    n = len(recorded_items(frames, ("t",)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickwire", "replay", str(directory), "--port", "0", "--speed", "max"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "(alpaca)" in line, line
        url = line.split(" on ")[1].split()[0]
        assert url.endswith("/v2/sip")
        hint = proc.stderr.readline()
        assert SIM_KEY_ID in hint and SIM_SECRET_KEY in hint, hint
        stream = StockDataStream(SIM_KEY_ID, SIM_SECRET_KEY, url_override=url)
        with Running(stream) as run:
            stream.subscribe_trades(run.handler, "*")
            items = run.wait(lambda got: len(of_type(got, PyTrade)) >= n, what="every recorded trade")
        assert len(of_type(items, PyTrade)) == n
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
