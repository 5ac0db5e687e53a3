"""Massive events → tables: ``<family>_<kind>`` per channel, columns as the official client names them.

Tables are named by cluster family and the channel's table kind from the catalogue
(:mod:`tickwire.massive.catalog`): ``stocks_trades``, ``stocks_aggs_minute``, ``crypto_quotes``,
``crypto_launchpad_aggs_minute``, ``indices_values``...; unknown events go to ``<family>_unknown``.
Columns are the event's attributes (``price``, ``size``, ``sequence_number``...; ``pair`` is called
``symbol`` everywhere) between ``ev`` and ``ts``. Sinks route events under the namespace
``massive.<market>`` (NATS ``md.massive.stocks.T.AAPL``, Redis ``md:massive:stocks:T``).
"""

from __future__ import annotations

from functools import cache

from tickwire.events import Event
from tickwire.massive.catalog import channels, family
from tickwire.massive.enums import Market, parse_market
from tickwire.tables import StructTables, TableSpec, struct_spec

__all__ = ["massive_tables", "symbol_of"]

# natural keys: the instrument and the event time, plus what tells events at one time apart
_KEY_EXTRA: dict[str, tuple[str, ...]] = {"trades": ("exchange", "id", "sequence_number")}


def symbol_of(ev: Event) -> str | None:
    """The ticker (or currency pair) an event is about."""
    sym = getattr(ev, "symbol", None) or getattr(ev, "pair", None) or getattr(ev, "ticker", None)
    return str(sym) if sym else None


@cache
def massive_tables(market: Market | str) -> StructTables:
    """The table registry of a Massive market (``"stocks"``, ``"futures/cme"``...), cached."""
    m = parse_market(market)
    fam = family(m)
    specs: dict[type[Event], TableSpec] = {}
    for info in channels(m).values():
        spec = struct_spec(f"{fam}_{info.table}", info.event, rename={"pair": "symbol"})
        names = spec.column_names
        sym = [n for n in ("symbol", "ticker") if n in names][:1]
        extra = [n for n in _KEY_EXTRA.get(info.table, ()) if n in names]
        key = (*sym, *([spec.time_column] if spec.time_column else []), *extra)
        specs[info.event] = _with_key(spec, key)
    return StructTables(f"massive.{m.value}", fam, specs, symbol=symbol_of)


def _with_key(spec: TableSpec, key: tuple[str, ...]) -> TableSpec:
    return TableSpec(spec.name, spec.ev, spec.cls, spec.columns, key, spec.time_column)
