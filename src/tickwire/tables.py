"""Events → tables, for any provider: typed columns, a natural key, and where each event is routed.

A provider describes its storage with a :class:`TableRegistry` (``Provider.tables(market)``): which
:class:`TableSpec` an event class is stored in (``None``: not stored, e.g. control events), every
table it can write, a ``namespace`` (``"massive.stocks"``, ``"polymarket_us.markets"``) that message
sinks build subjects and keys from, and ``route(event)``: the event's type token and symbol there.

A table's columns are ``ev`` (the wire tag), the event's own columns, and ``ts``, the event's time
as a UTC timestamp in nanoseconds (taken from the spec's ``time_column``, of any Unix unit; null for
events without a time of their own). Column types come from the Struct annotations
(:func:`column_type`): integers, doubles, exact decimals, text, booleans, integer lists, and JSON
text for nested values. Events of unknown types (``RawEvent``) go to ``<prefix>_unknown`` as
JSON, so nothing is dropped.

:class:`StructTables` is the reusable registry: one table per event class, built from the Struct
(:func:`struct_spec`) or given as a hand-made :class:`TableSpec` (flattened nested events).

Conversion is columnar (one ``map(getter)`` per column), because per-field Python code per event
would cap the embedded sinks well below the stream's rate.
"""

from __future__ import annotations

import hashlib
import operator
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal, Protocol

import msgspec

from tickwire.events import DecodeError, Event, RawEvent, timestamp_to_ns

__all__ = [
    "Column",
    "ColumnType",
    "StructTables",
    "TableRegistry",
    "TableSpec",
    "column_type",
    "columns_of",
    "event_decoder",
    "event_id",
    "group_by_table",
    "held_type",
    "struct_spec",
    "tagged_decoder",
    "unknown_spec",
]

ColumnType = Literal["int", "float", "decimal", "str", "bool", "ints", "json", "ts"]
"""``decimal`` is exact: DuckDB/Parquet ``DECIMAL(38, 9)``, PostgreSQL ``NUMERIC``."""

Getter = Callable[[Any], Any]

_ENCODE = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Column:
    """One column. ``source`` is where its value comes from: an attribute path (``"execution.order.id"``;
    None anywhere on the way gives None), converted to the column's type (numbers in a text column
    become text, nested values JSON); or a function of the event, whose result is stored as it is.
    By default the attribute named like the column."""

    name: str
    type: ColumnType
    mixed: bool = False  # text that may arrive as a number (``id: int | str``): converted
    source: str | Getter | None = None

    @property
    def getter(self) -> Getter:
        src = self.source if self.source is not None else self.name
        if callable(src):
            return src
        return _path_getter(src)


def _path_getter(path: str) -> Getter:
    if "." not in path:
        return operator.attrgetter(path)
    parts = path.split(".")

    def get(obj: Any) -> Any:
        for p in parts:
            if obj is None:
                return None
            obj = getattr(obj, p)
        return obj

    return get


@dataclass(frozen=True)
class TableSpec:
    """A table: its name, the ``ev`` value its rows carry, its columns (``ev`` first, ``ts`` last),
    the event class it takes them from, its natural key and the column holding the event time."""

    name: str
    ev: str
    cls: type[Event]
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    time_column: str | None = None
    getters: tuple[Getter, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if names[:1] != ["ev"] or names[-1:] != ["ts"] or len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: columns must be unique and run from 'ev' to 'ts'")
        for k in (*self.key, *((self.time_column,) if self.time_column else ())):
            if k not in names:
                raise ValueError(f"table {self.name}: no column {k!r}")
        object.__setattr__(self, "getters", tuple(c.getter for c in self.columns[1:-1]))

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @cached_property
    def _time_getter(self) -> Getter | None:
        if self.time_column is None:
            return None
        return next(c.getter for c in self.columns if c.name == self.time_column)

    def time_ns(self, ev: Event) -> int | None:
        """One event's time (Unix ns), or None."""
        get = self._time_getter
        return None if get is None else timestamp_to_ns(get(ev))


class TableRegistry(Protocol):
    """How one provider market's events are laid out in sinks (see the module docstring)."""

    @property
    def namespace(self) -> str:
        """Dotted, e.g. ``"massive.stocks"``: NATS subjects ``<prefix>.<namespace>.<type>.<symbol>``,
        Redis keys ``<prefix>:<namespace with ':'>:<type>``, the default NATS stream name."""
        ...

    def table_for(self, cls: type[Event]) -> TableSpec | None:
        """The table an event class is stored in; None for events that are not stored."""
        ...

    def tables(self) -> list[TableSpec]:
        """Every table this market's events can go to."""
        ...

    def route(self, ev: Event) -> tuple[str, str]:
        """``(type token, symbol)`` of a stored event (``"_"`` when it has no symbol)."""
        ...


# ---------------------------------------------------------------------------- column types


def column_type(tp: Any) -> ColumnType:
    """The column type of a Struct field annotation (``int | None`` → ``int``, ``list[int]`` →
    ``ints``, ``int | float`` → ``float``, ``int | str`` → ``str``, anything nested → ``json``)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)] if _is_union(tp) else [tp]
    if len(args) == 1:
        (a,) = args
        if a is bool:
            return "bool"
        if a is int:
            return "int"
        if a is float:
            return "float"
        if a is Decimal:
            return "decimal"
        if a is str:
            return "str"
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


def held_type(cls: type[Event], f: msgspec.structs.FieldInfo) -> Any:
    """The type a field of ``cls`` holds once decoded: its declared type, or what the class's
    ``_field_types`` says for a field declared wider (a wire time the decoder makes int ns)."""
    held: Mapping[str, Any] = getattr(cls, "_field_types", {})
    return held.get(f.name, f.type)


def struct_spec(
    name: str,
    cls: type[Event],
    *,
    rename: Mapping[str, str] | None = None,
    exclude: Iterable[str] = (),
    key: tuple[str, ...] = (),
    time_column: str | None = None,
) -> TableSpec:
    """A table of an event Struct's public fields, in declaration order, or in the class's
    ``_column_order`` (attribute names; the rest after them) if it has one. ``rename``: attribute →
    column name. ``time_column`` defaults to the column of the class's ``_time_attr``, if any.
    A class whose fields are declared wider than they hold once decoded (a wire time read into int
    ns after the decode) names the types they hold in ``_field_types``; the columns take those."""
    rename = rename or {}
    skip = set(exclude)
    cols: list[Column] = [Column("ev", "str")]
    by_attr: dict[str, str] = {}
    fields = msgspec.structs.fields(cls)
    order: tuple[str, ...] = getattr(cls, "_column_order", ())
    if order:  # the table keeps its columns where the declaration follows the wire for speed
        rank = {name: k for k, name in enumerate(order)}
        fields = tuple(sorted(fields, key=lambda f: rank.get(f.name, len(rank))))
    for f in fields:
        if f.name.startswith("_") or f.name in skip:
            continue
        col = rename.get(f.name, f.name)
        ftype = held_type(cls, f)
        ctype = column_type(ftype)
        mixed = ctype == "str" and ftype not in (str, str | None)
        cols.append(Column(col, ctype, mixed, f.name))
        by_attr[f.name] = col
    cols.append(Column("ts", "ts"))
    if time_column is None:
        attr = getattr(cls, "_time_attr", None)
        time_column = by_attr.get(attr) if isinstance(attr, str) else None
    return TableSpec(name, str(cls.__struct_config__.tag), cls, tuple(cols), key, time_column)


def unknown_spec(prefix: str) -> TableSpec:
    """``<prefix>_unknown``: events of types tickwire does not know, their JSON kept as it came."""
    cols = (
        Column("ev", "str"),
        Column("type", "str"),
        Column("data", "json", source=_raw_text),
        Column("ts", "ts"),
    )
    return TableSpec(f"{prefix}_unknown", "raw", RawEvent, cols)


def _raw_text(ev: RawEvent) -> str:
    return bytes(ev.data).decode("utf-8", "replace")


# ---------------------------------------------------------------------------- a registry


def _no_symbol(ev: Event) -> str | None:
    return None


class StructTables:
    """A :class:`TableRegistry` over a fixed set of event classes, one table each.

    ``specs`` maps each stored class to its :class:`TableSpec` (see :func:`struct_spec`);
    ``RawEvent`` goes to ``<prefix>_unknown``; every other class (control events) is not stored.
    ``symbol(ev)`` names the instrument an event is about, for routing.
    """

    def __init__(
        self,
        namespace: str,
        prefix: str,
        specs: Mapping[type[Event], TableSpec],
        *,
        symbol: Callable[[Event], str | None] = _no_symbol,
    ) -> None:
        self._namespace = namespace
        self.prefix = prefix
        self._specs: dict[type[Event], TableSpec] = {RawEvent: unknown_spec(prefix), **specs}
        self._symbol = symbol

    def __repr__(self) -> str:
        return f"StructTables({self._namespace!r}, {len(self.tables())} tables)"

    @property
    def namespace(self) -> str:
        return self._namespace

    def table_for(self, cls: type[Event]) -> TableSpec | None:
        return self._specs.get(cls)

    def tables(self) -> list[TableSpec]:
        return list(dict.fromkeys(self._specs.values()))

    def route(self, ev: Event) -> tuple[str, str]:
        if type(ev) is RawEvent:
            return "raw", "_"
        sym = self._symbol(ev)
        return ev.event_type, str(sym) if sym else "_"


# ---------------------------------------------------------------------------- batches


def group_by_table(tables: TableRegistry, events: Iterable[Event]) -> dict[TableSpec, list[Event]]:
    """Split a batch by table; events that are not stored (control events) are skipped."""
    groups: dict[type[Event], list[Event]] = {}
    skipped: set[type[Event]] = set()
    for ev in events:
        cls = type(ev)
        lst = groups.get(cls)
        if lst is None:
            if cls in skipped:
                continue
            if tables.table_for(cls) is None:
                skipped.add(cls)
                continue
            lst = groups[cls] = []
        lst.append(ev)
    out: dict[TableSpec, list[Event]] = {}
    for cls, evs in groups.items():
        spec = tables.table_for(cls)
        assert spec is not None
        if spec in out:
            out[spec].extend(evs)
        else:
            out[spec] = evs
    return out


def columns_of(spec: TableSpec, events: Sequence[Event], *, ts: bool = True) -> dict[str, list[Any]]:
    """The events as columns (Python lists) in the spec's order: text columns made text, nested
    values JSON, decimals kept ``Decimal``; ``ts`` (Unix ns) unless ``ts=False`` (the Arrow path
    computes it vectorised from the time column). Integers in float columns are left as they are
    (every consumer converts them)."""
    n = len(events)
    out: dict[str, list[Any]] = {"ev": [spec.ev] * n}
    for col, getter in zip(spec.columns[1:-1], spec.getters, strict=True):
        values = list(map(getter, events))
        if not callable(col.source):
            if col.mixed:
                values = [v if v is None or isinstance(v, str) else str(v) for v in values]
            elif col.type == "json":
                values = [None if v is None else _ENCODE(v).decode() for v in values]
        out[col.name] = values
    if not ts:
        return out
    if spec.time_column is not None:
        to_ns = timestamp_to_ns
        out["ts"] = [to_ns(v) for v in out[spec.time_column]]
    else:
        out["ts"] = [None] * n
    return out


def event_id(ev: Event) -> str:
    """A stable id of an event's content (16 hex digits): equal events, equal ids. Used to make
    re-delivery idempotent (PostgreSQL primary key, Redis de-duplication, NATS ``Nats-Msg-Id``)."""
    return hashlib.blake2b(_ENCODE(ev), digest_size=8).hexdigest()


def tagged_decoder(classes: Iterable[type[Event]]) -> Callable[[bytes | msgspec.Raw], Event]:
    """``decode(json)``: one event of any of ``classes``, told by its tag. A msgspec union takes one
    tag field, and providers tag differently (``ev``; Alpaca's ``T``), so the classes are grouped by
    tag field and the groups tried in turn; raises ``msgspec.DecodeError``/``ValidationError`` when
    none fits."""
    groups: dict[str | None, list[type[Event]]] = {}
    for cls in dict.fromkeys(classes):
        groups.setdefault(cls.__struct_config__.tag_field, []).append(cls)
    decoders: list[msgspec.json.Decoder[Any]] = [
        msgspec.json.Decoder(typing.Union[tuple(g)])  # noqa: UP007
        for g in groups.values()
    ]
    if len(decoders) == 1:
        return decoders[0].decode
    last = decoders[-1]

    def decode(payload: bytes | msgspec.Raw) -> Event:
        for d in decoders[:-1]:
            try:
                ev: Event = d.decode(payload)
                return ev
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue
        got: Event = last.decode(payload)
        return got

    return decode


def event_decoder(tables: TableRegistry) -> Callable[[bytes], Event]:
    """Reads back one stored event's JSON (what the message sinks publish: ``msgspec`` JSON of the
    event, tagged as its provider tags it) as its typed event; a payload that does not fit becomes a
    ``DecodeError`` event, so a consumer never stops on bad input."""
    read = tagged_decoder(spec.cls for spec in tables.tables())

    def decode(payload: bytes) -> Event:
        try:
            return read(payload)
        except (msgspec.DecodeError, ValueError, TypeError) as exc:
            return DecodeError(error=str(exc), data=bytes(payload))

    return decode
