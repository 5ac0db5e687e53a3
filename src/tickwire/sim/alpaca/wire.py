"""What the Alpaca simulator sends: msgspec Structs tagged by ``T``, encoded as JSON or msgpack.

Times are :class:`WireTime` (Unix nanoseconds). The JSON encoder writes them as RFC 3339 strings
with nine fractional digits (``2021-02-22T15:51:44.208123456Z``); the msgpack encoder as the
msgpack Timestamp extension (type -1), which alpaca-py needs (it calls ``.to_datetime()`` on
``t``). Every frame is an array: control frames of one item, data frames of one or more, built
from items encoded once (:class:`Piece`) so connections with equal subscriptions share bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

__all__ = [
    "Bar",
    "CancelError",
    "Correction",
    "CryptoQuote",
    "CryptoTrade",
    "DailyBar",
    "Encoding",
    "ErrorMsg",
    "Imbalance",
    "Item",
    "Level",
    "Luld",
    "News",
    "OptionQuote",
    "OptionTrade",
    "Orderbook",
    "Piece",
    "Quote",
    "Status",
    "Success",
    "Trade",
    "UpdatedBar",
    "WireTime",
    "control_frame",
    "encode",
    "frame",
    "frames_of",
    "rfc3339_ns",
]

Encoding = Literal["json", "msgpack"]


class WireTime:
    """A time on the wire, in Unix nanoseconds (encoded per encoding, see the module doc)."""

    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WireTime) and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(self.ns)

    def __repr__(self) -> str:
        return f"WireTime({rfc3339_ns(self.ns)})"


def rfc3339_ns(ns: int) -> str:
    """``2021-02-22T15:51:44.208123456Z`` (whole seconds: ``2021-02-22T15:51:44Z``)."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z" if frac else base + "Z"


def _timestamp_ext(ns: int) -> msgspec.msgpack.Ext:
    """The msgpack Timestamp extension (type -1): 64-bit form when it fits, else 96-bit."""
    seconds, frac = divmod(ns, 1_000_000_000)
    if 0 <= seconds < 1 << 34:
        return msgspec.msgpack.Ext(-1, struct.pack(">Q", frac << 34 | seconds))
    return msgspec.msgpack.Ext(-1, struct.pack(">Iq", frac, seconds))


def _json_hook(obj: Any) -> Any:
    if isinstance(obj, WireTime):
        return rfc3339_ns(obj.ns)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


def _msgpack_hook(obj: Any) -> Any:
    if isinstance(obj, WireTime):
        return _timestamp_ext(obj.ns)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


_JSON = msgspec.json.Encoder(enc_hook=_json_hook)
_MSGPACK = msgspec.msgpack.Encoder(enc_hook=_msgpack_hook)


def encode(obj: Any, encoding: Encoding) -> bytes:
    """One value (an item, a dict) in ``encoding``."""
    return _JSON.encode(obj) if encoding == "json" else _MSGPACK.encode(obj)


# ---------------------------------------------------------------------- items


class Item(msgspec.Struct, tag_field="T", gc=False):
    """Base of what the server sends (``T`` is the tag)."""


class Success(Item, tag="success"):
    msg: str


class ErrorMsg(Item, tag="error"):
    code: int
    msg: str


class Trade(Item, tag="t"):
    """A stock trade (spec §B5): id ``i``, exchange ``x``, conditions ``c``, tape ``z``."""

    S: str
    i: int
    x: str
    p: float
    s: float
    c: list[str]
    z: str
    t: WireTime


class CryptoTrade(Item, tag="t"):
    """A crypto trade: ``tks`` is the taker side (``B`` buy, ``S`` sell)."""

    S: str
    p: float
    s: float
    t: WireTime
    i: int
    tks: str


class OptionTrade(Item, tag="t"):
    """An option trade: OPRA exchange ``x`` and one condition ``c``."""

    S: str
    t: WireTime
    x: str
    p: float
    s: float
    c: str


class Quote(Item, tag="q", rename={"as_": "as"}):
    """A stock quote; sizes in round lots."""

    S: str
    bx: str
    bp: float
    bs: float
    ax: str
    ap: float
    as_: float
    c: list[str]
    z: str
    t: WireTime


class CryptoQuote(Item, tag="q", rename={"as_": "as"}):
    S: str
    bp: float
    bs: float
    ap: float
    as_: float
    t: WireTime


class OptionQuote(Item, tag="q", rename={"as_": "as"}):
    S: str
    t: WireTime
    bx: str
    bp: float
    bs: float
    ax: str
    ap: float
    as_: float
    c: str


class Bar(Item, tag="b"):
    """A minute bar (``b``); :class:`UpdatedBar` (``u``) and :class:`DailyBar` (``d``) share its fields."""

    S: str
    o: float
    h: float
    l: float  # noqa: E741 (the wire's name)
    c: float
    v: float
    n: int
    vw: float
    t: WireTime


class UpdatedBar(Bar, tag="u"):
    pass


class DailyBar(Bar, tag="d"):
    pass


class Status(Item, tag="s"):
    """A trading status (halt, resume...)."""

    S: str
    sc: str
    sm: str
    rc: str
    rm: str
    t: WireTime
    z: str


class Luld(Item, tag="l"):
    """A Limit Up-Limit Down band: ``u`` up, ``d`` down, ``i`` indicator."""

    S: str
    u: float
    d: float
    i: str
    t: WireTime
    z: str


class Imbalance(Item, tag="i"):
    """An order imbalance ahead of an auction: ``p`` the reference price."""

    S: str
    p: float
    z: str
    t: WireTime


class Correction(Item, tag="c"):
    """A trade correction: original (``o*``) and corrected (``c*``) id, price, size, conditions."""

    S: str
    x: str
    oi: int
    op: float
    os: float
    oc: list[str]
    ci: int
    cp: float
    cs: float
    cc: list[str]
    z: str
    t: WireTime


class CancelError(Item, tag="x"):
    """A trade cancel (``a`` ``C``) or error (``a`` ``E``)."""

    S: str
    i: int
    x: str
    p: float
    s: float
    a: str
    z: str
    t: WireTime


class Level(msgspec.Struct, gc=False):
    """One order book level; size 0 removes the level in an update."""

    p: float
    s: float


class Orderbook(Item, tag="o", omit_defaults=True):
    """A crypto order book: the whole book with ``r: true``, else the changed levels."""

    S: str
    t: WireTime
    b: list[Level]
    a: list[Level]
    r: bool = False


class News(Item, tag="n"):
    """A news article (no ``S``: ``symbols`` lists the related ones)."""

    id: int
    headline: str
    summary: str
    author: str
    created_at: WireTime
    updated_at: WireTime
    url: str
    content: str
    symbols: list[str]
    source: str


# ---------------------------------------------------------------------- frames


class Piece:
    """One data item for one (channel, symbols), encoded lazily once per encoding."""

    __slots__ = ("_json", "_msgpack", "channel", "item", "symbols", "time_ns")

    def __init__(self, channel: str, symbols: tuple[str, ...], item: Item, time_ns: int) -> None:
        self.channel = channel
        self.symbols = symbols
        self.item = item
        self.time_ns = time_ns
        self._json: bytes | None = None
        self._msgpack: bytes | None = None

    def encoded(self, encoding: Encoding) -> bytes:
        if encoding == "json":
            if self._json is None:
                self._json = encode(self.item, "json")
            return self._json
        if self._msgpack is None:
            self._msgpack = encode(self.item, "msgpack")
        return self._msgpack


def _msgpack_array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def frame(parts: Sequence[bytes], encoding: Encoding) -> bytes:
    """An array frame from items already encoded in ``encoding``."""
    if encoding == "json":
        return b"[" + b",".join(parts) + b"]"
    return _msgpack_array_header(len(parts)) + b"".join(parts)


def control_frame(item: Item | dict[str, Any], encoding: Encoding) -> bytes:
    """A control frame: an array of exactly one item."""
    return frame([encode(item, encoding)], encoding)


def frames_of(pieces: Iterable[Piece], encoding: Encoding, max_items: int) -> list[tuple[bytes, int]]:
    """``(frame, item count)`` for ``pieces`` in order, at most ``max_items`` per frame."""
    out: list[tuple[bytes, int]] = []
    batch: list[bytes] = []
    for piece in pieces:
        batch.append(piece.encoded(encoding))
        if len(batch) >= max_items:
            out.append((frame(batch, encoding), len(batch)))
            batch = []
    if batch:
        out.append((frame(batch, encoding), len(batch)))
    return out
