"""Event batches → Arrow tables (the common currency of the DuckDB, Parquet and CSV sinks)."""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from tickwire.events import Event
from tickwire.tables import ColumnType, TableSpec, columns_of

__all__ = ["DECIMAL_SCALE", "arrow_schema", "to_arrow"]

DECIMAL_SCALE = 9
"""Digits after the point of ``decimal`` columns (``DECIMAL(38, 9)``): finer values are rounded
half-even to it, non-finite ones (``NaN``) stored as null, so a batch never fails on a value."""

_TYPES: dict[ColumnType, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "decimal": pa.decimal128(38, DECIMAL_SCALE),
    "str": pa.string(),
    "bool": pa.bool_(),
    "ints": pa.list_(pa.int64()),
    "json": pa.string(),
    "ts": pa.timestamp("ns"),
}

_SCHEMAS: dict[TableSpec, pa.Schema] = {}
_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)
_CONTEXT = decimal.Context(prec=38, rounding=decimal.ROUND_HALF_EVEN)
_LIMIT = Decimal(10) ** (38 - DECIMAL_SCALE)


def arrow_schema(spec: TableSpec) -> pa.Schema:
    schema = _SCHEMAS.get(spec)
    if schema is None:
        schema = _SCHEMAS[spec] = pa.schema([pa.field(c.name, _TYPES[c.type]) for c in spec.columns])
    return schema


def to_arrow(spec: TableSpec, events: Sequence[Event]) -> pa.Table:
    """One table's events as an Arrow table with the spec's schema."""
    cols: dict[str, list[Any]] = columns_of(spec, events, ts=False)
    schema = arrow_schema(spec)
    n = len(events)
    arrays = []
    tcol = spec.time_column
    for f, c in zip(schema, spec.columns, strict=True):
        if f.name == "ts":
            arrays.append(_ts(cols[tcol], n) if tcol is not None else pa.nulls(n, f.type))
            continue
        values = cols[f.name]
        if values.count(None) == n:
            arrays.append(pa.nulls(n, f.type))
            continue
        if c.type == "decimal":
            values = [_fit(v) for v in values]
        arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _fit(v: Any) -> Decimal | None:
    """A value as a ``DECIMAL(38, 9)`` can hold it (see :data:`DECIMAL_SCALE`)."""
    if v is None:
        return None
    d = v if isinstance(v, Decimal) else Decimal(str(v))
    if not d.is_finite() or abs(d) >= _LIMIT:
        return None
    return d.quantize(_QUANTUM, context=_CONTEXT)


def _ts(times: list[Any], n: int) -> pa.Array:
    """Unix times of any unit (told apart by magnitude, as ``timestamp_to_ns`` does) → ns timestamps."""
    if times.count(None) == n:
        return pa.nulls(n, pa.timestamp("ns"))
    v = pc.cast(
        pa.array(times, type=pa.float64() if any(isinstance(t, float) for t in times) else pa.int64()),
        pa.int64(),
        safe=False,
    )
    a = pc.abs(v)
    ns = pc.if_else(
        pc.greater_equal(a, 10**17),
        v,
        pc.if_else(
            pc.greater_equal(a, 10**14),
            pc.multiply(v, 1_000),
            pc.if_else(pc.greater_equal(a, 10**11), pc.multiply(v, 1_000_000), pc.multiply(v, 1_000_000_000)),
        ),
    )
    return pc.cast(ns, pa.timestamp("ns"))
