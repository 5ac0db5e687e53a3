"""tickwire's optional C code, and whether this install has it.

Both modules are built by ``setup.py`` when a C compiler is there; without them tickwire runs the
same pure Python code, with the same results, only slower.

* ``tickwire._wiretime`` makes a frame's wire times Unix-nanosecond ints after msgspec has decoded
  it: an RFC 3339 string or a msgpack Timestamp per event costs more in Python than the whole
  decode. It takes only the strict common forms and stops at the first value it does not, so a
  decoder runs its exact Python path from there (see ``tickwire.alpaca.decoder``).
* ``tickwire._hotpath`` holds the stream engine's three innermost steps: picows' ``on_ws_frame``
  for a complete data frame (:data:`FrameReader`), the step of ``async for`` and ``batches()``
  over the drain loop (:data:`Flatten`), and the call of an event type's one plain handler
  (:data:`dispatch_single`). Each does what the Python code beside it does for the common case
  and hands every other case to it. The frame reader reads picows' ``WSFrame`` from its C
  struct, so it is used only when that layout checks out against the Python attributes here.

``TICKWIRE_PURE_PYTHON=1`` (read at import) turns all of it off, for comparing the two paths.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import Any

__all__ = ["Flatten", "FrameReader", "available", "dispatch_single", "finish_times", "hot_path"]

FinishTimes = Callable[[list[object], type, tuple[type, ...]], int]

finish_times: FinishTimes | None = None
"""``finish_times(items, ext_type, cond_types) -> int``: each item's ``timestamp`` (a strict
RFC 3339 string, an ``ext_type`` msgpack Timestamp, or already an int) made int ns, and for items
whose type is in ``cond_types`` ``conditions`` made a list; returns how many items it finished
before the first value it left to the caller's Python path. None without the extension."""

FrameReader: Callable[..., Any] | None = None
"""``FrameReader(slow, session, queue, metrics, frame_type, probe, max_size, tapless)``: a picows
``on_ws_frame`` that queues a complete data frame raw in C and calls ``slow(transport, frame)``
for every other frame. None without the extension or when picows' frame layout does not check out."""

Flatten: Callable[[AsyncIterator[list[list[Any]]], int], AsyncIterator[Any]] | None = None
"""``Flatten(source, depth)``: the items (depth 2: events; 1: batches) of the lists of lists
``source`` yields, as an async iterator that returns a buffered item without a generator step."""

DispatchSingle = Callable[..., tuple[int, int, Any] | None]
dispatch_single: DispatchSingle | None = None
"""``dispatch_single(batches, single, b, e[, first]) -> None | (b, e, what)``: see ``tickwire._hotpath``
(``first``, if given, is passed before each event: ``single[type(ev)](first, ev)``)."""


def _frame_layout_checks(frame_fields: Callable[[object], tuple[bytes, int, int]]) -> bool:
    """Whether the C struct the frame reader reads is picows' ``WSFrame`` as installed: the fields
    read from C equal the Python attributes on frames made by picows' own test constructor."""
    try:
        from picows import picows as pw

        make = pw._make_test_ws_frame
        for kind, payload, fin in (
            (pw.WSMsgType.TEXT, b'[{"ev":"T"}]', True),
            (pw.WSMsgType.BINARY, bytes(range(256)) * 3, False),
            (pw.WSMsgType.PING, b"", True),
        ):
            frame = make(kind, payload, fin, False)
            got = frame_fields(frame)
            if got != (frame.get_payload_as_bytes(), frame.msg_type.value, int(frame.fin)):
                return False
            if got != (payload, kind.value, int(fin)):
                return False
        return True
    except Exception:  # an older or newer picows: the Python reader
        return False


if os.environ.get("TICKWIRE_PURE_PYTHON", "") not in ("1", "true", "yes"):
    try:
        from tickwire._wiretime import finish_times
    except ImportError:  # not compiled here: the pure Python path
        pass
    try:
        from tickwire._hotpath import Flatten as Flatten
        from tickwire._hotpath import FrameReader as _FrameReader
        from tickwire._hotpath import dispatch_single, frame_fields
    except ImportError:
        pass
    else:
        if _frame_layout_checks(frame_fields):
            FrameReader = _FrameReader


def available() -> bool:
    """Whether the C wire-time pass is in use."""
    return finish_times is not None


def hot_path() -> dict[str, bool]:
    """Which of the engine's C steps are in use (all False under ``TICKWIRE_PURE_PYTHON=1``)."""
    return {
        "frame_reader": FrameReader is not None,
        "flatten": Flatten is not None,
        "dispatch_single": dispatch_single is not None,
    }
