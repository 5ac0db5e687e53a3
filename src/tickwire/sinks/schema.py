"""Events → tables: one table per (market, event kind), typed columns derived from the event Structs.

A table is named ``<market>_<kind>`` (``stocks_trades``, ``stocks_aggs_minute``, ``crypto_quotes``,
``forex_aggs_second``, ``indices_values``...); its columns are the event's attributes as the
official client names them (``price``, ``size``, ``sequence_number``...; ``pair`` is called
``symbol`` everywhere), plus ``ts``, the event's own time (a UTC timestamp, nanoseconds). Types
come from the Struct annotations: integers, doubles, text, booleans, integer lists
(``conditions``), and JSON text for nested values (level-2 books). Events of unknown types
(``RawEvent``) go to ``<market>_unknown`` as JSON, so nothing is dropped.

Conversion is columnar (one ``map(attrgetter)`` per column), because per-field Python
code per event would cap the embedded sinks well below the stream's rate.
"""

from __future__ import annotations

import hashlib
import operator
import re
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from tickwire.events import Event, RawEvent, timestamp_to_ns
from tickwire.massive.enums import Market, parse_market
from tickwire.massive.models import MARKET_EVENT_MAP, MassiveEvent

__all__ = [
    "Column",
    "ColumnType",
    "TableSpec",
    "columns_of",
    "event_id",
    "group_by_table",
    "table_for",
    "tables_for_market",
]

ColumnType = Literal["int", "float", "str", "bool", "ints", "json", "ts"]

_KIND_NAMES = {
    "T": "trades",
    "XT": "trades",
    "Q": "quotes",
    "XQ": "quotes",
    "C": "quotes",
    "A": "aggs_second",
    "XAS": "aggs_second",
    "CAS": "aggs_second",
    "AM": "aggs_minute",
    "XA": "aggs_minute",
    "CA": "aggs_minute",
    "V": "values",
    "LULD": "luld",
    "NOI": "imbalances",
    "FMV": "fmv",
    "LV": "launchpad_values",
    "XL2": "books",
}

_ENCODE = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    mixed: bool = False  # text that may arrive as a number (``id: int | str``): converted


@dataclass(frozen=True)
class TableSpec:
    """A table: its name, columns, and how to take them from one event class."""

    name: str
    market: str
    ev: str
    columns: tuple[Column, ...]
    cls: type[Event]
    fields: tuple[str, ...]  # attribute names, for columns[1:-1] (after ev, before ts)
    time_attr: str | None

    @property
    def getters(self) -> tuple[Callable[[Any], Any], ...]:
        return tuple(operator.attrgetter(f) for f in self.fields)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _column_type(tp: Any) -> ColumnType:
    args = [a for a in typing.get_args(tp) if a is not type(None)] if _is_union(tp) else [tp]
    if len(args) == 1:
        (a,) = args
        if a is int:
            return "int"
        if a is float:
            return "float"
        if a is str:
            return "str"
        if a is bool:
            return "bool"
        if typing.get_origin(a) is list and typing.get_args(a) == (int,):
            return "ints"
        return "json"
    if set(args) == {int, float}:
        return "float"
    if str in args:
        return "str"
    return "json"


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


_SPECS: dict[tuple[str, type[Event]], TableSpec] = {}


def table_for(market: Market | str, cls: type[Event]) -> TableSpec:
    """The table spec of an event class on a market (cached)."""
    m = parse_market(market).value if not isinstance(market, str) or market not in _FAMILIES else market
    key = (m, cls)
    spec = _SPECS.get(key)
    if spec is None:
        spec = _SPECS[key] = _build(m, cls)
    return spec


_FAMILIES = {"stocks", "options", "indices", "futures", "crypto", "forex"}


def _family(market: str) -> str:
    return "futures" if market.startswith("futures") else market


def _build(market: str, cls: type[Event]) -> TableSpec:
    family = _family(market)
    if cls is RawEvent:
        raw = (Column("ev", "str"), Column("type", "str"), Column("data", "json"), Column("ts", "ts"))
        return TableSpec(f"{family}_unknown", family, "raw", raw, cls, ("type", "data"), None)
    ev = str(cls.__struct_config__.tag)
    kind = _KIND_NAMES.get(ev, re.sub(r"[^a-z0-9]+", "_", ev.lower()))
    if ev == "AM" and family in ("crypto", "forex"):
        kind = "launchpad_aggs_minute"
    fields = msgspec.structs.fields(cls)
    cols: list[Column] = [Column("ev", "str")]
    names: list[str] = []
    for f in fields:
        if f.name.startswith("_"):
            continue
        name = "symbol" if f.name == "pair" else f.name
        ctype = _column_type(f.type)
        mixed = ctype == "str" and f.type not in (str, str | None)
        cols.append(Column(name, ctype, mixed))
        names.append(f.name)
    cols.append(Column("ts", "ts"))
    time_attr = getattr(cls, "_time_attr", None)
    return TableSpec(f"{family}_{kind}", family, ev, tuple(cols), cls, tuple(names), time_attr)


def tables_for_market(market: Market | str) -> list[TableSpec]:
    """Every table a market's events can go to."""
    m = parse_market(market).value
    classes = dict.fromkeys(MARKET_EVENT_MAP[_family(m)].values())
    return [table_for(m, c) for c in classes]


def group_by_table(market: str, events: Iterable[Event]) -> dict[TableSpec, list[Event]]:
    """Split a batch by table (market events and unknown events; control events are skipped)."""
    groups: dict[type[Event], list[Event]] = {}
    for ev in events:
        cls = type(ev)
        lst = groups.get(cls)
        if lst is None:
            if not (issubclass(cls, MassiveEvent) or cls is RawEvent):
                continue
            lst = groups[cls] = []
        lst.append(ev)
    out: dict[TableSpec, list[Event]] = {}
    for cls, evs in groups.items():
        spec = table_for(market, cls)
        if spec in out:
            out[spec].extend(evs)
        else:
            out[spec] = evs
    return out


def columns_of(spec: TableSpec, events: Sequence[Event], *, ts: bool = True) -> dict[str, list[Any]]:
    """The events as columns (Python lists) in the spec's order; text columns made text, nested
    values JSON; ``ts`` (Unix ns) unless ``ts=False`` (the Arrow path computes it vectorised).
    Integers in float columns are left as they are (every consumer converts them)."""
    n = len(events)
    out: dict[str, list[Any]] = {"ev": [spec.ev] * n}
    if spec.cls is RawEvent:
        raws = typing.cast(Sequence[RawEvent], events)
        out["type"] = [r.type for r in raws]
        out["data"] = [bytes(r.data).decode("utf-8", "replace") for r in raws]
        out["ts"] = [None] * n
        return out
    for col, getter in zip(spec.columns[1:-1], spec.getters, strict=True):
        values = list(map(getter, events))
        if col.mixed:
            values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        elif col.type == "json":
            values = [None if v is None else _ENCODE(v).decode() for v in values]
        out[col.name] = values
    attr = spec.time_attr
    if not ts:
        return out
    if attr is not None:
        to_ns = timestamp_to_ns
        out["ts"] = [to_ns(v) for v in map(operator.attrgetter(attr), events)]
    else:
        out["ts"] = [None] * n
    return out


def event_id(ev: Event) -> str:
    """A stable id of an event's content (16 hex digits): equal events, equal ids. Used to make
    re-delivery idempotent (PostgreSQL primary key, Redis de-duplication, NATS ``Nats-Msg-Id``)."""
    return hashlib.blake2b(_ENCODE(ev), digest_size=8).hexdigest()
