"""MassiveDecoder: (cluster, ev) dispatch, drift repair, bad input, counters, round trip."""

from __future__ import annotations

import json
from typing import Any, cast

import msgspec
import pytest

from tickwire.errors import ConfigError
from tickwire.events import DecodeError, Event, RawEvent, Status
from tickwire.massive import models as m
from tickwire.massive.decoder import MAX_ERROR_DATA, MassiveDecoder, encode
from tickwire.massive.enums import Market

SPEC_TRADE = (
    b'{"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,"s":100,"c":[0,12],'
    b'"t":1536036818784,"q":3681328}'
)
CONNECTED = {"ev": "status", "status": "connected", "message": "Connected Successfully"}


def frame(*elements: dict[str, Any]) -> bytes:
    return json.dumps(list(elements)).encode()


def decode_counted(decoder: MassiveDecoder, data: Any) -> list[Event]:
    """Decode and check the counters moved by exactly the DecodeError/RawEvent counts."""
    errors, unknown = decoder.errors, decoder.unknown
    events = decoder.decode(data)
    assert decoder.errors - errors == sum(isinstance(e, DecodeError) for e in events)
    assert decoder.unknown - unknown == sum(isinstance(e, RawEvent) for e in events)
    return events


# --- dispatch ---------------------------------------------------------------------------


def test_spec_trade_frame() -> None:
    decoder = MassiveDecoder("stocks")
    (trade,) = decoder.decode(b"[" + SPEC_TRADE + b"]")
    assert trade == m.EquityTrade(
        symbol="MSFT",
        exchange=4,
        id="12345",
        tape=3,
        price=114.125,
        size=100,
        conditions=[0, 12],
        timestamp=1536036818784,
        sequence_number=3681328,
    )
    assert (decoder.errors, decoder.unknown) == (0, 0)


@pytest.mark.parametrize(
    ("market", "ev", "cls"),
    [
        ("stocks", "A", m.EquityAgg),
        ("stocks", "AM", m.EquityAggMin),
        ("options", "A", m.EquityAgg),
        ("indices", "A", m.IndexAgg),
        ("indices", "AM", m.IndexAggMin),
        ("futures", "A", m.FuturesAgg),
        ("futures", "AM", m.FuturesAggMin),
        ("futures", "T", m.FuturesTrade),
        ("futures", "Q", m.FuturesQuote),
        ("stocks", "T", m.EquityTrade),
        ("options", "Q", m.EquityQuote),
        ("crypto", "AM", m.EquityAggMin),
        ("forex", "AM", m.EquityAggMin),
        ("forex", "CA", m.ForexAgg),
        ("forex", "CAS", m.ForexAggSec),
        ("crypto", "XA", m.CryptoAgg),
        ("crypto", "XAS", m.CryptoAggSec),
        ("crypto", "LV", m.LaunchpadValue),
        ("forex", "FMV", m.FairMarketValue),
    ],
)
def test_dispatch_is_by_cluster_and_ev(market: str, ev: str, cls: type[Event]) -> None:
    (event,) = MassiveDecoder(market).decode(frame({"ev": ev}))
    assert type(event) is cls


@pytest.mark.parametrize("market", [m_ for m_ in Market if m_.base == "futures"])
def test_every_futures_path_uses_futures_events(market: Market) -> None:
    for arg in (market, market.value, market.name):
        events = MassiveDecoder(arg).decode(frame({"ev": "T", "sym": "ESZ4"}, {"ev": "A"}, {"ev": "Q"}))
        assert [type(e) for e in events] == [m.FuturesTrade, m.FuturesAgg, m.FuturesQuote]


@pytest.mark.parametrize(
    ("market", "ev"),
    [
        ("stocks", "XT"),
        ("stocks", "V"),
        ("options", "LULD"),
        ("options", "NOI"),
        ("indices", "T"),
        ("crypto", "T"),
    ],
)
def test_event_of_another_cluster_is_raw(market: str, ev: str) -> None:
    decoder = MassiveDecoder(market)
    events = decode_counted(decoder, frame({"ev": ev, "sym": "X"}))
    assert events == [RawEvent(type=ev, data=json.dumps({"ev": ev, "sym": "X"}).encode())]
    assert (decoder.errors, decoder.unknown) == (0, 1)


def test_unknown_market_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown market"):
        MassiveDecoder("bonds")


def test_mixed_frame_keeps_order() -> None:
    decoder = MassiveDecoder("stocks")
    events = decode_counted(
        decoder,
        frame(
            CONNECTED,
            {"ev": "T", "sym": "AAPL", "p": 1.5},
            {"ev": "status", "status": "success", "message": "subscribed to: T.AAPL"},
            {"ev": "Q", "sym": "AAPL", "bp": 1.0},
            {"ev": "AM", "sym": "AAPL", "v": 10},
        ),
    )
    assert events == [
        Status(status="connected", message="Connected Successfully"),
        m.EquityTrade(symbol="AAPL", price=1.5),
        Status(status="success", message="subscribed to: T.AAPL"),
        m.EquityQuote(symbol="AAPL", bid_price=1.0),
        m.EquityAggMin(symbol="AAPL", volume=10),
    ]


def test_missing_keys_are_none() -> None:
    decoder = MassiveDecoder("stocks")
    (trade,) = decoder.decode(b'[{"ev":"T","sym":"AMZN","p":3000.5,"s":5,"t":1,"q":2}]')
    assert isinstance(trade, m.EquityTrade)
    assert trade.conditions is None and trade.exchange is None and trade.id is None
    (status,) = decoder.decode(b'[{"ev":"status"}]')
    assert status == Status(status="", message="")


def test_empty_list() -> None:
    decoder = MassiveDecoder("stocks")
    assert decoder.decode(b"[]") == []
    assert decoder.decode(b"  [ ]\n") == []
    assert (decoder.errors, decoder.unknown) == (0, 0)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, str])
def test_input_types(kind: type) -> None:
    data = b"[" + SPEC_TRADE + b',{"ev":"ZZ"}]'
    value: Any = data.decode() if kind is str else kind(data)
    events = MassiveDecoder("stocks").decode(value)
    assert isinstance(events[0], m.EquityTrade) and events[0].symbol == "MSFT"
    assert events[1] == RawEvent(type="ZZ", data=b'{"ev":"ZZ"}')


# --- type drift -----------------------------------------------------------------------


def test_exchange_as_string_is_coerced_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    decoder = MassiveDecoder("forex")
    monkeypatch.setattr(MassiveDecoder, "_decode_slow", lambda self, frame: pytest.fail("slow path"))
    (quote,) = decoder.decode(
        b'[{"ev":"C","p":"USD/CNH","x":"44","a":6.83366,"b":6.83363,"t":1536036818784}]'
    )
    assert quote == m.ForexQuote(
        pair="USD/CNH", exchange_id=44, ask_price=6.83366, bid_price=6.83363, timestamp=1536036818784
    )
    (trade,) = MassiveDecoder("stocks").decode(b'[{"ev":"T","x":"4","p":"114.5","s":100.0,"q":"7"}]')
    assert trade == m.EquityTrade(exchange=4, price=114.5, size=100, sequence_number=7)
    assert isinstance(trade, m.EquityTrade) and type(trade.size) is int


def test_trade_id_keeps_its_wire_type() -> None:
    events = MassiveDecoder("stocks").decode(b'[{"ev":"T","i":"12345"},{"ev":"T","i":12345}]')
    assert [e.id for e in cast(list[m.EquityTrade], events)] == ["12345", 12345]


@pytest.mark.parametrize(
    ("market", "element", "expected"),
    [
        (
            "stocks",
            {"ev": "LULD", "sym": "MSFT", "h": 2.0},
            m.LimitUpLimitDown(symbol="MSFT", high_price=2.0),
        ),
        (
            "stocks",
            {"ev": "NOI", "sym": "NTEST.Q", "at": 930},
            m.Imbalance(symbol="NTEST.Q", auction_time=930),
        ),
        ("stocks", {"ev": "T", "T": "MSFT", "p": 1.0}, m.EquityTrade(symbol="MSFT", price=1.0)),
        ("stocks", {"ev": "Q", "T": "MSFT"}, m.EquityQuote(symbol="MSFT")),
        ("stocks", {"ev": "AM", "T": "MSFT"}, m.EquityAggMin(symbol="MSFT")),
        ("stocks", {"ev": "FMV", "T": "AAPL", "fmv": 1.5}, m.FairMarketValue(ticker="AAPL", fmv=1.5)),
        ("crypto", {"ev": "LV", "T": "X:BTC-USD"}, m.LaunchpadValue(symbol="X:BTC-USD")),
        ("indices", {"ev": "V", "sym": "I:SPX", "val": 3.5}, m.IndexValue(ticker="I:SPX", value=3.5)),
        ("indices", {"ev": "A", "T": "I:SPX"}, m.IndexAgg(symbol="I:SPX")),
        ("futures", {"ev": "T", "T": "ESZ4"}, m.FuturesTrade(symbol="ESZ4")),
        ("futures", {"ev": "Q", "T": "ESZ4"}, m.FuturesQuote(symbol="ESZ4")),
        ("futures", {"ev": "AM", "T": "ESZ4"}, m.FuturesAggMin(symbol="ESZ4")),
        # the expected key wins when both are present
        ("stocks", {"ev": "LULD", "T": "MSFT", "sym": "OTHER"}, m.LimitUpLimitDown(symbol="MSFT")),
        ("stocks", {"ev": "T", "sym": "MSFT", "T": "OTHER"}, m.EquityTrade(symbol="MSFT")),
        # a null expected key is filled from the other one
        ("stocks", {"ev": "T", "sym": None, "T": "MSFT"}, m.EquityTrade(symbol="MSFT")),
    ],
)
def test_t_and_sym_drift_is_repaired(market: str, element: dict[str, Any], expected: Event) -> None:
    decoder = MassiveDecoder(market)
    events = decode_counted(decoder, frame({"ev": "status", "status": "x"}, element, {"ev": "status"}))
    assert events[1] == expected
    assert [type(e) for e in events[::2]] == [Status, Status]
    assert (decoder.errors, decoder.unknown) == (0, 0)


@pytest.mark.parametrize(
    ("element", "pair"),
    [
        ({"ev": "C", "pair": "EUR/USD", "a": 1.1}, "EUR/USD"),
        ({"ev": "C", "p": "EUR/USD", "pair": "OTHER", "a": 1.1}, "EUR/USD"),
        ({"ev": "C", "p": 1.0852, "pair": "EUR/USD", "a": 1.1}, "EUR/USD"),  # p used for a price
    ],
)
def test_pair_and_p_drift_on_forex_quotes(element: dict[str, Any], pair: str) -> None:
    decoder = MassiveDecoder("forex")
    (quote,) = decode_counted(decoder, frame(element))
    assert quote == m.ForexQuote(pair=pair, ask_price=1.1)
    assert decoder.errors == 0


def test_slow_path_coercions() -> None:
    decoder = MassiveDecoder("stocks")
    events = decode_counted(
        decoder,
        frame(
            {"ev": "T", "sym": "A", "ds": 1.5, "c": 12, "s": "3.0", "x": True},  # bool stays an error
            {"ev": "T", "sym": "A", "ds": 1.5, "c": 12, "s": "3.0"},
            {"ev": "AM", "sym": "A", "dv": 10, "dav": 2.5e3, "otc": None},
            {"ev": "LULD", "T": 5, "i": "21"},
            {"ev": "status", "status": None, "message": 5},
        ),
    )
    assert isinstance(events[0], DecodeError) and "$.x" in events[0].error
    assert events[1] == m.EquityTrade(symbol="A", fractional_shares="1.5", conditions=[12], size=3)
    assert events[2] == m.EquityAggMin(
        symbol="A", fractional_volume="10", fractional_accumulated_volume="2500.0"
    )
    assert events[3] == m.LimitUpLimitDown(symbol="5", indicators=[21])
    assert events[4] == Status(status="", message="5")
    assert (decoder.errors, decoder.unknown) == (1, 0)


# --- timestamps -------------------------------------------------------------------------


def test_timestamp_units_are_kept_and_normalised() -> None:
    decoder = MassiveDecoder("stocks")
    events = decoder.decode(
        frame(
            {"ev": "T", "t": 1536036818784},  # ms
            {"ev": "LULD", "t": 1601316752683746},  # µs
            {"ev": "NOI", "t": 1601318039223013600},  # ns
            {"ev": "FMV", "t": 1678220098130},  # ms although documented as ns
        )
    )
    assert [getattr(e, "timestamp", None) or getattr(e, "time_stamp", None) for e in events] == [
        1536036818784,
        1601316752683746,
        1601318039223013600,
        1678220098130,
    ]
    assert [cast(m.MassiveEvent, e).time_ns for e in events] == [
        1536036818784000000,
        1601316752683746000,
        1601318039223013600,
        1678220098130000000,
    ]


# --- bad input --------------------------------------------------------------------------


def test_unknown_ev_becomes_raw_event_with_element_bytes() -> None:
    decoder = MassiveDecoder("stocks")
    data = b'[ {"ev":"T","sym":"A"} , {"ev":"NEW", "x": [1, {"y": "\xc3\xa9"}]} ,{"ev":"Q"}]'
    events = decode_counted(decoder, data)
    assert events == [
        m.EquityTrade(symbol="A"),
        RawEvent(type="NEW", data=b'{"ev":"NEW", "x": [1, {"y": "\xc3\xa9"}]}'),
        m.EquityQuote(),
    ]
    assert (decoder.errors, decoder.unknown) == (0, 1)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b" ",
        b"[",
        b"[{",
        b'[{"ev":"T","sym":"MSFT"',
        b'[{"ev":"T"},',
        b"nope",
        b"\xff\xfe",
        b"]",
        b"[}",
        b"{",
    ],
)
def test_malformed_frame_is_one_decode_error(data: bytes) -> None:
    decoder = MassiveDecoder("stocks")
    events = decode_counted(decoder, data)
    assert len(events) == 1
    (error,) = events
    assert isinstance(error, DecodeError)
    assert error.error.startswith("malformed frame")
    assert error.data == data
    assert (decoder.errors, decoder.unknown) == (1, 0)


@pytest.mark.parametrize("data", [b"5", b'"text"', b"null", b"true", b"1e999"])
def test_json_scalar_frame_is_malformed(data: bytes) -> None:
    decoder = MassiveDecoder("stocks")
    (error,) = decode_counted(decoder, data)
    assert isinstance(error, DecodeError) and error.error.startswith("malformed frame")


def test_partial_frame_of_valid_events_loses_nothing_silently() -> None:
    whole = b"[" + SPEC_TRADE + b"," + SPEC_TRADE + b"]"
    decoder = MassiveDecoder("stocks")
    for cut in range(len(whole)):
        events = decoder.decode(whole[:cut])
        assert len(events) == 1 and isinstance(events[0], DecodeError), cut
    assert decoder.errors == len(whole)
    assert len(decoder.decode(whole)) == 2


def test_single_object_frame() -> None:
    decoder = MassiveDecoder("stocks")
    assert decode_counted(decoder, SPEC_TRADE)[0] == decoder.decode(b"[" + SPEC_TRADE + b"]")[0]
    assert decode_counted(decoder, b'  {"ev":"status","status":"connected"}\n') == [
        Status(status="connected")
    ]
    assert decode_counted(decoder, b'{"ev":"XYZ","a":1}') == [
        RawEvent(type="XYZ", data=b'{"ev":"XYZ","a":1}')
    ]
    (error,) = decode_counted(decoder, b'{"sym":"A"}')
    assert isinstance(error, DecodeError) and error.error == "element 0: element has no 'ev'"
    assert (decoder.errors, decoder.unknown) == (1, 1)


def test_bad_elements_are_errors_and_good_ones_survive_in_order() -> None:
    decoder = MassiveDecoder("stocks")
    events = decode_counted(
        decoder,
        b'[{"ev":"T","sym":"A"}, 5, "T", null, [1], {"sym":"B"}, {"ev":7}, {"ev":null},'
        b' {"ev":"T","p":"abc"}, {"ev":"T","c":{"x":1}}, {"ev":"T","p":1e999}, {"ev":"Q","sym":"C"}]',
    )
    assert events[0] == m.EquityTrade(symbol="A")
    assert events[-1] == m.EquityQuote(symbol="C")
    errors = events[1:-1]
    assert all(isinstance(e, DecodeError) for e in errors)
    messages = [cast(DecodeError, e).error for e in errors]
    assert messages[0] == "element 1: element is a JSON number, not an object"
    assert messages[1] == "element 2: element is a JSON string, not an object"
    assert messages[2] == "element 3: element is a JSON null, not an object"
    assert messages[3] == "element 4: element is a JSON array, not an object"
    assert messages[4] == "element 5: element has no 'ev'"
    assert messages[5] == "element 6: element's 'ev' is not a string"
    assert messages[6] == "element 7: element has no 'ev'"
    assert messages[7].startswith("element 8 (ev='T'): ") and "$.p" in messages[7]
    assert messages[8].startswith("element 9 (ev='T'): ") and "$.c" in messages[8]
    assert messages[9].startswith("element 10: ") and "out of range" in messages[9] and "$.p" in messages[9]
    assert [cast(DecodeError, e).data for e in errors[:4]] == [b"5", b'"T"', b"null", b"[1]"]
    assert (decoder.errors, decoder.unknown) == (10, 0)


def test_invalid_utf8_inside_one_element() -> None:
    decoder = MassiveDecoder("stocks")
    events = decode_counted(
        decoder, b'[{"ev":"T","sym":"A"},{"ev":"T","sym":"\xff\xfe"},{"ev":"T","sym":"C"}]'
    )
    assert events[0] == m.EquityTrade(symbol="A")
    assert isinstance(events[1], DecodeError) and events[1].data == b'{"ev":"T","sym":"\xff\xfe"}'
    assert events[2] == m.EquityTrade(symbol="C")
    assert decoder.errors == 1


def test_lone_surrogate_in_str_frame() -> None:
    decoder = MassiveDecoder("stocks")
    (error,) = decode_counted(decoder, '[{"ev":"T","sym":"\ud800"}]')
    assert isinstance(error, DecodeError)
    assert error.data == '[{"ev":"T","sym":"\ud800"}]'.encode("utf-8", "surrogatepass")


def test_huge_numbers() -> None:
    decoder = MassiveDecoder("stocks")
    big = 10**40
    events = decode_counted(decoder, f'[{{"ev":"T","t":{big},"s":{big}}},{{"ev":"T","p":1e400}}]')
    assert events[0] == m.EquityTrade(timestamp=big, size=big)  # msgspec decodes big ints exactly
    assert isinstance(events[1], DecodeError) and "out of range" in events[1].error
    assert decoder.errors == 1


def test_deep_nesting_never_raises() -> None:
    decoder = MassiveDecoder("stocks")
    for data in (
        b"[" * 100_000,
        b"[" * 5_000 + b"]" * 5_000,
        b'[{"ev":"T","x":' + b"[" * 5000 + b"]" * 5000 + b"}]",
    ):
        (error,) = decode_counted(decoder, data)
        assert isinstance(error, DecodeError)
        assert len(error.data) == min(len(data), MAX_ERROR_DATA)
    nested_unknown = b'[{"ev":"T","sym":"A"},{"ev":"T","junk":' + b"[" * 50 + b"]" * 50 + b"}]"
    assert decode_counted(decoder, nested_unknown) == [m.EquityTrade(symbol="A"), m.EquityTrade()]


def test_error_data_is_truncated() -> None:
    decoder = MassiveDecoder("stocks")
    data = b"[" + b"x" * 1_000_000
    (error,) = decoder.decode(data)
    assert isinstance(error, DecodeError) and error.data == data[:MAX_ERROR_DATA]
    element = b'{"ev":"T","p":"' + b"y" * 10_000 + b'"}'
    (error,) = decoder.decode(b"[" + element + b"]")
    assert isinstance(error, DecodeError) and error.data == element[:MAX_ERROR_DATA]


def test_non_frame_objects_never_raise() -> None:
    decoder = MassiveDecoder("stocks")
    for value in (None, 5, 1.5, object(), [b"[]"], {"ev": "T"}):
        (error,) = decoder.decode(cast(Any, value))
        assert isinstance(error, DecodeError)
    assert decoder.errors == 6


def test_counters_accumulate_exactly() -> None:
    decoder = MassiveDecoder("crypto")
    decoder.decode(b'[{"ev":"XT"},{"ev":"T"},{"ev":"XQ","bp":"x"}]')  # 1 unknown, 1 error
    decoder.decode(b"garbage")  # 1 error
    decoder.decode(b'[{"ev":"XL2","b":[[1,2]]},{"ev":"Z1"},{"ev":"Z2"}]')  # 2 unknown
    decoder.decode(b'[{"ev":"XA","v":1.5}]')  # clean
    assert (decoder.errors, decoder.unknown) == (2, 3)
    assert repr(decoder) == "MassiveDecoder('crypto', errors=2, unknown=3)"


# --- encode and round trip -------------------------------------------------------------

ROUND_TRIP: dict[str, list[Event]] = {
    "stocks": [
        Status(status="connected", message="Connected Successfully"),
        m.EquityTrade(
            symbol="MSFT", exchange=4, id="12345", tape=3, price=114.125, size=100, conditions=[0, 12]
        ),
        m.EquityTrade(symbol="X", id=7, fractional_shares="0.5", trf_id=202, trf_timestamp=1),
        m.EquityQuote(symbol="MSFT", bid_price=1.0, ask_size=3, indicators=[604], condition=0),
        m.EquityAgg(symbol="A", volume=1, accumulated_volume=2.5, otc=True, fractional_volume="1.5"),
        m.EquityAggMin(symbol="A", open=1.0, close=2.0, start_timestamp=1, end_timestamp=2),
        m.LimitUpLimitDown(symbol="MSFT", high_price=2.0, indicators=[]),
        m.Imbalance(symbol="N", auction_type="M", paired_quantity=4, book_clearing_price=25.03),
        m.FairMarketValue(ticker="AAPL", fmv=189.22),
        m.LaunchpadValue(symbol="AAPL", value=1.0, timestamp=1678220098130),
    ],
    "forex": [
        m.ForexQuote(pair="EUR/USD", exchange_id=44, ask_price=1.1, bid_price=1.0),
        m.ForexAgg(pair="EUR/USD", volume=20),
        m.ForexAggSec(pair="EUR/USD", volume=2.5),
        m.EquityAggMin(symbol="C:EURUSD"),
    ],
    "crypto": [
        m.CryptoTrade(pair="BTC-USD", id="1", size=0.5, conditions=[1], received_timestamp=3),
        m.CryptoQuote(pair="BTC-USD", bid_size=0.48),
        m.CryptoAgg(pair="BTC-USD", avg_trade_size=73),
        m.CryptoAggSec(pair="BTC-USD", vwap=1.5),
        m.Level2Book(pair="BTC-USD", bid_prices=[[1.0, 2.0]], ask_prices=[]),
        m.FairMarketValue(ticker="X:BTC-USD", fmv=1.0),
    ],
    "indices": [m.IndexValue(ticker="I:SPX", value=1.5), m.IndexAgg(symbol="I:SPX"), m.IndexAggMin(low=1.0)],
    "futures/cbot": [
        m.FuturesTrade(symbol="ZCH5", price=1.0, size=2, sequence_number=3),
        m.FuturesQuote(symbol="ZCH5", bid_timestamp=1, ask_timestamp=2, sip_timestamp=3),
        m.FuturesAgg(symbol="ZCH5", total_value=1.5, transactions=4),
        m.FuturesAggMin(symbol="ZCH5", total_value=15),
    ],
}


@pytest.mark.parametrize("market", list(ROUND_TRIP))
def test_encode_decode_round_trip(market: str) -> None:
    events = ROUND_TRIP[market]
    decoder = MassiveDecoder(market)
    data = encode(events)
    assert data.startswith(b"[{") and data.endswith(b"}]")
    decoded = decoder.decode(data)
    assert decoded == events
    assert [type(e) for e in decoded] == [type(e) for e in events]
    assert encode(decoded) == data
    assert decoder.decode(encode(iter(events))) == events
    assert (decoder.errors, decoder.unknown) == (0, 0)


def test_encode_single_event_and_wire_shape() -> None:
    assert encode(m.EquityTrade(symbol="MSFT", price=1.0)) == b'{"ev":"T","sym":"MSFT","p":1.0}'
    assert encode([]) == b"[]"
    assert json.loads(encode([m.ForexQuote(pair="EUR/USD")])) == [{"ev": "C", "p": "EUR/USD"}]
    # The spec trade survives decode → encode → parse unchanged.
    (trade,) = MassiveDecoder("stocks").decode(b"[" + SPEC_TRADE + b"]")
    assert json.loads(encode([trade])) == [json.loads(SPEC_TRADE)]


def test_decoded_events_are_plain_structs() -> None:
    events = MassiveDecoder("stocks").decode(b"[" + SPEC_TRADE + b"]")
    assert type(events) is list
    assert msgspec.structs.replace(events[0], price=1.0).price == 1.0  # type: ignore[attr-defined]
