"""Keep freed heap for the next burst of frames instead of handing it back to the OS.

The reader copies every data frame out of picows' buffer (the consumer decodes it later), so a
burst of frames allocates and frees megabytes in a few milliseconds. glibc returns the top of the
heap to the OS as soon as more than 128 KiB of it is free (``M_TRIM_THRESHOLD``), and the next
burst faults those pages in again: on a virtual machine that made each 5 KB frame cost 2.5 µs to
copy instead of 0.17 µs, a third of the client's time at 50 events per frame. Raising
``M_TOP_PAD`` keeps that much slack at the top of the heap (RSS stays up to that much higher).

Process-wide and done once, when the first stream starts; glibc only (elsewhere nothing happens).
``TICKWIRE_HEAP_PAD`` sets the pad in bytes (``0``: leave malloc alone).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

__all__ = ["DEFAULT_PAD", "keep_heap"]

log = logging.getLogger("tickwire.stream")

DEFAULT_PAD = 4 << 20
"""Bytes of freed heap glibc keeps (``M_TOP_PAD``): a few hundred frames' worth."""

_M_TOP_PAD = -2  # glibc <malloc.h>
_done: list[int] = []


def keep_heap(pad: int | None = None) -> int:
    """Set glibc's ``M_TOP_PAD`` to ``pad`` bytes (default :data:`DEFAULT_PAD`, or
    ``$TICKWIRE_HEAP_PAD``), once per process; the pad in force (0 when nothing was set)."""
    if _done:
        return _done[0]
    if pad is None:
        raw = os.environ.get("TICKWIRE_HEAP_PAD", "")
        pad = int(raw) if raw.isdigit() else DEFAULT_PAD
    got = 0
    if pad > 0 and sys.platform.startswith("linux"):
        try:
            mallopt = ctypes.CDLL(None).mallopt  # glibc; musl has no mallopt
            mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
            mallopt.restype = ctypes.c_int
            got = min(pad, 2**31 - 1) if mallopt(_M_TOP_PAD, min(pad, 2**31 - 1)) == 1 else 0
        except (AttributeError, OSError):
            got = 0
    _done.append(got)
    if got:
        log.debug("malloc top pad set to %d bytes", got)
    return got
