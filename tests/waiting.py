"""Waiting helpers shared by the tests: wait on a condition, never on a fixed sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def until(predicate: Callable[[], bool], within: float = 20.0, what: str = "a condition") -> None:
    """Wait until ``predicate()`` holds (the recorder's counters have no event to wait on)."""
    try:
        async with asyncio.timeout(within):
            while not predicate():  # noqa: ASYNC110 (polling plain counters)
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {within} s waiting for {what}") from None


def poll(fetch: Callable[[], T], ready: Callable[[T], bool], within: float, interval: float = 0.2) -> T:
    """Call ``fetch()`` every ``interval`` s until ``ready`` holds for what it returned; that value.

    For tests that can only poll (another process's HTTP endpoint, counters of a thread): a
    timeout fails with the last value seen, so the failure says what state things were in."""
    give_up = time.monotonic() + within
    value = fetch()
    while not ready(value):
        if time.monotonic() >= give_up:
            raise AssertionError(f"not ready after {within} s: {value!r}")
        time.sleep(interval)
        value = fetch()
    return value
