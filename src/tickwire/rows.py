"""The one normalized event schema for text and message sinks: an event as its table's row.

Every sink writes the same row: the table's column names (``ev``, the event's readable columns
such as ``symbol``, ``price``, ``size``, ``sequence_number``..., then ``ts``, the event time as
integer Unix **nanoseconds**; see :mod:`tickwire.tables`). JSON lines, Redis Streams and NATS
carry it as JSON; CSV, Parquet, DuckDB and PostgreSQL carry the same columns as typed columns.
Decimals are JSON strings (exact), nested values JSON text, as in the SQL tables.

* :func:`row_json`: one compact JSON object per event (``{"ev":"T","symbol":"AAPL",...,"ts":N}``);
* :func:`rows_payload`: a columnar block of many events of one table,
  ``{"table":...,"columns":[...],"rows":[[...],...]}``;
* :func:`event_from_row`, :func:`events_from_payload`: the inverses, rebuilding typed events
  where a table maps columns one-to-one onto a Struct's fields (tables made by
  :func:`tickwire.tables.struct_spec`); :func:`invertible` tells which.

The wire form (``sym``, ``p``, ``t`` in ms for Massive) is kept only behind an explicit ``wire``
option of each sink. This module needs nothing beyond msgspec (``tickwire stream --jsonl`` uses it
without the storage extra); the sinks import it as :mod:`tickwire.sinks.rows`. Conversion is
columnar (:func:`tickwire.tables.columns_of`, one pass per column), then one ``msgspec`` call per
batch, so the per-event Python cost stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import msgspec

from tickwire.events import Event, RawEvent, timestamp_to_ns
from tickwire.tables import TableRegistry, TableSpec, columns_of

__all__ = [
    "event_from_row",
    "event_rows",
    "events_from_payload",
    "invertible",
    "read_payload",
    "row_json",
    "rows_payload",
]

_ENC = msgspec.json.Encoder(decimal_format="string")
_DEC = msgspec.json.Decoder()


class _Payload(msgspec.Struct, frozen=True):
    table: str
    columns: list[str]
    rows: list[list[Any]]


_PAYLOAD_DEC = msgspec.json.Decoder(_Payload)


@cache
def _row_struct(spec: TableSpec) -> type[msgspec.Struct]:
    """A Struct with the table's columns as fields (positional ``f0..fn``, encoded by name), so a
    batch of rows is built by one ``map`` and encoded by one call."""
    names = spec.column_names
    fields = [(f"f{i}", Any) for i in range(len(names))]
    rename = {f"f{i}": n for i, n in enumerate(names)}
    return msgspec.defstruct(f"Row_{spec.name}", fields, rename=rename, gc=False)


def row_json(spec: TableSpec, events: Sequence[Event]) -> list[bytes]:
    """Each event's normalized row as compact JSON (one object per event, keys the table's
    column names, ``ts`` int ns)."""
    if not events:
        return []
    cols = _columns(spec, events)
    rows = list(map(_row_struct(spec), *cols.values()))
    return _ENC.encode_lines(rows).split(b"\n")[:-1]


def event_rows(tables: TableRegistry, events: Sequence[Event]) -> list[bytes | None]:
    """:func:`row_json` of a mixed batch, in its order: each stored event's row, ``None`` for
    events without a table (control events such as ``Connected``). Columnar per table."""
    out: list[bytes | None] = [None] * len(events)
    groups: dict[TableSpec, tuple[list[int], list[Event]]] = {}
    specs: dict[type[Event], TableSpec | None] = {}
    for i, ev in enumerate(events):
        cls = type(ev)
        spec = specs[cls] if cls in specs else specs.setdefault(cls, tables.table_for(cls))
        if spec is None:
            continue
        idx, evs = groups.setdefault(spec, ([], []))
        idx.append(i)
        evs.append(ev)
    for spec, (idx, evs) in groups.items():
        for i, row in zip(idx, row_json(spec, evs), strict=True):
            out[i] = row
    return out


def rows_payload(spec: TableSpec, events: Sequence[Event]) -> bytes:
    """Many events of one table as one columnar JSON block:
    ``{"table": name, "columns": [...], "rows": [[...], ...]}`` (rows in the columns' order)."""
    cols = _columns(spec, events)
    rows: list[Any] = list(zip(*cols.values(), strict=True))  # tuples encode as arrays
    return _ENC.encode(_Payload(spec.name, list(cols), rows))


def _columns(spec: TableSpec, events: Sequence[Event]) -> dict[str, list[Any]]:
    """:func:`~tickwire.tables.columns_of` with ``ts`` computed per column: one multiplication per
    value when the whole time column is integers of one unit (the usual case), else per value."""
    cols = columns_of(spec, events, ts=False)
    if spec.time_column is None:
        cols["ts"] = [None] * len(events)
        return cols
    times = cols[spec.time_column]
    scale = _unit_scale(times)
    cols["ts"] = [v * scale for v in times] if scale else [timestamp_to_ns(v) for v in times]
    return cols


def _unit_scale(values: list[Any]) -> int:
    """The factor to ns shared by every value (all ``int``, all of one magnitude), or 0."""
    if not values or set(map(type, values)) != {int}:
        return 0
    lo, hi = min(values), max(values)
    for floor, ceiling, scale in ((10**17, 10**20, 1), (10**14, 10**17, 1_000), (10**11, 10**14, 1_000_000)):
        if floor <= lo and hi < ceiling:
            return scale
    return 0


def read_payload(payload: bytes) -> tuple[str, list[str], list[list[Any]]]:
    """A :func:`rows_payload` block's table name, column names and rows."""
    p = _PAYLOAD_DEC.decode(payload)
    return p.table, p.columns, p.rows


# ---------------------------------------------------------------------------- inverses


@cache
def _field_types(cls: type[Event]) -> dict[str, Any]:
    return {f.name: f.type for f in msgspec.structs.fields(cls)}


def invertible(spec: TableSpec) -> bool:
    """Whether rows of this table can be rebuilt into typed events: each column between ``ev``
    and ``ts`` names one field of the event class (tables from ``struct_spec``)."""
    if spec.cls is RawEvent:
        return False
    types = _field_types(spec.cls)
    return all(isinstance(c.source, str) and c.source in types for c in spec.columns[1:-1])


@cache
def _inverse(spec: TableSpec) -> tuple[tuple[str, str, bool], ...]:
    """(column, attribute, is JSON text) for each event column of an invertible table."""
    if not invertible(spec):
        raise ValueError(f"table {spec.name}: rows cannot be rebuilt into events")
    return tuple(
        (c.name, str(c.source), c.type == "json" and c.source is not None) for c in spec.columns[1:-1]
    )


def event_from_row(spec: TableSpec, row: dict[str, Any] | bytes) -> Event:
    """Rebuild the typed event of one row (a :func:`row_json` object, decoded or not).
    Raises ``ValueError`` for a table that is not :func:`invertible` and
    ``msgspec.ValidationError`` for a row that does not fit the event."""
    data: dict[str, Any] = _DEC.decode(row) if isinstance(row, bytes | bytearray) else row
    attrs: dict[str, Any] = {}
    for col, attr, is_json in _inverse(spec):
        if col not in data:
            continue
        v = data[col]
        attrs[attr] = _DEC.decode(v) if is_json and isinstance(v, str) else v
    return _build(spec.cls, attrs)


def events_from_payload(spec: TableSpec, payload: bytes) -> list[Event]:
    """The typed events of a :func:`rows_payload` block of ``spec``'s table."""
    table, columns, rows = read_payload(payload)
    if table != spec.name:
        raise ValueError(f"payload of table {table!r}, not {spec.name!r}")
    return [event_from_row(spec, dict(zip(columns, r, strict=True))) for r in rows]


def _build(cls: type[Event], attrs: dict[str, Any]) -> Event:
    """The event from attribute values, converted to the field types (decimals from strings,
    nested values from their JSON form, ``int | str`` text kept as text)."""
    types = _field_types(cls)
    values = {
        k: msgspec.convert(v, types[k], strict=False, dec_hook=None) if v is not None else None
        for k, v in attrs.items()
    }
    return cls(**values)
