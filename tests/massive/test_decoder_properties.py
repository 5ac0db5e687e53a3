"""Property tests for MassiveDecoder: random, mutated and corrupted frames never raise,
every element yields exactly one event, and every bad element is counted.

``TICKWIRE_FUZZ_EXAMPLES`` sets the examples per property (default 300, a few seconds);
set it to e.g. 20000 for a long run.
"""

from __future__ import annotations

import json
import os
from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tickwire.events import DecodeError, Event, RawEvent, Status
from tickwire.massive.catalog import FAMILIES, event_map
from tickwire.massive.decoder import MAX_ERROR_DATA, MassiveDecoder, encode

FUZZ = settings(
    max_examples=int(os.environ.get("TICKWIRE_FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MARKETS = ["stocks", "options", "forex", "crypto", "indices", "futures", "futures/cme"]
DECODERS = {market: MassiveDecoder(market) for market in MARKETS}
EVENT_MAPS = [event_map(family) for family in FAMILIES]
ALL_EVS = sorted({ev for ev_map in EVENT_MAPS for ev in ev_map} | {"status"})
WIRE_KEYS = sorted(
    {
        f.encode_name
        for ev_map in EVENT_MAPS
        for cls in ev_map.values()
        for f in mi.type_info(cls).fields  # type: ignore[attr-defined]
    }
    | {"ev", "status", "message", "pair", "sym", "T", "p"}
)

# --- strategies ---------------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
    st.sampled_from(["", "44", "1.5", "1e3", "nan", "-0", "  7 ", "\u00e9\u4e2d\U0001f600", "\x00"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(text | st.sampled_from(WIRE_KEYS), children, max_size=4)
    ),
    max_leaves=12,
)


def _values_for(t: mi.Type) -> st.SearchStrategy[Any]:
    if isinstance(t, mi.UnionType):
        return st.one_of([_values_for(member) for member in t.types])
    if isinstance(t, mi.StrType):
        return text
    if isinstance(t, mi.IntType):
        return st.integers(min_value=-(2**63), max_value=2**63 - 1)
    if isinstance(t, mi.FloatType):
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.ListType):
        return st.lists(_values_for(t.item_type), max_size=4)
    raise AssertionError(f"no strategy for {t}")


def _events_of(cls: type[Event]) -> st.SearchStrategy[Event]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    fields = {f.name: _values_for(f.type) for f in info.fields if not f.name.startswith("_")}
    return st.fixed_dictionaries({}, optional=fields).map(lambda kwargs: cls(**kwargs))


def _classes(market: str) -> list[type[Event]]:
    return [*DECODERS[market].event_map.values(), Status]


EVENTS_BY_MARKET = {market: st.one_of([_events_of(cls) for cls in _classes(market)]) for market in MARKETS}


@st.composite
def market_and_events(draw: st.DrawFn) -> tuple[str, list[Event]]:
    market = draw(st.sampled_from(MARKETS))
    return market, draw(st.lists(EVENTS_BY_MARKET[market], max_size=8))


@st.composite
def mutated_element(draw: st.DrawFn, market: str) -> Any:
    """A valid element of ``market`` after one random mutation (or none)."""
    element: dict[str, Any] = msgspec.to_builtins(draw(EVENTS_BY_MARKET[market]))
    keys = sorted(element)
    op = draw(st.sampled_from(["none", "drop", "retype", "add", "ev", "replace", "nest"]))
    if op == "drop" and keys:
        for key in draw(st.lists(st.sampled_from(keys), unique=True)):
            if key != "ev":
                del element[key]
    elif op == "retype":
        key = draw(st.sampled_from(keys))
        element[key] = draw(json_values)
    elif op == "add":
        element[draw(st.sampled_from(WIRE_KEYS) | text)] = draw(json_values)
    elif op == "ev":
        element["ev"] = draw(st.sampled_from(ALL_EVS) | text | json_scalars)
    elif op == "replace":
        return draw(json_values)
    elif op == "nest":
        value: Any = draw(json_scalars)
        for _ in range(draw(st.integers(1, 60))):
            value = [value] if draw(st.booleans()) else {"k": value}
        element[draw(st.sampled_from(keys))] = value
    return element


# --- invariants ---------------------------------------------------------------------------


def decode_checked(decoder: MassiveDecoder, data: Any) -> list[Event]:
    """Decode; check it returned Events only and moved the counters by exactly the bad ones."""
    errors, unknown = decoder.errors, decoder.unknown
    events = decoder.decode(data)
    assert isinstance(events, list)
    assert all(isinstance(e, Event) for e in events)
    assert decoder.errors - errors == sum(type(e) is DecodeError for e in events)
    assert decoder.unknown - unknown == sum(type(e) is RawEvent for e in events)
    for e in events:
        if isinstance(e, DecodeError):
            assert isinstance(e.data, bytes) and len(e.data) <= MAX_ERROR_DATA
            assert e.error
    return events


def check_element(decoder: MassiveDecoder, element: Any, event: Event) -> None:
    """The outcome one well-formed element must have, whatever its content."""
    ev = element.get("ev") if isinstance(element, dict) else None
    if not isinstance(ev, str):
        assert type(event) is DecodeError
    elif ev in decoder.event_map:
        assert type(event) in (decoder.event_map[ev], DecodeError), (element, event)
    else:
        assert isinstance(event, RawEvent) and event.type == ev
        assert json.loads(event.data) == element


# --- properties ---------------------------------------------------------------------------


@FUZZ
@given(market_and_events())
def test_valid_events_round_trip(case: tuple[str, list[Event]]) -> None:
    market, events = case
    decoder = DECODERS[market]
    errors, unknown = decoder.errors, decoder.unknown
    assert decoder.decode(encode(events)) == events
    assert (decoder.errors, decoder.unknown) == (errors, unknown)


@FUZZ
@given(st.data())
def test_mutated_frames(data: st.DataObject) -> None:
    market = data.draw(st.sampled_from(MARKETS))
    decoder = DECODERS[market]
    elements = data.draw(st.lists(mutated_element(market), max_size=6))
    raw = json.dumps(elements, ensure_ascii=data.draw(st.booleans())).encode()
    events = decode_checked(decoder, raw)
    assert len(events) == len(elements)
    for element, event in zip(elements, events, strict=True):
        check_element(decoder, element, event)


@FUZZ
@given(st.data())
def test_keys_removed_from_valid_events_still_decode(data: st.DataObject) -> None:
    market = data.draw(st.sampled_from(MARKETS))
    decoder = DECODERS[market]
    event = data.draw(EVENTS_BY_MARKET[market])
    element: dict[str, Any] = msgspec.to_builtins(event)
    for key in data.draw(st.lists(st.sampled_from(sorted(element)), unique=True)):
        if key != "ev":
            del element[key]
    (decoded,) = decode_checked(decoder, json.dumps([element]).encode())
    assert type(decoded) is type(event)
    assert decoded == msgspec.convert(element, type(event))
    if type(event) is not Status:  # market events omit missing fields when encoded
        assert msgspec.to_builtins(decoded) == element


@FUZZ
@given(st.data())
def test_corrupted_bytes(data: st.DataObject) -> None:
    market = data.draw(st.sampled_from(MARKETS))
    decoder = DECODERS[market]
    elements = data.draw(st.lists(mutated_element(market), min_size=1, max_size=4))
    raw = bytearray(json.dumps(elements, ensure_ascii=False).encode())
    op = data.draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
    if op == "truncate":
        cut = data.draw(st.integers(0, len(raw) - 1))
        events = decode_checked(decoder, bytes(raw[:cut]))
        assert len(events) == 1 and type(events[0]) is DecodeError  # a proper prefix of an array
        assert events[0].data == bytes(raw[:cut])[:MAX_ERROR_DATA]
        return
    pos = data.draw(st.integers(0, len(raw) - 1))
    if op == "flip":
        raw[pos] ^= data.draw(st.integers(1, 255))
    elif op == "insert":
        raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        del raw[pos : pos + data.draw(st.integers(1, 8))]
    decode_checked(decoder, bytes(raw))


@FUZZ
@given(st.sampled_from(MARKETS), json_values)
def test_any_json_value(market: str, value: Any) -> None:
    decoder = DECODERS[market]
    events = decode_checked(decoder, json.dumps(value).encode())
    if isinstance(value, list):
        assert len(events) == len(value)
        for element, event in zip(value, events, strict=True):
            check_element(decoder, element, event)
    elif isinstance(value, dict):
        assert len(events) == 1
        check_element(decoder, value, events[0])
    else:
        assert len(events) == 1 and type(events[0]) is DecodeError


@FUZZ
@given(st.sampled_from(MARKETS), st.binary(max_size=300))
def test_arbitrary_bytes(market: str, raw: bytes) -> None:
    decode_checked(DECODERS[market], raw)
    decode_checked(DECODERS[market], b'[{"ev":"T"},' + raw)
    decode_checked(DECODERS[market], memoryview(raw))


@FUZZ
@given(st.sampled_from(MARKETS), st.text(max_size=200), st.sampled_from(["", "\ud800", "\udfff", "\x00"]))
def test_arbitrary_text(market: str, value: str, odd: str) -> None:
    decode_checked(DECODERS[market], value)
    decode_checked(DECODERS[market], '[{"ev":"T","sym":"' + odd + value + '"}]')
