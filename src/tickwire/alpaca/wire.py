"""Alpaca's wire: the messages that are not market data as msgspec Structs (tagged by ``T``, the
wire's key names), and the wire's times.

Market data decodes straight into the events of :mod:`tickwire.alpaca.models` (their fields are
encoded under the wire keys). msgspec reads JSON and msgpack alike, and every time field is a
:data:`TimeValue` that :func:`time_of` reads exactly (an RFC 3339 string with nanoseconds in JSON;
a msgpack Timestamp extension, kept as its raw :class:`msgspec.msgpack.Ext` because msgspec's own
``datetime`` stops at microseconds, or a string, in msgpack). News and the control messages are
turned into events by the decoder.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import ClassVar

import msgspec

from tickwire.events import timestamp_to_ns

__all__ = ["Conditions", "TimeValue", "parse_rfc3339_ns", "time_ns", "time_of"]

TimeValue = msgspec.msgpack.Ext | str | int | float | None
"""A wire time as decoded, before :func:`time_of` makes it Unix ns."""
Conditions = list[str] | str | None
"""Trade or quote conditions as sent: a list, one string (options) or null."""


class _W(msgspec.Struct, tag_field="T", gc=False):
    """Base of wire messages. ``timestamp`` (not a field) lets the decoder's pass over a frame read
    every message's time alike: these carry none to convert."""

    timestamp: ClassVar[int] = 0


class WNews(_W, tag="n"):
    id: int
    headline: str = ""
    summary: str = ""
    author: str = ""
    content: str = ""
    url: str | None = None
    source: str = ""
    symbols: list[str] = msgspec.field(default_factory=list)
    created_at: TimeValue = None
    updated_at: TimeValue = None


class WSuccess(_W, tag="success"):
    msg: str = ""


class WError(_W, tag="error"):
    code: int = 0
    msg: str = ""


class WSubscription(_W, tag="subscription"):
    trades: list[str] | None = None
    quotes: list[str] | None = None
    bars: list[str] | None = None
    updatedBars: list[str] | None = None
    dailyBars: list[str] | None = None
    statuses: list[str] | None = None
    lulds: list[str] | None = None
    imbalances: list[str] | None = None
    corrections: list[str] | None = None
    cancelErrors: list[str] | None = None
    orderbooks: list[str] | None = None
    news: list[str] | None = None


class WTagOnly(msgspec.Struct, gc=False):
    """Just the type of an item (to tell an unknown type from a malformed known one)."""

    T: str | None = None


SUBSCRIPTION_FIELDS = tuple(f for f in WSubscription.__struct_fields__)


# ---------------------------------------------------------------------------- times

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_FRACTION = re.compile(rb"\.([0-9]*)")
_SECONDS: dict[bytes, int | None] = {}  # the whole-second part of recent times (frames share it)
_SECONDS_MAX = 4096
_MSGPACK_STR = msgspec.msgpack.Decoder(str | int | float | None)
_JSON_STR = msgspec.json.Decoder(str | int | float | None)


def parse_rfc3339_ns(text: bytes | str) -> int | None:
    """``2021-02-22T15:51:44.208123456Z`` (any offset; naive means UTC) in Unix ns; None if bad."""
    try:
        raw = text.encode() if isinstance(text, str) else text
    except UnicodeEncodeError:  # a lone surrogate: no time
        return None
    raw = raw.strip()
    if not raw:
        return None
    frac_ns = 0
    dot = raw.find(b".")
    if dot >= 0:
        m = _FRACTION.match(raw, dot)
        assert m is not None  # matches any "."
        digits = m.group(1)
        frac_ns = int((digits + b"000000000")[:9]) if digits else 0
        raw = raw[:dot] + raw[m.end() :]
    seconds = _SECONDS.get(raw, -1)
    if seconds == -1:
        seconds = _unix_seconds(raw)
        if len(_SECONDS) >= _SECONDS_MAX:
            _SECONDS.clear()
        _SECONDS[raw] = seconds
    return None if seconds is None else seconds * 1_000_000_000 + frac_ns


def _unix_seconds(raw: bytes) -> int | None:
    try:
        moment = _dt.datetime.fromisoformat(raw.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    delta = moment - _EPOCH
    return delta.days * 86_400 + delta.seconds


_SECOND_NS: dict[str, int | None] = {}  # "YYYY-MM-DDTHH:MM:SS" → Unix ns of that second (or None)
_FRACTION_SCALE = tuple(10 ** (9 - n) for n in range(10))
_Ext = msgspec.msgpack.Ext


def time_of(value: TimeValue) -> int:
    """A decoded wire time in Unix ns: an RFC 3339 string, a msgpack Timestamp extension (all three
    widths) or a number of any Unix unit; 0 when absent; :class:`ValueError` when unreadable.

    The usual string, ``2024-01-02T15:04:05.123456789Z``, takes a fast path: its whole second is
    looked up (frames share it) and only the fraction is read."""
    if type(value) is str:
        if len(value) > 20 and value[19] == "." and value[-1] == "Z":
            frac: str = value[20:-1]
            if len(frac) <= 9 and frac.isdigit() and frac.isascii():
                head: str = value[:19]
                second = _SECOND_NS.get(head, -1)
                if second == -1:
                    got = _unix_seconds(head.encode())
                    second = None if got is None else got * 1_000_000_000
                    if len(_SECOND_NS) >= _SECONDS_MAX:
                        _SECOND_NS.clear()
                    _SECOND_NS[head] = second
                if second is not None:
                    ns: int = second + int(frac) * _FRACTION_SCALE[len(frac)]
                    return ns
        return _checked(parse_rfc3339_ns(value), value.encode("utf-8", "replace"))
    if value is None:
        return 0
    if type(value) is _Ext:
        return _timestamp_ext(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a time: {value!r:.40}")
    got = timestamp_to_ns(value)
    return 0 if got is None else got


def _timestamp_ext(ext: msgspec.msgpack.Ext) -> int:
    """A msgpack Timestamp (extension -1) in Unix ns."""
    raw = ext.data
    data = raw if type(raw) is bytes else bytes(raw)  # decoded: bytes; made by hand: any buffer
    if ext.code == -1:
        n = len(data)
        if n == 8:  # timestamp 64: 30-bit ns, 34-bit s
            v = int.from_bytes(data, "big")
            return (v & 0x3_FFFF_FFFF) * 1_000_000_000 + (v >> 34)
        if n == 4:  # timestamp 32: seconds
            return int.from_bytes(data, "big") * 1_000_000_000
        if n == 12:  # timestamp 96
            return int.from_bytes(data[4:], "big", signed=True) * 1_000_000_000 + int.from_bytes(
                data[:4], "big"
            )
    raise ValueError(f"not a time: msgpack extension {ext.code} of {len(data)} bytes")


def time_ns(raw: msgspec.Raw, binary: bool) -> int:
    """A wire time in Unix ns, from a msgpack frame (``binary``) or a JSON one: a msgpack Timestamp
    (all three widths), an RFC 3339 string (either encoding) or a number of any Unix unit. 0 when
    absent; :class:`ValueError` when unreadable."""
    b = bytes(raw)
    if not b:
        return 0
    first = b[0]
    if not binary and first == 0x22 and b.find(b"\\") < 0:  # a JSON string without escapes
        return _checked(parse_rfc3339_ns(b[1:-1]), b)
    if binary:
        if first == 0xD7 and len(b) == 10 and b[1] == 0xFF:  # timestamp 64: 30-bit ns, 34-bit s
            v = int.from_bytes(b[2:10], "big")
            return (v & 0x3_FFFF_FFFF) * 1_000_000_000 + (v >> 34)
        if first == 0xD6 and len(b) == 6 and b[1] == 0xFF:  # timestamp 32: seconds
            return int.from_bytes(b[2:6], "big") * 1_000_000_000
        if first == 0xC7 and len(b) == 15 and b[1] == 12 and b[2] == 0xFF:  # timestamp 96
            nanos = int.from_bytes(b[3:7], "big")
            return int.from_bytes(b[7:15], "big", signed=True) * 1_000_000_000 + nanos
        value = _MSGPACK_STR.decode(b)
    else:
        value = _JSON_STR.decode(b)
    if value is None:
        return 0
    if isinstance(value, str):
        return _checked(parse_rfc3339_ns(value), b)
    if isinstance(value, bool):
        raise ValueError(f"not a time: {b[:40]!r}")
    got = timestamp_to_ns(value)
    return 0 if got is None else got


def _checked(got: int | None, raw: bytes) -> int:
    if got is None:
        raise ValueError(f"not an RFC 3339 time: {raw[:40]!r}")
    return got
