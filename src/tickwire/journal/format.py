"""The journal's on-disk format: segment files of length-prefixed, checksummed records.

A journal is a directory of segments named ``00000001.twj`` (open or closed) or
``00000001.twj.zst`` (closed, compressed as one zstd frame). A segment is::

    file header (16 bytes):  b"TWJ1"  u16 version  u16 flags  i64 created (Unix ns)
    record*:                 u32 length  u32 crc  i64 recv_ns  u32 epoch  u16 kind  u16 reserved  payload

little-endian; ``crc`` is CRC-32 of the 16 header bytes after it plus the payload, so a torn or
bit-flipped record is detected. Kinds: ``FRAME`` (a received WebSocket frame, raw bytes, never
decoded on the way in) and ``META`` (JSON describing the session: market, feed URL without
credentials, subscriptions; written at the start of every segment so each one stands alone).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

__all__ = [
    "FILE_HEADER",
    "FRAME",
    "HEADER",
    "KINDS",
    "MAGIC",
    "META",
    "SEGMENT_RE",
    "VERSION",
    "segment_name",
    "segments",
]

MAGIC = b"TWJ1"
VERSION = 1
FILE_HEADER = struct.Struct("<4sHHq")  # magic, version, flags, created_ns
HEADER = struct.Struct("<IIqIHH")  # length, crc, recv_ns, epoch, kind, reserved
CRC_PART = struct.Struct("<qIHH")  # the header bytes the CRC covers (after length and crc)
MAX_RECORD = 1 << 30

FRAME = 1
META = 2
KINDS = {FRAME: "frame", META: "meta"}

SEGMENT_RE = re.compile(r"^(\d{8})\.twj(\.zst)?$")


def segment_name(index: int, compressed: bool = False) -> str:
    """``00000042.twj`` (or ``.twj.zst``)."""
    return f"{index:08d}.twj" + (".zst" if compressed else "")


def segments(directory: Path) -> list[tuple[int, Path]]:
    """The journal's segments, oldest first; an index present both plain and compressed counts once
    (the plain file, whose compression did not finish)."""
    found: dict[int, Path] = {}
    if not directory.is_dir():
        return []
    for p in directory.iterdir():
        m = SEGMENT_RE.match(p.name)
        if m is None:
            continue
        index = int(m.group(1))
        if index not in found or not m.group(2):
            found[index] = p
    return sorted(found.items())
