"""Shared helpers of the storage tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(predicate: Callable[[], bool], within: float = 20.0, what: str = "a condition") -> None:
    """Wait until ``predicate()`` holds (the recorder's counters have no event to wait on)."""
    try:
        async with asyncio.timeout(within):
            while not predicate():  # noqa: ASYNC110 (polling plain counters)
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {within} s waiting for {what}") from None
