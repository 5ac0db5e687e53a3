"""How a raising user handler is logged: its traceback once, then a count at most every ``interval``.

A handler that fails on every event would otherwise print a full traceback per event (thousands a
second), burying everything else and slowing the stream it is meant to survive.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["HandlerFailures"]

_MAX_KEYS = 256


class HandlerFailures:
    """Rate-limited reports of handler failures, per (handler, exception type)."""

    def __init__(
        self, logger: logging.Logger, interval: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.log = logger
        self.interval = interval
        self.clock = clock
        self._seen: OrderedDict[tuple[Any, type[BaseException]], list[float]] = OrderedDict()
        """Per key: [failures not yet reported, time of the last report]."""

    def failed(self, fn: object, event_type: str, exc: BaseException) -> None:
        try:
            key: tuple[Any, type[BaseException]] = (fn, type(exc))
            hash(key)
        except TypeError:  # an unhashable callable object
            key = (id(fn), type(exc))
        now = self.clock()
        entry = self._seen.get(key)
        if entry is None:
            self._seen[key] = [0, now]
            if len(self._seen) > _MAX_KEYS:
                self._seen.popitem(last=False)
            self.log.error(
                "handler %r failed on a %s event (the stream goes on; further %s failures of this "
                "handler are counted, one line every %g s)",
                fn,
                event_type,
                type(exc).__name__,
                self.interval,
                exc_info=exc,
            )
            return
        entry[0] += 1
        if now - entry[1] >= self.interval:
            self.log.error(
                "handler %r failed %d more times in %.0f s (last on a %s event: %s: %s)",
                fn,
                int(entry[0]),
                now - entry[1],
                event_type,
                type(exc).__name__,
                exc,
            )
            entry[0], entry[1] = 0, now
