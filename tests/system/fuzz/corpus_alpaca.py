"""Valid Alpaca frames to mutate, in both encodings, and a msgpack writer for mutated trees.

Frames come from the simulator's own feeds (every stream, JSON and msgpack: the Timestamp
extension included), from wire Struct introspection of :mod:`tickwire.alpaca.wire`, and from
hand-written control messages (``success``, ``error`` with every code, full-set ``subscription``
acks). :func:`pack` writes a mutated tree as msgpack the way :func:`~.mutate.dumps` writes JSON:
``Raw`` tokens as the value they stand for, ``Pairs`` as a map with a duplicated key, lone
surrogates as invalid UTF-8, integers past 64 bits as floats.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import struct
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
import msgspec.inspect as mi

from tickwire.alpaca.decoder import MESSAGE_TYPES as WIRE_TYPES

from .chooser import Chooser
from .mutate import ODD_STRINGS, Pairs, Raw, odd_value, rfc3339, value_for

__all__ = ["alpaca_frame", "alpaca_keys", "odd_time", "pack", "sim_frames"]

Encoding = str  # "json" | "msgpack"

ERROR_CODES: Sequence[int] = (400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 500, 0, -1, 999, 2**40)
_NOW_MS = 1_705_314_600_000 - 1_000  # a second before a minute mark: the window holds bars too


@functools.cache
def _structs() -> tuple[mi.StructType, ...]:
    out = []
    for cls in WIRE_TYPES:
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        out.append(info)
    return tuple(out)


@functools.cache
def alpaca_keys() -> tuple[str, ...]:
    """Every wire key of the Alpaca messages, for mutations that add or rename keys."""
    keys = {f.encode_name for s in _structs() for f in s.fields}
    return tuple(sorted(keys | {"T", "p", "s", "S", "t", "b", "a", "r", "msg", "code"}))


@functools.cache
def sim_frames() -> dict[Encoding, tuple[bytes, ...]]:
    """Two seconds of every simulated stream (every channel, corrections and cancels on), as the
    server frames them, in both encodings; plus a few news articles."""
    from tickwire.sim.alpaca import FEEDS, alpaca_universe
    from tickwire.sim.alpaca import wire as sim_wire
    from tickwire.sim.alpaca.stream import FeedStream, NewsDesk
    from tickwire.sim.market import MarketModel

    model = MarketModel(11, universe=alpaca_universe())
    pieces: list[list[sim_wire.Piece]] = []
    for feed in FEEDS.values():
        if feed.asset_class == "news":
            desk = NewsDesk(11, ["AAPL", "MSFT", "NVDA"], 400)
            desk.skip(_NOW_MS)
            pieces.append(desk.collect(_NOW_MS + 2_000, None))
            continue
        stream = FeedStream(feed, model, correction_rate=0.2, cancel_rate=0.2)
        stream.skip(_NOW_MS)
        wanted: dict[str, frozenset[str] | None] = dict.fromkeys(feed.channels)
        pieces.append(stream.collect(_NOW_MS + 2_000, wanted))
        snapshot = [p for s in stream.symbols[:2] if (p := stream.snapshot(s, _NOW_MS + 2_000)) is not None]
        pieces.append(snapshot)
    out: dict[Encoding, tuple[bytes, ...]] = {}
    for encoding in ("json", "msgpack"):
        frames = [f for group in pieces for f, _ in sim_wire.frames_of(group, encoding, 5)]  # type: ignore[arg-type]
        assert frames, "the simulator produced no frames"
        out[encoding] = tuple(frames)
    return out


def control_message(ch: Chooser) -> dict[str, Any]:
    """``success``, ``error`` (any code) or a ``subscription`` ack."""
    kind = ch.below(3)
    if kind == 0:
        return {"T": "success", "msg": ch.choice(("connected", "authenticated", "", "CONNECTED"))}
    if kind == 1:
        return {"T": "error", "code": ch.choice(ERROR_CODES), "msg": ch.choice(("auth failed", "", "x" * 50))}
    ack: dict[str, Any] = {"T": "subscription"}
    for name in ("trades", "quotes", "bars", "orderbooks", "corrections", "cancelErrors", "news"):
        if ch.chance(0.5):
            ack[name] = [s for s in ("AAPL", "*", "BTC/USD", "FAKEPACA") if ch.chance(0.4)]
    return ack


def alpaca_frame(ch: Chooser, encoding: Encoding) -> Any:
    """A valid Alpaca frame as fresh builtins (JSON values, or msgpack ones with ``datetime`` times)."""
    kind = ch.below(6)
    sim = sim_frames()[encoding]
    if kind <= 1:
        raw = ch.choice(sim)
        return json.loads(raw) if encoding == "json" else msgspec.msgpack.decode(raw)
    if kind == 2:
        return [control_message(ch) for _ in range(ch.integer(1, 2))]
    items: list[Any] = []
    for _ in range(ch.integer(0, 5)):
        if ch.chance(0.15):
            items.append(control_message(ch))
        else:
            items.append(wire_message(ch.choice(_structs()), ch, encoding))
    if kind == 3 and items:
        return items[0]  # a lone message, not in an array
    if kind == 4:
        items += json.loads(ch.choice(sim_frames()["json"]))
    return items


def wire_message(t: mi.StructType, ch: Chooser, encoding: Encoding) -> dict[str, Any]:
    """A message of one wire Struct: required fields always, optional ones often; the times
    (:data:`~tickwire.alpaca.wire.TimeValue` fields) as RFC 3339 text, or as msgpack Timestamps in msgpack."""
    out: dict[str, Any] = {"T": t.tag}
    for f in t.fields:
        if not (f.required or ch.chance(0.6)):
            continue
        if _is_time(f.type):
            out[f.encode_name] = _timestamp(ch) if encoding == "msgpack" and ch.chance(0.8) else rfc3339(ch)
        else:
            out[f.encode_name] = value_for(f.type, ch, f.name)
    return out


def _is_time(t: mi.Type) -> bool:
    """A time field: :data:`tickwire.alpaca.wire.TimeValue` (a union with the msgpack extension)."""
    return isinstance(t, mi.RawType) or (
        isinstance(t, mi.UnionType) and any(isinstance(m, mi.ExtType) for m in t.types)
    )


def _timestamp(ch: Chooser) -> dt.datetime:
    seconds = ch.integer(0, 4_102_444_800)
    return dt.datetime.fromtimestamp(seconds, dt.UTC) + dt.timedelta(microseconds=ch.below(10**6))


def odd_time(ch: Chooser) -> Any:
    """A time value the wire should not send: odd extensions, bytes, numbers, strings."""
    kind = ch.below(9)
    if kind == 0:
        return msgspec.msgpack.Ext(-1, ch.binary(14))  # any width
    if kind == 1:
        return msgspec.msgpack.Ext(-1, bytes(ch.below(256) for _ in range(ch.choice((4, 8, 12)))))
    if kind == 2:
        return msgspec.msgpack.Ext(ch.integer(-128, 127), ch.binary(8))
    if kind == 3:
        return ch.binary(12)
    if kind == 4:
        return ch.choice((0, -1, 2**63 - 1, -(2**63), 1.5e300, math.inf, math.nan, -0.0))
    if kind == 5:
        return ch.choice(ODD_STRINGS)
    if kind == 6:
        return rfc3339(ch)
    if kind == 7:
        return ch.choice((dt.datetime(1, 1, 1, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, tzinfo=dt.UTC)))
    return odd_value(ch, alpaca_keys())


# --- msgpack writing of mutated trees ----------------------------------------------------------

_RAW_MAX = 100  # Raw texts shorter than this are parsed as JSON; longer ones are deep nests


def pack(obj: Any) -> bytes:
    """msgpack bytes of a tree that may hold :class:`Raw`, :class:`Pairs`, duplicated keys,
    lone surrogates and integers no msgpack int can hold."""
    out = bytearray()
    _pack(obj, out)
    return bytes(out)


def _pack(obj: Any, out: bytearray) -> None:
    if isinstance(obj, Raw):
        _pack_raw(obj.text, out)
    elif isinstance(obj, dict):
        _pack_pairs([(k[1] if isinstance(k, tuple) else k, v) for k, v in obj.items()], out)
    elif isinstance(obj, Pairs):
        _pack_pairs(obj.items, out)
    elif isinstance(obj, list | tuple):
        _header(out, len(obj), 0x90, 0xDC, 0xDD, 16)
        for item in obj:
            _pack(item, out)
    elif isinstance(obj, str):
        data = obj.encode("utf-8", "surrogatepass")
        if len(data) < 32:
            out.append(0xA0 | len(data))
        else:
            _header(out, len(data), 0, 0xDA, 0xDB, 0, str8=0xD9)
        out += data
    elif isinstance(obj, bool) or obj is None:
        out += msgspec.msgpack.encode(obj)
    elif isinstance(obj, int):
        if -(2**63) <= obj < 2**64:
            out += msgspec.msgpack.encode(obj)
        else:  # no msgpack int holds it: the nearest float, or its digits
            try:
                out += msgspec.msgpack.encode(float(obj))
            except OverflowError:
                _pack(str(obj), out)
    elif isinstance(obj, Decimal):
        _pack(str(obj), out)
    else:  # float, bytes, datetime, Ext
        out += msgspec.msgpack.encode(obj)


def _pack_pairs(items: list[tuple[Any, Any]], out: bytearray) -> None:
    _header(out, len(items), 0x80, 0xDE, 0xDF, 16)
    for k, v in items:
        _pack(k, out)
        _pack(v, out)


def _header(out: bytearray, n: int, fix: int, h16: int, h32: int, fix_max: int, *, str8: int = 0) -> None:
    if n < fix_max:
        out.append(fix | n)
    elif str8 and n < 256:
        out += bytes((str8, n))
    elif n < 1 << 16:
        out.append(h16)
        out += struct.pack(">H", n)
    else:
        out.append(h32)
        out += struct.pack(">I", n)


def _pack_raw(text: str, out: bytearray) -> None:
    """A JSON token as the msgpack value it stands for; a deep nest as a deep nest."""
    if len(text) >= _RAW_MAX and text[:1] in "[{":
        depth = len(text) - len(text.lstrip("[{"))
        if text.startswith("["):
            out += b"\x91" * depth
        else:
            depth = text.count('{"k":')
            out += b"\x81\xa1k" * depth
        out += b"\x01"
        return
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = text
    _pack(value, out)
