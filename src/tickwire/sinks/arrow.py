"""Event batches → Arrow tables (the common currency of the DuckDB, Parquet and CSV sinks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from tickwire.events import Event
from tickwire.sinks.schema import ColumnType, TableSpec, columns_of

__all__ = ["arrow_schema", "to_arrow"]

_TYPES: dict[ColumnType, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "bool": pa.bool_(),
    "ints": pa.list_(pa.int64()),
    "json": pa.string(),
    "ts": pa.timestamp("ns"),
}

_SCHEMAS: dict[TableSpec, pa.Schema] = {}


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
    for f in schema:
        if f.name == "ts":
            arrays.append(_ts(cols[spec.time_attr], n) if spec.time_attr in cols else pa.nulls(n, f.type))
            continue
        values = cols[f.name]
        arrays.append(pa.nulls(n, f.type) if values.count(None) == n else pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _ts(times: list[Any], n: int) -> pa.Array:
    """Unix times of any unit (told apart by magnitude, as ``timestamp_to_ns`` does) → ns timestamps."""
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
