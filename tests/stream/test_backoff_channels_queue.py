"""Pure pieces: backoff, channel rules, the bounded queue's overflow policies, secrets."""

from __future__ import annotations

import asyncio

import pytest

from tickwire.backoff import Backoff
from tickwire.credentials import Secret, redact, resolve_secret
from tickwire.errors import ConfigError
from tickwire.events import Connected, Dropped, Event, Status
from tickwire.massive.channels import normalize_channels, split_channel
from tickwire.massive.enums import Market
from tickwire.massive.session import MassiveSession
from tickwire.stream.queue import EventQueue


def test_backoff_is_capped_jittered_and_seedable() -> None:
    a = [Backoff(base=1, cap=8, seed=7).next() for _ in range(1)]
    b1, b2 = Backoff(base=1, cap=8, seed=7), Backoff(base=1, cap=8, seed=7)
    seq1 = [b1.next() for _ in range(20)]
    assert seq1 == [b2.next() for _ in range(20)]
    assert a[0] == seq1[0]
    assert all(0.05 <= d <= 8 for d in seq1)
    assert [Backoff(base=1, cap=8).ceiling(n) for n in range(6)] == [1, 2, 4, 8, 8, 8]
    assert len(set(seq1)) > 10  # jittered, not constant
    b1.reset()
    assert b1.attempt == 0 and b1.ceiling() == 1
    assert Backoff(cap=30).ceiling(10_000) == 30  # no overflow


def test_split_at_first_dot() -> None:
    assert split_channel("T.BRK.A") == ("T", "BRK.A")
    assert normalize_channels(["t.aapl, q.msft", "XT.btc-usd"]) == ["T.AAPL", "Q.MSFT", "XT.BTC-USD"]
    assert normalize_channels(["C.EUR/USD"], Market.Forex) == ["C.EUR/USD"]
    with pytest.raises(ConfigError):
        normalize_channels(["T."])
    with pytest.raises(ConfigError):
        normalize_channels(["V.I:SPX"], Market.Stocks)


def _batch(n: int) -> list[Event]:
    return [Status(status="x", message=str(i)) for i in range(n)]


def _decode(frame: bytes) -> list[Event]:
    return [Status(status="raw", message=m) for m in frame.decode().split(",")]


async def test_queue_decodes_raw_frames_when_taken_and_counts() -> None:
    q = EventQueue(10, decode=_decode)
    q.put(b"a,b")
    q.put([Connected(url="u", epoch=1, at=0.0)])
    assert len(q) == 2
    first = q.get_nowait()
    assert first == [Status(status="raw", message="a"), Status(status="raw", message="b")]
    assert q.metrics.events == 2 and q.metrics.last_event == first[-1]
    assert isinstance(q.get_raw_nowait(), list)
    assert q.get_nowait() is None


async def test_queue_drop_oldest_counts_and_keeps_control_events() -> None:
    q = EventQueue(3, "drop_oldest", decode=_decode, count_events=MassiveSession.count_events)
    q.put([Connected(url="u", epoch=1, at=0.0), *_batch(2)])
    q.put(b'[{"ev":"T"},{"ev":"T"},{"ev":"T"}]')
    q.put(b'[{"ev":"Q"}]')
    q.put(b'[{"ev":"Q"}]')  # over the bound: the two oldest items go
    assert q.dropped == 5 and len(q) == 3
    marker = q.get_raw_nowait()
    assert isinstance(marker, list) and isinstance(marker[0], Connected)
    assert isinstance(marker[-1], Dropped) and marker[-1].count == 5 and marker[-1].total == 5
    q.put(marker)  # (put it back in front of a new frame to overflow with a marker queued)
    q._items.rotate(1)
    q.put(b'[{"ev":"Q"}]')  # drops the marker and the oldest frame: the marker's count carries over
    first = await q.get()
    assert first is not None and isinstance(first[0], Connected)
    assert isinstance(first[-1], Dropped) and first[-1].count == 6 and first[-1].total == 6
    assert q.dropped == 6


async def test_queue_block_pauses_and_resumes() -> None:
    calls: list[str] = []
    q = EventQueue(
        8, "block", on_pause=lambda: calls.append("pause"), on_resume=lambda: calls.append("resume")
    )
    for _ in range(10):
        q.put(_batch(2))
    assert calls == ["pause"] and q.paused and q.dropped == 0 and len(q) == 10
    while q.get_nowait() is not None:
        pass
    assert calls == ["pause", "resume"] and not q.paused


async def test_queue_disconnect_policy_calls_owner() -> None:
    calls: list[str] = []
    q = EventQueue(4, "disconnect", on_overflow_disconnect=lambda: calls.append("drop"))
    for _ in range(5):
        q.put(_batch(1))
    assert calls == ["drop"] and len(q) == 5  # nothing lost


async def test_queue_get_waits_and_close_ends() -> None:
    q = EventQueue(4)
    getter = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.put(_batch(1))
    assert len(await getter) == 1  # type: ignore[arg-type]
    getter = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.close()
    assert await getter is None


def test_queue_rejects_bad_settings() -> None:
    with pytest.raises(ConfigError):
        EventQueue(0)
    with pytest.raises(ConfigError):
        EventQueue(5, "explode")  # type: ignore[arg-type]


def test_secret_never_shows(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Secret("abc123")
    assert "abc123" not in repr(s) and "abc123" not in str(s) and "abc123" not in f"{s}"
    assert redact("key=abc123!", s) == "key=****!"
    monkeypatch.delenv("MASSIVE_API_KEY", raising=False)
    monkeypatch.setenv("POLYGON_API_KEY", "from-env")
    assert resolve_secret(None, ["MASSIVE_API_KEY", "POLYGON_API_KEY"], None) == Secret("from-env")
    monkeypatch.delenv("POLYGON_API_KEY")
    env = tmp_path / ".env"  # type: ignore[operator]
    env.write_text("MASSIVE_API_KEY=from-dotenv\n")
    assert resolve_secret(None, ["MASSIVE_API_KEY"], env) == Secret("from-dotenv")
    assert resolve_secret("explicit", ["MASSIVE_API_KEY"], env) == Secret("explicit")
    assert resolve_secret(None, ["NOPE_KEY"], None) is None
