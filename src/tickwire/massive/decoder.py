"""Decode Massive (Polygon.io) server frames into typed events; never raise.

Theory of operation
-------------------
A server frame is a JSON array of objects, each tagged by ``ev``; one frame may mix
event types and ``status`` messages. Which class an ``ev`` means depends on the
cluster (``A`` is an equity, index or futures aggregate), so a :class:`MassiveDecoder`
is built for one cluster and holds one ``msgspec`` decoder for
``list[Union[<that cluster's classes>, Status]]``: the tag selects the class inside
msgspec's C code, so ``(cluster, ev)`` dispatch costs nothing.

*Fast path* (every well-formed frame): one ``Decoder.decode`` call, no dict, no Python
per event. ``strict=False`` already absorbs the common type drift (``"x":"44"`` for an
int, ``100.0`` for an int, numeric strings). Drift that would decode *wrongly* rather
than fail (a ticker under ``T`` where the model reads ``sym``, or the reverse; ``pair``
on a forex ``C``) is made to fail on purpose by the models' trip-wire fields, so it
reaches the slow path instead of yielding an event without its ticker.

*Slow path* (only when the fast decode raised): split the frame into raw elements
(``list[msgspec.Raw]``; a single JSON object counts as a one-element frame; anything
else is one :class:`~tickwire.events.DecodeError` for the whole frame). Then each
element on its own: the typed decode again; failing that, parse it to a dict, look up
its ``ev`` (unknown → :class:`~tickwire.events.RawEvent` with the element's bytes),
normalise known drift (``T`` ↔ ``sym``, ``pair`` → ``p``, numbers where strings are
expected and back, a scalar where a list is expected, ``null`` for a non-optional
field) and convert. What still fails becomes a ``DecodeError`` for that element only;
the good elements of the frame are returned, in order. So a well-formed JSON array
of *n* elements always yields exactly *n* events.

``errors`` counts the ``DecodeError`` events emitted and ``unknown`` the ``RawEvent``
events, so metrics see every rejected frame or element.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import msgspec
import msgspec.inspect as mi

from tickwire.events import DecodeError, Event, RawEvent, Status
from tickwire.massive.catalog import event_map
from tickwire.massive.enums import Market, parse_market

__all__ = ["MAX_ERROR_DATA", "MassiveDecoder", "encode"]

MAX_ERROR_DATA: Final = 4096
"""``DecodeError.data`` keeps at most this many bytes of the offending frame or element."""

_ENCODER: Final = msgspec.json.Encoder()
_RAW_LIST: Final = msgspec.json.Decoder(list[msgspec.Raw])
_RAW_ONE: Final = msgspec.json.Decoder(msgspec.Raw)
_ANY: Final = msgspec.json.Decoder()
_DROP: Final = object()  # _coerce's "remove this key" marker


class _Rejected(ValueError):
    """An element or frame of the wrong shape; the message is shown as is."""


_KIND: Final[Mapping[type[mi.Type], str]] = {
    mi.StrType: "str",
    mi.IntType: "int",
    mi.FloatType: "float",
    mi.BoolType: "bool",
    mi.ListType: "list",
    mi.NoneType: "none",
}


def encode(events: Event | Iterable[Event]) -> bytes:
    """Encode events as a wire frame: an iterable → JSON array, one event → JSON object.

    Market events encode with their wire names and without ``None`` fields, as the
    server sends them; used by the simulator and the tests.
    """
    if isinstance(events, Event):
        return _ENCODER.encode(events)
    return _ENCODER.encode(events if isinstance(events, list) else list(events))


class MassiveDecoder:
    """Frame → ``list[Event]`` for one Massive cluster. ``decode`` never raises.

    ``market`` is a :class:`~tickwire.massive.enums.Market` or its name; every
    futures path (``futures/cme``...) uses the futures events.
    """

    __slots__ = ("_element", "_frame", "_kinds", "decode_fast", "errors", "event_map", "market", "unknown")

    def __init__(self, market: Market | str) -> None:
        self.market: Market = parse_market(market)
        self.event_map: dict[str, type[Event]] = {**event_map(self.market), "status": Status}
        classes = tuple(dict.fromkeys(self.event_map.values()))
        union: Any = functools.reduce(operator.or_, classes)
        self._frame: msgspec.json.Decoder[list[Event]] = msgspec.json.Decoder(
            list.__class_getitem__(union), strict=False
        )
        self._element: msgspec.json.Decoder[Event] = msgspec.json.Decoder(union, strict=False)
        self.decode_fast: Callable[[Any], list[Event]] = self._frame.decode
        """The typed one-pass decode alone: raises on anything unusual (then call :meth:`decode`)."""
        self._kinds: dict[type[Event], dict[str, frozenset[str]]] = {c: _field_kinds(c) for c in classes}
        self.errors: int = 0
        """``DecodeError`` events emitted: malformed frames plus bad elements."""
        self.unknown: int = 0
        """``RawEvent`` events emitted: elements whose ``ev`` this cluster does not know."""

    def __repr__(self) -> str:
        return f"MassiveDecoder({self.market.value!r}, errors={self.errors}, unknown={self.unknown})"

    def decode(self, frame: bytes | bytearray | memoryview | str) -> list[Event]:
        """Decode one server frame. Bad input becomes ``DecodeError``/``RawEvent`` events."""
        try:
            return self._frame.decode(frame)
        except Exception:
            return self._decode_slow(frame)

    # --- slow path ------------------------------------------------------------------

    def _decode_slow(self, frame: Any) -> list[Event]:
        try:
            elements = _split(frame)
        except Exception as exc:
            self.errors += 1
            return [DecodeError(error=f"malformed frame: {_describe(exc)}", data=_snippet(frame))]
        return [self._decode_element(i, raw) for i, raw in enumerate(elements)]

    def _decode_element(self, index: int, raw: msgspec.Raw) -> Event:
        try:
            return self._element.decode(raw)
        except Exception as exc:
            first = exc
        where = f"element {index}"
        try:
            try:
                obj = _ANY.decode(raw)
            except Exception:
                raise first from None  # malformed element: the typed error names the spot
            if not isinstance(obj, dict):
                raise _Rejected(f"element is a JSON {_json_kind(obj)}, not an object")
            ev = obj.get("ev")
            if not isinstance(ev, str):
                raise _Rejected("element has no 'ev'" if ev is None else "element's 'ev' is not a string")
            where = f"element {index} (ev={ev!r})"
            cls = self.event_map.get(ev)
            if cls is None:
                self.unknown += 1
                return RawEvent(type=ev, data=bytes(raw))
            return msgspec.convert(_normalise(obj, cls, self._kinds[cls]), cls, strict=False)
        except Exception as exc:
            self.errors += 1
            return DecodeError(error=f"{where}: {_describe(exc)}", data=_snippet(raw))


def _split(frame: Any) -> list[msgspec.Raw]:
    """The frame's elements as raw JSON; a lone object is one element. Raises if neither."""
    try:
        return _RAW_LIST.decode(frame)
    except msgspec.ValidationError:  # well-formed JSON, but not an array
        raw = _RAW_ONE.decode(frame)
        if bytes(raw).lstrip()[:1] != b"{":
            raise _Rejected("expected a JSON array of events (or one event object)") from None
        return [raw]


@functools.cache  # introspection costs ~0.5 ms a class; sessions build a decoder each
def _field_kinds(cls: type[Event]) -> dict[str, frozenset[str]]:
    """Wire name → the JSON kinds its field accepts (``{"int", "none"}``...), for ``_normalise``."""
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return {f.encode_name: _kinds_of(f.type) for f in info.fields}


def _kinds_of(t: mi.Type) -> frozenset[str]:
    if isinstance(t, mi.UnionType):
        return frozenset().union(*(_kinds_of(member) for member in t.types))
    return frozenset((_KIND.get(type(t), "other"),))


def _normalise(obj: dict[str, Any], cls: type[Event], kinds: Mapping[str, frozenset[str]]) -> dict[str, Any]:
    """Repair known drift in a decoded element, in place, so ``msgspec.convert`` may accept it."""
    aliases: Mapping[str, str] = getattr(cls, "_wire_aliases", {})
    for alt, expected in aliases.items():
        if alt in obj:
            value = obj.pop(alt)
            current = obj.get(expected)
            if current is None or (isinstance(value, str) and not isinstance(current, str)):
                obj[expected] = value
    for key, value in list(obj.items()):
        accepted = kinds.get(key)
        if accepted is None:  # "ev" or a key the model does not have
            continue
        fixed = _coerce(value, accepted)
        if fixed is _DROP:
            del obj[key]
        elif fixed is not value:
            obj[key] = fixed
    return obj


def _coerce(value: Any, accepted: frozenset[str]) -> Any:
    """``value`` made acceptable to a field taking JSON kinds ``accepted``, where a lossless fix exists."""
    if value is None:
        return value if "none" in accepted else _DROP
    numeric = "int" in accepted or "float" in accepted
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if numeric:
            return value
        if "str" in accepted:
            return _ENCODER.encode(value).decode()
        if "list" in accepted:
            return [value]
        return value
    if isinstance(value, str):
        if "str" in accepted:
            return value
        if numeric:
            return _parse_number(value, accepted)
        if "list" in accepted:
            return [value]
    return value


def _parse_number(text: str, accepted: frozenset[str]) -> Any:
    """A numeric string as a number the field takes (``"1.0"`` → 1 for an int field); else unchanged."""
    try:
        number = float(text.strip())
    except ValueError:
        return text
    if "float" in accepted:
        return number
    if number.is_integer():
        try:
            return int(text.strip())
        except ValueError:
            return int(number)
    return text


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, msgspec.MsgspecError | _Rejected) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _snippet(data: Any) -> bytes:
    """At most ``MAX_ERROR_DATA`` bytes of a frame or element, whatever its type."""
    try:
        if isinstance(data, str):
            return data[:MAX_ERROR_DATA].encode("utf-8", "surrogatepass")[:MAX_ERROR_DATA]
        return bytes(memoryview(data).cast("B")[:MAX_ERROR_DATA])
    except Exception:
        return repr(data)[:MAX_ERROR_DATA].encode("utf-8", "backslashreplace")[:MAX_ERROR_DATA]
