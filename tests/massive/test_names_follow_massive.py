"""Every enum and model tickwire says follows the official client is named as the installed ``massive``
(and the compat enums as the installed ``polygon``) names it: members, values, classes and fields."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
from types import ModuleType

import msgspec
import pytest

import tickwire.massive.enums as tw_enums
import tickwire.massive.models as tw_models
import tickwire.massive.polygon_compat as tw_compat
import tickwire.massive.rest.models as tw_rest

ws_models = importlib.import_module("massive.websocket.models.models")
ws_common = importlib.import_module("massive.websocket.models.common")
rest_models = importlib.import_module("massive.rest.models")
polygon_enums = importlib.import_module("polygon.enums")

# tickwire-only REST envelopes: how a page is decoded, not models of the official client
REST_ENVELOPES = {"AggsPage", "TradesPage", "PreviousClosePage", "SnapshotPage", "ErrorBody"}
# fields the service sends that the official model leaves out (tickwire keeps them)
EXTRA_FIELDS = {"PreviousCloseAgg": {"transactions"}}


def _members(e: type[enum.Enum]) -> dict[str, object]:
    return {name: m.value for name, m in e.__members__.items()}  # aliases included


def _public_classes(module: ModuleType, kind: type) -> dict[str, type]:
    names = getattr(module, "__all__", [n for n in vars(module) if not n.startswith("_")])
    out = {}  # deprecated aliases (another name for a class) are left out
    for n in names:
        obj = getattr(module, n)
        if (
            inspect.isclass(obj)
            and issubclass(obj, kind)
            and obj.__module__ == module.__name__
            and obj.__name__ == n
        ):
            out[n] = obj
    return out


@pytest.mark.parametrize("name", ["Market", "Feed", "EventType"])
def test_enums_have_the_official_members(name: str) -> None:
    theirs = _members(getattr(ws_common, name))
    ours = _members(getattr(tw_enums, name))
    missing = {k: v for k, v in theirs.items() if ours.get(k) != v}
    assert not missing, f"{name} lacks (or has other values for) massive's {missing}"
    canonical = {m.name: m.value for m in getattr(tw_enums, name)}
    official = {m.name: m.value for m in getattr(ws_common, name)}
    assert canonical == official, f"{name}: the canonical names differ from massive's"


def test_every_tickwire_enum_is_checked() -> None:
    assert set(_public_classes(tw_enums, enum.Enum)) == {"Market", "Feed", "EventType"}


@pytest.mark.parametrize("name", ["StreamCluster", "StreamHost", "StreamServicePrefix"])
def test_compat_enums_have_the_polygon_members(name: str) -> None:
    theirs = _members(getattr(polygon_enums, name))
    ours = _members(getattr(tw_compat, name))
    missing = {k: v for k, v in theirs.items() if ours.get(k) != v}
    assert not missing, f"{name} lacks polygon's {missing}"


def _ws_fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name != "event_type"]


def _our_fields(cls: type) -> list[str]:
    return [f.name for f in msgspec.structs.fields(cls) if not f.name.startswith("_")]


WIRE_ORDERED = {"EquityTrade"}
"""Models whose fields are declared in the server's order rather than massive's: msgspec decodes a
frame whose keys come in declaration order fastest (see ``EquityTrade``). The names are still
massive's; construction is by keyword only, so the order changes no code written for massive."""


def _same_fields(name: str, ours: list[str], theirs: list[str]) -> None:
    if name in WIRE_ORDERED:
        assert sorted(ours) == sorted(theirs), name
        assert ours != theirs, f"{name} is in massive's order: take it out of WIRE_ORDERED"
    else:
        assert ours == theirs, name


def test_stream_models_are_massive_models_or_subclasses_of_one() -> None:
    official = {
        n: c for n, c in vars(ws_models).items() if inspect.isclass(c) and dataclasses.is_dataclass(c)
    }
    ours = _public_classes(tw_models, msgspec.Struct)
    for name, cls in official.items():
        assert name in ours, f"massive's {name} has no tickwire model"
        _same_fields(name, _our_fields(ours[name]), _ws_fields(cls))
    for name, cls in ours.items():
        if name in official or name == "MassiveEvent":
            continue
        base = next((b for b in cls.__mro__[1:] if b.__name__ in official), None)
        assert base is not None, f"{name} is neither a massive model nor a subclass of one"
        _same_fields(base.__name__, _our_fields(cls), _ws_fields(official[base.__name__]))


def test_a_trade_in_the_servers_order_is_read_in_one_pass() -> None:
    """The server's key order is the declaration order: each key matches the field after the last."""
    wire = ["sym", "i", "x", "p", "s", "c", "t", "q", "z"]
    declared = [f.encode_name for f in msgspec.structs.fields(tw_models.EquityTrade)]
    assert [k for k in declared if k in wire] == wire


def test_rest_models_are_named_as_massive_names_them() -> None:
    ours = {n: c for n, c in _public_classes(tw_rest, msgspec.Struct).items() if n not in REST_ENVELOPES}
    assert ours
    for name, cls in ours.items():
        theirs = getattr(rest_models, name, None)
        assert theirs is not None and dataclasses.is_dataclass(theirs), f"massive.rest.models has no {name}"
        extra = (
            set(_our_fields(cls))
            - {f.name for f in dataclasses.fields(theirs)}
            - EXTRA_FIELDS.get(name, set())
        )
        assert not extra, f"{name}: fields massive does not name so: {sorted(extra)}"


def test_old_names_still_work() -> None:
    assert tw_enums.Feed.NasdaqFeed is tw_enums.Feed.Nasdaq
    assert tw_enums.Feed.DelayedNasdaqBasicBusiness is tw_enums.Feed.DelayedNasdaqBasic
    assert tw_enums.EventType.FuturesAggregateMinute is tw_enums.EventType.EquityAggMin
    assert tw_rest.Snapshot is tw_rest.TickerSnapshot and tw_rest.SnapshotBar is tw_rest.MinuteSnapshot
    assert tw_rest.PreviousClose is tw_rest.PreviousCloseAgg
    trade = tw_rest.LastTrade(price=1.0, sip_timestamp=5)
    with pytest.warns(DeprecationWarning, match="sip_timestamp"):
        assert trade.timestamp == 5
