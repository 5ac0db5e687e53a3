"""The bounded queue between the socket reader and user code: decoding on take, overflow policies."""

from __future__ import annotations

import asyncio

import pytest

from tickwire.errors import ConfigError
from tickwire.events import Connected, Dropped, Event, Status
from tickwire.stream.queue import EventQueue, FrameEvents


def _count_ev(frame: bytes) -> int:
    """Events in a raw frame, the way a provider counts them (one ``"ev"`` key each)."""
    return frame.count(b'"ev"')


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
    q = EventQueue(3, "drop_oldest", decode=_decode, count_events=_count_ev)
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


async def test_the_byte_bound_pauses_block_before_the_item_bound() -> None:
    calls: list[str] = []
    q = EventQueue(
        1_000,
        max_bytes=1_000,
        decode=_decode,
        on_pause=lambda: calls.append("pause"),
        on_resume=lambda: calls.append("resume"),
    )
    for _ in range(4):
        q.put(b"x" * 300)  # the fourth frame takes it over 1,000 bytes: 4 items of 1,000 allowed
    assert calls == ["pause"] and q.paused and q.bytes == 1_200
    q.drain(max_events=2)
    assert q.bytes == 600 and q.paused  # above a quarter of the byte bound: still paused
    q.drain(max_events=2)
    assert q.bytes == 0 and calls == ["pause", "resume"] and q.paused_lately()
    assert q.peak_bytes == 1_200


async def test_the_byte_bound_sheds_oldest_frames_and_counts_them() -> None:
    q = EventQueue(1_000, "drop_oldest", max_bytes=100, decode=_decode, count_events=_count_ev)
    frame = b'[{"ev":"T"},{"ev":"T"}]'.ljust(40)  # 40 bytes, 2 events
    for _ in range(5):
        q.put(frame)
    assert q.dropped == 6 and q.bytes <= 100  # three frames shed (6 events), a marker in front
    marker = q.get_raw_nowait()
    assert isinstance(marker, list) and isinstance(marker[-1], Dropped) and marker[-1].count == 6
    assert q.bytes == 80 and len(q) == 2


async def test_bytes_are_accounted_on_every_way_out() -> None:
    q = EventQueue(100, decode=_decode)
    q.put(b"a,b")
    q.put(FrameEvents([Status(status="s", message="m")], b"0123456789"))
    q.put([Connected(url="u", epoch=1, at=0.0)])  # control events count no bytes
    assert q.bytes == 13
    assert q.get_raw_nowait() == b"a,b" and q.bytes == 10
    assert len(q.drain_raw()) == 2 and q.bytes == 0
    with pytest.raises(ConfigError):
        EventQueue(10, max_bytes=0)


def test_drain_raw_takes_about_max_bytes_and_always_one_item() -> None:
    q = EventQueue(100, decode=lambda f: [])
    for _ in range(10):
        q.put_frame(b"x" * 400)
    assert len(q.drain_raw(100, max_bytes=1000)) == 3  # 1,200 bytes: the one that crosses it too
    assert q.bytes == 7 * 400
    assert len(q.drain_raw(2, max_bytes=10_000)) == 2  # the item cap holds as well
    q.put_frame(b"y" * 5000)
    got = q.drain_raw(100, max_bytes=100)
    assert got == [b"x" * 400]  # at least one item, even over the bound
    assert len(q.drain_raw(100)) == 5 and q.bytes == 0
