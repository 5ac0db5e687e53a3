"""The normalized row schema (sinks/rows.py): column names as keys, int ns ``ts``, and the inverses."""

from __future__ import annotations

import types
import typing
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from tickwire.events import Event
from tickwire.massive.models import EquityTrade
from tickwire.massive.tables import massive_tables
from tickwire.provider import get_provider
from tickwire.sinks.rows import (
    event_from_row,
    events_from_payload,
    invertible,
    read_payload,
    row_json,
    rows_payload,
)
from tickwire.tables import TableSpec, columns_of, held_type


def _sample(tp: Any, i: int) -> Any:
    """A value of a field annotation (text for unions with ``str``, else the first member), varied by ``i``."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:  # a constrained type: its base (the samples are within bounds)
        return _sample(typing.get_args(tp)[0], i)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _sample(str if str in args else args[0], i)  # ``int | str`` is stored as text
    if origin is typing.Literal:
        return typing.get_args(tp)[0]
    if origin is list:
        return [_sample(typing.get_args(tp)[0], i + k) for k in range(2)]
    if origin is tuple:
        return tuple(_sample(a, i) for a in typing.get_args(tp))
    if origin is dict:
        return {"k": _sample(typing.get_args(tp)[1], i)}
    if tp is bool:
        return i % 2 == 0
    if tp is int:
        return 1_700_000_000_000 + i
    if tp is float:
        return 1.5 + i
    if tp is Decimal:
        return Decimal("0.123456789") + i
    if tp is str:
        return f's{i}\n"x"'
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _build(tp, i)
    return None


def _build(cls: type[Any], i: int) -> Any:
    kw = {
        f.name: _sample(held_type(cls, f), i)
        for f in msgspec.structs.fields(cls)
        if not f.name.startswith("_")
    }
    return cls(**kw)


def _all_tables() -> list[TableSpec]:
    out: dict[str, TableSpec] = {}
    for name in ("massive", "polymarket", "alpaca"):
        p = get_provider(name)
        for m in p.markets:
            for spec in p.tables(m).tables():
                out.setdefault(spec.name, spec)
    return list(out.values())


TABLES = [s for s in _all_tables() if invertible(s)]


@pytest.mark.parametrize("spec", TABLES, ids=lambda s: s.name)
def test_every_invertible_table_round_trips_through_rows(spec: TableSpec) -> None:
    events: list[Event] = [_build(spec.cls, i) for i in range(3)]
    lines = row_json(spec, events)
    assert len(lines) == 3
    for ev, line in zip(events, lines, strict=True):
        obj = msgspec.json.decode(line)
        assert list(obj) == spec.column_names  # the table's columns, in order
        assert obj["ev"] == spec.ev
        ts = spec.time_ns(ev)
        assert obj["ts"] == ts and (ts is None or isinstance(ts, int))
        assert event_from_row(spec, line) == ev
    assert events_from_payload(spec, rows_payload(spec, events)) == events


def test_a_massive_trade_is_readable_names_and_ns() -> None:
    spec = massive_tables("stocks").table_for(EquityTrade)
    assert spec is not None
    ev = EquityTrade(symbol="AAPL", price=101.25, size=100, timestamp=1_700_000_000_123, conditions=[12])
    (line,) = row_json(spec, [ev])
    obj = msgspec.json.decode(line)
    assert obj["symbol"] == "AAPL" and obj["price"] == 101.25 and obj["size"] == 100
    assert obj["ts"] == 1_700_000_000_123_000_000
    assert not {"sym", "p", "s", "t"} & set(obj)


def test_the_columnar_block_matches_columns_of() -> None:
    spec = massive_tables("stocks").table_for(EquityTrade)
    assert spec is not None
    evs = [
        EquityTrade(symbol=f"S{i}", price=float(i), size=i, timestamp=1_700_000_000_000 + i) for i in range(5)
    ]
    table, columns, rows = read_payload(rows_payload(spec, evs))
    cols = columns_of(spec, evs)
    assert table == spec.name and columns == list(cols)
    assert [list(r) for r in zip(*cols.values(), strict=True)] == rows
    assert read_payload(rows_payload(spec, [])) == (spec.name, spec.column_names, [])
    assert row_json(spec, []) == []


def test_flattened_tables_are_not_invertible() -> None:
    flat = [s for s in _all_tables() if not invertible(s)]
    assert any(s.name == "polymarket_us_books" for s in flat)
    with pytest.raises(ValueError, match="cannot be rebuilt"):
        event_from_row(flat[0], {"ev": "x"})
    # rows of them are still written
    for spec in flat:
        assert row_json(spec, []) == []


def test_a_mixed_batch_keeps_its_order_and_control_events_have_no_row() -> None:
    from tickwire.events import Connected
    from tickwire.massive.models import EquityQuote
    from tickwire.sinks.rows import event_rows

    tables = massive_tables("stocks")
    t = EquityTrade(symbol="AAPL", price=1.0, size=1, timestamp=1_700_000_000_000)
    q = EquityQuote(symbol="MSFT", bid_price=1.0, ask_price=2.0, timestamp=1_700_000_000_001)
    c = Connected(url="ws://x", epoch=1, at=0.0)
    rows = event_rows(tables, [t, c, q, t])
    assert rows[1] is None
    assert [msgspec.json.decode(r)["symbol"] for r in (rows[0], rows[2], rows[3]) if r is not None] == [
        "AAPL",
        "MSFT",
        "AAPL",
    ]
    assert rows[0] == rows[3]
