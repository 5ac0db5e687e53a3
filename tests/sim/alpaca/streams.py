"""Running an unmodified alpaca-py ``DataStream`` in a thread, collecting what its handlers get."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alpaca.data.live.websocket import DataStream


class Running:
    """``with Running(stream) as r:`` runs ``stream.run()`` in a thread; leaving stops and joins it."""

    def __init__(self, stream: DataStream, join_timeout: float = 15.0) -> None:
        self.stream = stream
        self.join_timeout = join_timeout
        self.items: queue.Queue[Any] = queue.Queue()
        self.seen: list[Any] = []
        self._thread = threading.Thread(target=stream.run, name="alpaca-py", daemon=True)

    async def handler(self, item: Any) -> None:
        """The coroutine to pass to ``subscribe_*``: every item lands in :attr:`items`."""
        self.items.put(item)

    def __enter__(self) -> Running:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        deadline = time.monotonic() + 5
        while self.stream._loop is None and time.monotonic() < deadline:  # the loop is set once run() starts
            time.sleep(0.01)
        if self.stream._loop is not None:
            self.stream.stop()
        self._thread.join(self.join_timeout)
        assert not self._thread.is_alive(), "alpaca-py's stream did not stop"

    def wait(
        self, ready: Callable[[list[Any]], bool], within: float = 15.0, what: str = "items"
    ) -> list[Any]:
        """Collect items until ``ready(all items so far)``; all of them."""
        give_up = time.monotonic() + within
        while not ready(self.seen):
            left = give_up - time.monotonic()
            if left <= 0:
                kinds = sorted({type(i).__name__ for i in self.seen})
                raise AssertionError(f"timed out waiting for {what}; got {len(self.seen)} items: {kinds}")
            try:
                self.seen.append(self.items.get(timeout=min(left, 0.5)))
            except queue.Empty:
                pass
        return self.seen


def of_type(items: list[Any], cls: type) -> list[Any]:
    return [i for i in items if isinstance(i, cls)]
