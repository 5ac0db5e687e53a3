"""The C pass (``tickwire._wiretime``) against the exact Python path it stands in for.

Whatever the C pass takes must come out as :func:`tickwire.alpaca.wire.time_of` says; whatever it
does not take it must leave untouched (the Python path then decides, an error included). Checked
on generated times (valid, near-misses and hostile), msgpack Timestamps of every width, and on
whole frames decoded with and without it.
"""

from __future__ import annotations

import datetime as dt
import gc
import struct
import tracemalloc

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwire import speedups
from tickwire.alpaca import decoder as alpaca_decoder
from tickwire.alpaca.models import Correction, Quote, Trade
from tickwire.alpaca.wire import TimeValue, time_of
from tickwire.sim.alpaca import wire as sim_wire

Ext = msgspec.msgpack.Ext


class Item(msgspec.Struct):
    timestamp: TimeValue = 0
    conditions: list[str] | str | None = None


def test_the_extension_is_built() -> None:
    """Every machine of this project has a C compiler: the install must have built the pass."""
    assert speedups.available(), "tickwire._wiretime was not built (pip install -e . compiles it)"


needs_c = pytest.mark.skipif(not speedups.available(), reason="tickwire._wiretime not built")


def _finish(value: object) -> tuple[int, object]:
    assert speedups.finish_times is not None
    item = Item(timestamp=value)  # type: ignore[arg-type]
    return speedups.finish_times([item], Ext, ()), item.timestamp


def _python(value: object) -> int | None:
    try:
        return time_of(value)  # type: ignore[arg-type]
    except ValueError:
        return None


def _check(value: object) -> None:
    taken, got = _finish(value)
    if taken:
        assert type(got) is int
        assert got == _python(value), value
    else:
        assert got is value  # left for the Python path, untouched


_DIGITS = st.text(alphabet="0123456789", min_size=0, max_size=12)


@st.composite
def rfc3339(draw: st.DrawFn) -> str:
    """Times near the strict form: every field in or just out of range, 0-12 fraction digits,
    and one of a few separators and endings."""
    year = draw(st.integers(0, 9999))
    month = draw(st.integers(0, 13))
    day = draw(st.integers(0, 32))
    hour = draw(st.integers(0, 25))
    minute = draw(st.integers(0, 61))
    second = draw(st.integers(0, 61))
    frac = draw(_DIGITS)
    sep = draw(st.sampled_from(["T", "T", "T", "t", " "]))
    end = draw(st.sampled_from(["Z", "Z", "Z", "z", "+00:00", "", "-05:00"]))
    dot = "." if frac or draw(st.booleans()) else ""
    return f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{dot}{frac}{end}"


@needs_c
@settings(max_examples=3000, deadline=None)
@given(rfc3339())
def test_strings_match_the_python_path(text: str) -> None:
    _check(text)


@needs_c
@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=34))
def test_any_string_is_taken_only_when_python_agrees(text: str) -> None:
    _check(text)


@needs_c
@settings(max_examples=1000, deadline=None)
@given(st.integers(-(2**62), 2**62))
def test_ns_round_trip_through_the_simulators_text(ns: int) -> None:
    text = sim_wire.rfc3339_ns(ns)
    taken, got = _finish(text)
    if -62135596800 * 10**9 <= ns < 253402300800 * 10**9:  # years 0001-9999
        assert taken == 1
        assert got == ns


@needs_c
@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2021-02-22T15:51:44.208Z", 1614009104208000000),
        ("2021-02-22T15:51:44.208123456Z", 1614009104208123456),
        ("2024-02-29T23:59:59.999999999Z", 1709251199999999999),
        ("1969-12-31T23:59:59.5Z", -500000000),
        ("2262-04-11T23:47:15.854775807Z", 2**63 - 1 - 10**9),  # near the int64 end
    ],
)
def test_known_times(text: str, ns: int) -> None:
    assert _finish(text) == (1, ns)
    assert time_of(text) == ns


@needs_c
@pytest.mark.parametrize(
    "text",
    [
        "2023-02-29T00:00:00Z",  # not a leap year
        "2021-02-22T24:00:00Z",
        "2021-02-22T15:51:60Z",  # a leap second: the Python path's call
        "0000-01-01T00:00:00Z",
        "2021-02-22T15:51:44.Z",
        "2021-02-22T15:51:44.1234567890Z",  # ten digits: Python truncates
        "2021-02-22T15:51:44.208+00:00",
        "2021-02-22t15:51:44Z",
        "2021-02-22T15:51:44.\uff12\uff10\uff18Z",  # non-ASCII (fullwidth) digits
        "2021-02-22T15:51:44.+20Z",
        "2021-02-22T15:51:44.2_0Z",
        "9999-12-31T23:59:59Z",  # beyond int64 ns
    ],
)
def test_left_to_python(text: str) -> None:
    taken, got = _finish(text)
    assert (taken, got) == (0, text)


def _ts64(sec: int, nsec: int) -> Ext:
    return Ext(-1, struct.pack(">Q", nsec << 34 | sec))


@needs_c
@settings(max_examples=1000, deadline=None)
@given(st.integers(0, 2**34 - 1), st.integers(0, 2**30 - 1))
def test_timestamp_64(sec: int, nsec: int) -> None:
    _check(_ts64(sec, nsec))
    assert _finish(_ts64(sec, nsec))[0] == 1


@needs_c
@settings(max_examples=500, deadline=None)
@given(st.integers(-(2**63), 2**63 - 1), st.integers(0, 2**32 - 1))
def test_timestamp_96(sec: int, nsec: int) -> None:
    _check(Ext(-1, struct.pack(">Iq", nsec, sec)))


@needs_c
@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_timestamp_32(sec: int) -> None:
    assert _finish(Ext(-1, struct.pack(">I", sec))) == (1, sec * 10**9)


@needs_c
@pytest.mark.parametrize("ext", [Ext(-1, b"123"), Ext(5, b"12345678"), Ext(-1, b"\0" * 16)])
def test_other_extensions_left_to_python(ext: Ext) -> None:
    assert _finish(ext) == (0, ext)
    assert _python(ext) is None


@needs_c
@pytest.mark.parametrize("value", [None, 1.5, True, b"2021-02-22T15:51:44Z", ["x"]])
def test_other_values_left_to_python(value: object) -> None:
    assert _finish(value) == (0, value)


@needs_c
def test_ints_stay_and_it_stops_at_the_first_value_it_does_not_take() -> None:
    assert speedups.finish_times is not None
    items = [
        Item(timestamp=7),
        Item(timestamp="1970-01-01T00:00:01Z"),
        Item(timestamp=1.5),
        Item(timestamp="1970-01-01T00:00:02Z"),
    ]
    assert speedups.finish_times(items, Ext, ()) == 2  # type: ignore[arg-type]
    assert [i.timestamp for i in items] == [7, 10**9, 1.5, "1970-01-01T00:00:02Z"]


@needs_c
def test_conditions_become_lists_for_the_named_types() -> None:
    assert speedups.finish_times is not None
    items = [Item(conditions="I"), Item(conditions=None), Item(conditions=["@"])]
    assert speedups.finish_times(items, Ext, (Item,)) == 3  # type: ignore[arg-type]
    assert [i.conditions for i in items] == [["I"], [], ["@"]]
    other = [Item(conditions="I")]
    assert speedups.finish_times(other, Ext, ()) == 1  # type: ignore[arg-type]
    assert other[0].conditions == "I"


@needs_c
def test_no_leak() -> None:
    assert speedups.finish_times is not None
    texts = [f"2025-12-01T14:40:{s:02d}.{s * 7919:09d}Z" for s in range(60)]

    def rounds(n: int) -> None:
        for _ in range(n):
            items = [Item(timestamp=t, conditions="X") for t in texts]
            items.append(Item(timestamp=_ts64(1, 2)))
            speedups.finish_times(items, Ext, (Item,))  # type: ignore[arg-type]

    rounds(200)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    rounds(2000)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes kept after 2,000 rounds"


def test_rejects_wrong_arguments() -> None:
    if speedups.finish_times is None:
        pytest.skip("tickwire._wiretime not built")
    with pytest.raises(TypeError):
        speedups.finish_times((), Ext, ())  # type: ignore[arg-type]


def _frame(encoding: str) -> bytes:
    t0 = 1_764_600_000_000_000_000
    parts = []
    for q in range(1, 41):
        when = sim_wire.WireTime(t0 + q * 1_037_000 + (q % 3) * 10**9)
        if q % 4 == 0:
            msg: object = sim_wire.Quote("MSFT", "V", 10.0, 1.0, "V", 11.0, 2.0, ["R"], "C", when)
        else:
            msg = sim_wire.Trade("AAPL", q, "V", 10.0 + q, 1.0, "I" if q % 5 == 0 else ["@"], "C", when)
        parts.append(sim_wire.encode(msg, encoding))  # type: ignore[arg-type]
    return sim_wire.frame(parts, encoding)  # type: ignore[arg-type]


@needs_c
@pytest.mark.parametrize("encoding", ["json", "msgpack"])
def test_frames_decode_the_same_with_and_without_it(encoding: str, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _frame(encoding)
    with_c = alpaca_decoder.AlpacaDecoder().decode(frame)
    monkeypatch.setattr(alpaca_decoder, "_C_FINISH", None)
    without = alpaca_decoder.AlpacaDecoder().decode(frame)
    assert with_c == without
    assert {type(e) for e in with_c} == {Trade, Quote}
    assert all(type(e.timestamp) is int and type(e.conditions) is list for e in with_c)
    assert with_c[4].conditions == ["I"]


@needs_c
def test_a_frame_it_stops_in_is_finished_by_python() -> None:
    good = '{"T":"t","S":"A","p":1,"s":1,"t":"2021-02-22T15:51:44.208Z"}'
    offset = '{"T":"t","S":"B","p":1,"s":1,"t":"2021-02-22T10:51:44.5-05:00"}'
    corr = '{"T":"c","S":"C","x":"V","oi":1,"op":1,"os":1,"oc":"I","ci":2,"cp":2,"cs":2,"cc":["@"],"z":"C","t":"2021-02-22T15:51:44Z"}'
    events = alpaca_decoder.AlpacaDecoder().decode(f"[{good},{offset},{corr}]".encode())
    assert [type(e) for e in events] == [Trade, Trade, Correction]
    assert events[0].timestamp == 1614009104208000000
    assert events[1].timestamp == 1614009104500000000
    assert events[2].original_conditions == ["I"]
    assert dt.datetime.fromtimestamp(events[2].timestamp / 1e9, dt.UTC).minute == 51
