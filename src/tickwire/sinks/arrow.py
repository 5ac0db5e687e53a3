"""Event batches → Arrow tables (the common currency of the DuckDB, Parquet and CSV sinks).

Conversion is checked: a value a column cannot hold (an integer of 64 bits or more, a time whose
nanoseconds overflow) raises :class:`~tickwire.sinks.base.DataRefused` naming the table and column,
never wraps around silently, so the runner can dead-letter the event and go on.
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from tickwire.events import Event
from tickwire.sinks.base import JOURNAL_COLUMN, POS_COLUMN, DataRefused
from tickwire.tables import ColumnType, TableSpec, columns_of

__all__ = ["CONVERSION_ERRORS", "DECIMAL_SCALE", "arrow_schema", "to_arrow"]

CONVERSION_ERRORS: tuple[type[BaseException], ...] = (
    DataRefused,
    OverflowError,
    pa.ArrowInvalid,
    pa.ArrowTypeError,
)
"""What building an Arrow table raises for a bad value: data errors for every Arrow-based sink."""

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


_KEYED: dict[TableSpec, pa.Schema] = {}


def arrow_schema(spec: TableSpec, *, keyed: bool = False) -> pa.Schema:
    """The spec's columns as an Arrow schema; ``keyed``: with ``_journal`` and ``_pos`` at the end."""
    schema = _SCHEMAS.get(spec)
    if schema is None:
        schema = _SCHEMAS[spec] = pa.schema([pa.field(c.name, _TYPES[c.type]) for c in spec.columns])
    if not keyed:
        return schema
    full = _KEYED.get(spec)
    if full is None:
        full = _KEYED[spec] = schema.append(pa.field(JOURNAL_COLUMN, pa.string())).append(
            pa.field(POS_COLUMN, pa.int64())
        )
    return full


def to_arrow(
    spec: TableSpec,
    events: Sequence[Event],
    journal: str | None = None,
    positions: Sequence[int] | None = None,
) -> pa.Table:
    """One table's events as an Arrow table with the spec's schema; given ``journal`` and
    ``positions`` (one per event), with the ``_journal`` and ``_pos`` columns too. Raises
    :class:`DataRefused` for a value its column cannot hold."""
    cols: dict[str, list[Any]] = columns_of(spec, events, ts=False)
    keyed = journal is not None and positions is not None
    schema = arrow_schema(spec, keyed=keyed)
    n = len(events)
    arrays: list[pa.Array] = [pa.repeat(spec.ev, n)]
    built: dict[str, pa.Array] = {}
    for f, c in zip(list(schema)[1 : len(spec.columns) - 1], spec.columns[1:-1], strict=True):
        try:
            values = cols[f.name]
            if c.type == "decimal":
                values = [_fit(v) for v in values]
            built[f.name] = array = pa.array(values, type=f.type)
            arrays.append(array)
        except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataRefused(f"{spec.name}.{f.name}: a value does not fit {f.type}: {exc}") from None
    tcol = spec.time_column
    try:
        if tcol is None:
            arrays.append(pa.nulls(n, pa.timestamp("ns")))
        else:
            times = built.get(tcol)
            arrays.append(
                _ts(times if times is not None and times.type in _NUMBERS else pa.array(cols[tcol]))
            )
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataRefused(
            f"{spec.name}.ts: {tcol} is no time in nanoseconds since 1678-2262: {exc}"
        ) from None
    if keyed:
        assert journal is not None and positions is not None
        arrays.append(pa.repeat(journal, n))
        arrays.append(pa.array(positions, type=pa.int64()))
    return pa.Table.from_arrays(arrays, schema=schema)


def _fit(v: Any) -> Decimal | None:
    """A value as a ``DECIMAL(38, 9)`` can hold it (see :data:`DECIMAL_SCALE`)."""
    if v is None:
        return None
    d = v if isinstance(v, Decimal) else Decimal(str(v))
    if not d.is_finite() or abs(d) >= _LIMIT:
        return None
    return d.quantize(_QUANTUM, context=_CONTEXT)


_NUMBERS = (pa.int64(), pa.float64())
_NS = pa.timestamp("ns")


def _scale(magnitude: int) -> int:
    """Nanoseconds per unit of a Unix time of this magnitude (as ``timestamp_to_ns`` infers it)."""
    if magnitude >= 10**17:
        return 1
    if magnitude >= 10**14:
        return 1_000
    return 1_000_000 if magnitude >= 10**11 else 1_000_000_000


def _ts(times: pa.Array) -> pa.Array:
    """Unix times of any unit (told apart by magnitude, as ``timestamp_to_ns`` does) → ns timestamps;
    checked products: an absurd time raises instead of wrapping around."""
    n = len(times)
    if times.null_count == n:
        return pa.nulls(n, _NS)
    v = times
    if v.type != pa.int64():
        v = pc.cast(v, options=pc.CastOptions(pa.int64(), allow_float_truncate=True))
    a = pc.abs_checked(v)
    bounds = pc.min_max(a)
    lo, hi = _scale(bounds["min"].as_py()), _scale(bounds["max"].as_py())
    if lo == hi:  # the usual case: one unit in the whole batch
        return pc.multiply_checked(v, lo).cast(_NS)
    scale = pc.if_else(
        pc.greater_equal(a, 10**17),
        1,
        pc.if_else(
            pc.greater_equal(a, 10**14),
            1_000,
            pc.if_else(pc.greater_equal(a, 10**11), 1_000_000, 1_000_000_000),
        ),
    )
    return pc.multiply_checked(v, scale).cast(_NS)
