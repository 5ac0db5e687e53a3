"""The journal's on-disk format: segment files of length-prefixed, checksummed, numbered records.

A journal is a directory of segments named ``00000001.twj`` (open or closed) or
``00000001.twj.zst`` (closed, compressed as one zstd frame), plus ``JOURNAL_ID`` (16 hex digits
naming the journal for the sinks' watermarks). A segment is::

    file header (16 bytes):  b"TWJ1"  u16 version  u16 flags  i64 created (Unix ns)
    record* (version 2):     u32 length  u32 crc  u64 seq  i64 recv_ns  u32 epoch  u16 kind  u16 reserved
                             payload
    record* (version 1):     u32 length  u32 crc  i64 recv_ns  u32 epoch  u16 kind  u16 reserved  payload

little-endian; ``crc`` is CRC-32 of the header bytes after it plus the payload, so a torn or
bit-flipped record is detected. ``seq`` numbers the journal's records ``0, 1, 2 ...`` over its
whole life (see :mod:`.position`); version 1 segments (no ``seq``) are numbered in order by the
reader. Kinds: ``FRAME`` (a received WebSocket frame, raw bytes, never decoded on the way in),
``META`` (JSON describing the session: market, feed URL without credentials, subscriptions,
journal id; the first record of every segment so each one stands alone) and ``GAP`` (JSON: what
the writer could not keep, e.g. while the disk was full: ``lost_records``, ``lost_bytes``,
``from_ns``, ``to_ns``, ``reason``).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

__all__ = [
    "CRC_PART",
    "FILE_HEADER",
    "FRAME",
    "GAP",
    "HEADER",
    "HEADER_V1",
    "JOURNAL_ID_FILE",
    "KINDS",
    "MAGIC",
    "MAX_RECORD",
    "META",
    "SEGMENT_RE",
    "VERSION",
    "segment_name",
    "segments",
]

MAGIC = b"TWJ1"
VERSION = 2
VERSIONS = (1, 2)
FILE_HEADER = struct.Struct("<4sHHq")  # magic, version, flags, created_ns
HEADER = struct.Struct("<IIQqIHH")  # length, crc, seq, recv_ns, epoch, kind, reserved
CRC_PART = struct.Struct("<QqIHH")  # the header bytes the CRC covers (after length and crc)
LEN_CRC = struct.Struct("<II")
HEADER_V1 = struct.Struct("<IIqIHH")  # length, crc, recv_ns, epoch, kind, reserved
MAX_RECORD = 64 * 1024 * 1024
"""The largest record payload (the clients' largest WebSocket frame); a reader never buffers more
than this for one record, whatever a damaged or hostile length field says."""

FRAME = 1
META = 2
GAP = 3
KINDS = {FRAME: "frame", META: "meta", GAP: "gap"}

JOURNAL_ID_FILE = "JOURNAL_ID"
SEGMENT_RE = re.compile(r"^(\d{8})\.twj(\.zst)?$")


def segment_name(index: int, compressed: bool = False) -> str:
    """``00000042.twj`` (or ``.twj.zst``)."""
    return f"{index:08d}.twj" + (".zst" if compressed else "")


def segments(directory: Path) -> list[tuple[int, Path]]:
    """The journal's segments, oldest first; an index present both plain and compressed counts once
    (the plain file, whose compression did not finish)."""
    found: dict[int, Path] = {}
    try:
        names = [p for p in directory.iterdir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    for p in names:
        m = SEGMENT_RE.match(p.name)
        if m is None:
            continue
        index = int(m.group(1))
        if index not in found or not m.group(2):
            found[index] = p
    return sorted(found.items())
