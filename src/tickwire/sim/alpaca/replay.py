"""An Alpaca journal served by the Alpaca dialect: auth, full-set acks, the recorded items.

Theory of operation
-------------------
:class:`AlpacaReplay` is an :class:`~.server.AlpacaSimulator` (``connected``, ``auth`` with the
test key, ``subscription`` acks of the full set, every error code and fault) on the recorded
stream's path only, with no market model behind it: once a connection has subscribed to
something, a :class:`~tickwire.sim.journal_pump.JournalPump` sends it the journal's data frames.

Each recorded frame is an array of items (JSON or msgpack, as the recorder's client asked). An
item goes to a connection when its channel (``t`` → ``trades``... ; ``corrections`` and
``cancelErrors`` follow ``trades``; news by its ``symbols``) is subscribed for its symbol or
``*``; control items (``success``, ``error``, ``subscription``) are never replayed, the server
answers for itself. The connection gets the items in **its own** encoding: a frame whose items
all match, in the encoding it was recorded in, is sent byte for byte; otherwise the kept items are
reframed, and transcoded item by item when the encodings differ (times, ``t`` and the news
``created_at``/``updated_at``, become the msgpack Timestamp extension or RFC 3339 strings with
nanoseconds, exactly; every other field is carried over as is). So alpaca-py, which speaks
msgpack only, reads a JSON recording unmodified.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import msgspec

from tickwire.alpaca.wire import time_ns
from tickwire.errors import ConfigError
from tickwire.sim.alpaca import wire
from tickwire.sim.alpaca.feeds import FEEDS, Feed
from tickwire.sim.alpaca.server import AlpacaSimulator, _Conn
from tickwire.sim.alpaca.session import Request
from tickwire.sim.base import Refusal
from tickwire.sim.instruments import Universe
from tickwire.sim.journal_pump import JournalPump

__all__ = ["AlpacaReplay", "RecordedItem", "journal_feed", "pick_items", "read_items"]

CHANNEL_OF = {
    "t": "trades",
    "q": "quotes",
    "b": "bars",
    "u": "updatedBars",
    "d": "dailyBars",
    "s": "statuses",
    "l": "lulds",
    "i": "imbalances",
    "c": "trades",  # corrections follow trades
    "x": "trades",  # cancelErrors follow trades
    "o": "orderbooks",
    "n": "news",
}
"""An item's ``T`` → the subscription channel that selects it."""
TIME_FIELDS = frozenset({"t", "created_at", "updated_at"})
"""Fields holding a time: transcoded between RFC 3339 (JSON) and the msgpack Timestamp."""

_MSGPACK_ARRAY_FIRST = frozenset(range(0x90, 0xA0)) | {0xDC, 0xDD}


class _Route(msgspec.Struct, gc=False):
    """What routing needs of an item (every other field is skipped)."""

    T: str = ""
    S: str | None = None
    symbols: list[str] | None = None


_SPLIT: dict[str, Callable[[bytes], list[msgspec.Raw]]] = {
    "json": msgspec.json.Decoder(list[msgspec.Raw]).decode,
    "msgpack": msgspec.msgpack.Decoder(list[msgspec.Raw]).decode,
}
_ROUTE: dict[str, Callable[[msgspec.Raw], _Route]] = {
    "json": msgspec.json.Decoder(_Route).decode,
    "msgpack": msgspec.msgpack.Decoder(_Route).decode,
}
_FIELDS: dict[str, Callable[[bytes], dict[str, msgspec.Raw]]] = {
    "json": msgspec.json.Decoder(dict[str, msgspec.Raw]).decode,
    "msgpack": msgspec.msgpack.Decoder(dict[str, msgspec.Raw]).decode,
}
_VALUE: dict[str, Callable[[msgspec.Raw], Any]] = {
    "json": msgspec.json.Decoder().decode,
    "msgpack": msgspec.msgpack.Decoder().decode,
}


class RecordedItem(msgspec.Struct, frozen=True, gc=False):
    """One data item of a recorded frame: its channel, symbols and bytes in the recorded encoding."""

    channel: str
    symbols: tuple[str, ...]
    data: bytes


def encoding_of(frame: bytes) -> wire.Encoding | None:
    """The encoding of a recorded frame (an array), from its first byte; ``None``: neither."""
    if not frame:
        return None
    if frame[0] in _MSGPACK_ARRAY_FIRST:
        return "msgpack"
    return "json" if frame.lstrip()[:1] == b"[" else None


def read_items(frame: bytes) -> tuple[wire.Encoding | None, list[RecordedItem], bool]:
    """The encoding and data items of a recorded frame (control items, unreadable ones left out),
    and whether those are all the frame holds."""
    encoding = encoding_of(frame)
    if encoding is None:
        return None, [], False
    try:
        raws = _SPLIT[encoding](frame)
    except (msgspec.DecodeError, RecursionError):
        return encoding, [], False
    route = _ROUTE[encoding]
    items: list[RecordedItem] = []
    for raw in raws:
        try:
            r = route(raw)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            continue
        channel = CHANNEL_OF.get(r.T)
        if channel is None:
            continue
        symbols = tuple(r.symbols or ()) if channel == "news" else ((r.S,) if r.S else ())
        items.append(RecordedItem(channel, symbols, bytes(raw)))
    return encoding, items, len(items) == len(raws)


def wanted(item: RecordedItem, subs: Mapping[str, frozenset[str]]) -> bool:
    """Whether a connection subscribed to ``subs`` (channel → symbols, ``*``: all) gets ``item``."""
    symbols = subs.get(item.channel)
    if not symbols:
        return False
    return "*" in symbols or any(s in symbols for s in item.symbols)


def transcode(data: bytes, source: wire.Encoding, target: wire.Encoding) -> bytes | None:
    """One item re-encoded from ``source`` to ``target``, times exact; ``None`` if it cannot be."""
    if source == target:
        return data
    binary = source == "msgpack"
    value = _VALUE[source]
    try:
        fields = _FIELDS[source](data)
        out: dict[str, Any] = {}
        for key, raw in fields.items():
            if key in TIME_FIELDS:
                try:
                    out[key] = wire.WireTime(time_ns(raw, binary))
                    continue
                except (ValueError, msgspec.DecodeError):
                    pass
            out[key] = value(raw)
        return wire.encode(out, target)
    except (msgspec.DecodeError, msgspec.ValidationError, NotImplementedError, TypeError, RecursionError):
        return None


def pick_items(
    frame: bytes, subs: Mapping[str, frozenset[str]], target: wire.Encoding
) -> tuple[bytes | None, int]:
    """The frame a connection with ``subs`` speaking ``target`` gets of one recorded frame, and how
    many items it holds: the frame itself when every item matches in its own encoding, else the
    matching items reframed (transcoded if need be); ``(None, 0)`` when nothing matches."""
    source, items, whole = read_items(frame)
    if source is None:
        return None, 0
    kept = [item for item in items if wanted(item, subs)]
    if not kept:
        return None, 0
    if source == target:
        if whole and len(kept) == len(items):
            return frame, len(kept)
        return wire.frame([item.data for item in kept], target), len(kept)
    parts = [p for item in kept if (p := transcode(item.data, source, target)) is not None]
    if not parts:
        return None, 0
    return wire.frame(parts, target), len(parts)


def journal_feed(market: str | None) -> Feed:
    """The Alpaca stream a journal recorded (its meta ``market``: ``iex``, ``crypto``, ``opra``...)."""
    name = market or "iex"
    found = FEEDS.get(name)
    if found is None:
        raise ConfigError(f"an Alpaca journal records one of {', '.join(FEEDS)}, not {name!r}")
    return found


class AlpacaReplay(AlpacaSimulator):
    """Serves one recorded Alpaca stream (its path only) from ``pump``; the data is the journal's.

    There is no connection limit (every client gets the whole recording) and no market model:
    a new ``orderbooks`` subscriber gets the recorded books, not a simulated snapshot.
    """

    def __init__(
        self,
        pump: JournalPump,
        feed: Feed,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keys: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("max_connections", None)
        options.setdefault("reap_window", 0.0)
        super().__init__(
            host=host, port=port, keys=keys, universe=Universe([]), news_interval=None, **options
        )
        self.pump = pump
        self.feed = feed

    def _loops(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        return []  # no market model: the data is the journal's

    def _resolve(self, path: str) -> str | Refusal:
        if path.split("?", 1)[0] != self.feed.path:
            return Refusal(
                404, f"this replay serves the {self.feed.name} stream only: {self.feed.path}".encode()
            )
        return self.feed.name

    def _change(self, conn: _Conn, req: Request) -> None:
        super()._change(conn, req)
        if conn.current and conn.task is None and conn.live:
            conn.task = asyncio.get_running_loop().create_task(
                self.pump.stream(
                    conn,
                    lambda frame: _picked(pick_items(frame, conn.current, conn.encoding)),
                    lambda frame, n: self._send_replayed(conn, frame, n),
                    lambda: self._paused,
                    lambda: self._close(conn, 1000, ""),
                ),
                name=f"tickwire-alpaca-replay-{conn.id}",
            )

    def _send_replayed(self, conn: _Conn, frame: bytes, n: int) -> bool:
        if not self._send(conn, frame):
            return False
        conn.events_sent += n
        counters = self._counters
        counters.frames_sent += 1
        counters.events_sent += n
        counters.bytes_sent += len(frame)
        return True


def _picked(result: tuple[bytes | None, int]) -> list[tuple[bytes, int]]:
    frame, n = result
    return [] if frame is None else [(frame, n)]
