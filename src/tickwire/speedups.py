"""tickwire's optional C pass, and whether this install has it.

``tickwire._wiretime`` (built by ``setup.py`` when a C compiler is there) makes a frame's wire
times Unix-nanosecond ints after msgspec has decoded it: an RFC 3339 string or a msgpack Timestamp
per event costs more in Python than the whole decode. It takes only the strict common forms and
stops at the first value it does not, so a decoder runs its exact Python path from there (see
``tickwire.alpaca.decoder``); the results are the same either way, only the speed differs.

``TICKWIRE_PURE_PYTHON=1`` (read at import) turns the C pass off, for comparing the two paths.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["available", "finish_times"]

FinishTimes = Callable[[list[object], type, tuple[type, ...]], int]

finish_times: FinishTimes | None = None
"""``finish_times(items, ext_type, cond_types) -> int``: each item's ``timestamp`` (a strict
RFC 3339 string, an ``ext_type`` msgpack Timestamp, or already an int) made int ns, and for items
whose type is in ``cond_types`` ``conditions`` made a list; returns how many items it finished
before the first value it left to the caller's Python path. None without the extension."""

if os.environ.get("TICKWIRE_PURE_PYTHON", "") not in ("1", "true", "yes"):
    try:
        from tickwire._wiretime import finish_times
    except ImportError:  # not compiled here: the pure Python path
        pass


def available() -> bool:
    """Whether the C pass is in use."""
    return finish_times is not None
