"""Massive wire models: attribute mapping per event type, class layout, properties, and
compatibility with the official ``massive`` client's models."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import msgspec
import pytest
from massive.websocket import MARKET_EVENT_MAP as OFFICIAL_EVENT_MAP  # type: ignore[import-untyped]
from massive.websocket.models import Market as OfficialMarket  # type: ignore[import-untyped]

from tickwire.events import Event, Status
from tickwire.massive import catalog
from tickwire.massive import models as m
from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.enums import Market

EVENT_MAPS = {family: catalog.event_map(family) for family in catalog.FAMILIES}

# (cluster, wire element, expected class, expected attributes). Elements are the spec's
# examples (polygon.md §1.2, §1.5, the official websocket.json) or realistic ones built
# from §1.5's field lists.
CASES: list[tuple[str, dict[str, Any], type[Event], dict[str, Any]]] = [
    # --- stocks
    (
        "stocks",
        {
            "ev": "T", "sym": "MSFT", "x": 4, "i": "12345", "z": 3, "p": 114.125, "s": 100,
            "c": [0, 12], "t": 1536036818784, "q": 3681328,
        },
        m.EquityTrade,
        {
            "symbol": "MSFT", "exchange": 4, "id": "12345", "tape": 3, "price": 114.125, "size": 100,
            "conditions": [0, 12], "timestamp": 1536036818784, "sequence_number": 3681328,
            "fractional_shares": None, "trf_id": None, "trf_timestamp": None,
        },
    ),
    (
        "stocks",
        {
            "ev": "T", "sym": "AAPL", "x": 4, "i": "52983525034127", "z": 3, "p": 187.4, "s": 0,
            "ds": "0.25", "c": [12, 37], "t": 1700000000123, "q": 99, "trfi": 202, "trft": 1700000000120,
        },
        m.EquityTrade,
        {"fractional_shares": "0.25", "trf_id": 202, "trf_timestamp": 1700000000120, "size": 0},
    ),
    (
        "stocks",
        {
            "ev": "Q", "sym": "MSFT", "bx": 4, "bp": 114.125, "bs": 100, "ax": 7, "ap": 114.128,
            "as": 160, "c": 0, "i": [604], "t": 1536036818784, "q": 50385480, "z": 3,
        },
        m.EquityQuote,
        {
            "symbol": "MSFT", "bid_exchange_id": 4, "bid_price": 114.125, "bid_size": 100,
            "ask_exchange_id": 7, "ask_price": 114.128, "ask_size": 160, "condition": 0,
            "indicators": [604], "timestamp": 1536036818784, "sequence_number": 50385480, "tape": 3,
        },
    ),
    (
        "stocks",
        {
            "ev": "A", "sym": "SPCE", "v": 200, "av": 8642007, "op": 25.66, "vw": 25.3981,
            "o": 25.39, "c": 25.39, "h": 25.39, "l": 25.39, "a": 25.3714, "z": 50,
            "s": 1610144868000, "e": 1610144869000,
        },
        m.EquityAgg,
        {
            "symbol": "SPCE", "volume": 200, "accumulated_volume": 8642007, "official_open_price": 25.66,
            "vwap": 25.3981, "open": 25.39, "close": 25.39, "high": 25.39, "low": 25.39,
            "aggregate_vwap": 25.3714, "average_size": 50, "start_timestamp": 1610144868000,
            "end_timestamp": 1610144869000, "otc": None,
        },
    ),
    (
        "stocks",
        {
            "ev": "AM", "sym": "GTE", "v": 4110, "av": 9470157, "op": 0.4372, "vw": 0.4488,
            "o": 0.4488, "c": 0.4486, "h": 0.4489, "l": 0.4486, "a": 0.4352, "z": 685,
            "s": 1610144640000, "e": 1610144700000, "otc": True, "dv": "4110.5", "dav": "9470157.25",
        },
        m.EquityAggMin,
        {
            "symbol": "GTE", "volume": 4110, "otc": True, "fractional_volume": "4110.5",
            "fractional_accumulated_volume": "9470157.25", "end_timestamp": 1610144700000,
        },
    ),
    (
        "stocks",
        {
            "ev": "LULD", "T": "MSFT", "h": 218.96, "l": 198.11, "i": [21], "z": 3, "t": 1601316752683746,
            "q": 290317,
        },
        m.LimitUpLimitDown,
        {
            "symbol": "MSFT", "high_price": 218.96, "low_price": 198.11, "indicators": [21], "tape": 3,
            "timestamp": 1601316752683746, "sequence_number": 290317,
        },
    ),
    (
        "stocks",
        {
            "ev": "NOI", "T": "NTEST.Q", "t": 1601318039223013600, "at": 930, "a": "M", "i": 44,
            "x": 10, "o": 480, "p": 440, "b": 25.03,
        },
        m.Imbalance,
        {
            "symbol": "NTEST.Q", "time_stamp": 1601318039223013600, "auction_time": 930,
            "auction_type": "M", "symbol_sequence": 44, "exchange_id": 10, "imbalance_quantity": 480,
            "paired_quantity": 440, "book_clearing_price": 25.03,
        },
    ),
    (
        "stocks",
        {"ev": "FMV", "fmv": 189.22, "sym": "AAPL", "t": 1678220098130},
        m.FairMarketValue,
        {"fmv": 189.22, "ticker": "AAPL", "timestamp": 1678220098130},
    ),
    (
        "stocks",
        {"ev": "LV", "val": 189.22, "sym": "AAPL", "t": 1678220098130},
        m.LaunchpadValue,
        {"value": 189.22, "symbol": "AAPL", "timestamp": 1678220098130},
    ),
    # --- options
    (
        "options",
        {
            "ev": "T", "sym": "O:AMC210827C00037000", "x": 65, "p": 1.54, "s": 1, "c": [233],
            "t": 1629320471337, "q": 9131,
        },
        m.EquityTrade,
        {
            "symbol": "O:AMC210827C00037000", "exchange": 65, "price": 1.54, "size": 1, "id": None,
            "tape": None,
        },
    ),
    (
        "options",
        {
            "ev": "Q", "sym": "O:SPY241220P00720000", "bx": 302, "ax": 302, "bp": 9.71, "ap": 9.81,
            "bs": 17, "as": 24, "t": 1644506128351, "q": 844090872,
        },
        m.EquityQuote,
        {
            "symbol": "O:SPY241220P00720000", "bid_price": 9.71, "ask_size": 24, "condition": None,
            "tape": None,
        },
    ),
    (
        "options",
        {
            "ev": "AM", "sym": "O:ONEM220121C00025000", "v": 2, "av": 8, "op": 2.2, "vw": 2.05, "o": 2.05,
            "c": 2.05, "h": 2.05, "l": 2.05, "a": 2.1312, "z": 1, "s": 1632419640000, "e": 1632419700000,
        },
        m.EquityAggMin,
        {"symbol": "O:ONEM220121C00025000", "volume": 2, "accumulated_volume": 8, "aggregate_vwap": 2.1312},
    ),
    (
        "options",
        {
            "ev": "A", "sym": "O:SPY241220P00720000", "v": 5, "o": 9.7, "c": 9.8, "h": 9.8, "l": 9.7, "s": 1,
            "e": 2,
        },
        m.EquityAgg,
        {"volume": 5, "open": 9.7, "close": 9.8},
    ),
    # --- forex
    (
        "forex",
        {"ev": "C", "p": "USD/CNH", "x": 44, "a": 6.83366, "b": 6.83363, "t": 1536036818784},
        m.ForexQuote,
        {
            "pair": "USD/CNH", "exchange_id": 44, "ask_price": 6.83366, "bid_price": 6.83363,
            "timestamp": 1536036818784,
        },
    ),
    (
        "forex",
        {
            "ev": "CA", "pair": "USD/EUR", "o": 0.8687, "c": 0.86889, "h": 0.86889, "l": 0.8686, "v": 20,
            "s": 1539145740000,
        },
        m.ForexAgg,
        {
            "pair": "USD/EUR", "open": 0.8687, "close": 0.86889, "high": 0.86889, "low": 0.8686, "volume": 20,
            "start_timestamp": 1539145740000, "end_timestamp": None,
        },
    ),
    (
        "forex",
        {
            "ev": "CAS", "pair": "EUR/USD", "o": 1.0852, "c": 1.0853, "h": 1.0854, "l": 1.0851, "v": 7,
            "s": 1, "e": 2,
        },
        m.ForexAggSec,
        {"pair": "EUR/USD", "volume": 7, "end_timestamp": 2},
    ),
    (
        "forex",
        {
            "ev": "AM", "sym": "C:EURUSD", "v": 71, "av": 2431, "op": 1.085, "vw": 1.0852, "o": 1.0851,
            "c": 1.0853, "h": 1.0854, "l": 1.085, "a": 1.0849, "z": 1, "s": 1700000040000, "e": 1700000100000,
        },
        m.EquityAggMin,
        {"symbol": "C:EURUSD", "volume": 71},
    ),
    # --- crypto
    (
        "crypto",
        {
            "ev": "XT", "pair": "BTC-USD", "p": 33021.9, "t": 1610462007425, "s": 0.01672112, "c": [1],
            "i": "14272084", "x": 1, "r": 1610462007576,
        },
        m.CryptoTrade,
        {
            "pair": "BTC-USD", "price": 33021.9, "timestamp": 1610462007425, "size": 0.01672112,
            "conditions": [1], "id": "14272084", "exchange": 1, "received_timestamp": 1610462007576,
        },
    ),
    (
        "crypto",
        {
            "ev": "XT", "pair": "ETH-USD", "p": 2201.5, "t": 1700000000001, "s": 3, "c": [], "i": 991,
            "x": 2, "r": 2,
        },
        m.CryptoTrade,
        {"id": 991, "size": 3.0, "conditions": []},
    ),
    (
        "crypto",
        {
            "ev": "XQ", "pair": "BTC-USD", "bp": 33052.79, "bs": 0.48, "ap": 33073.19, "as": 0.601,
            "t": 1610462411115, "x": 1, "r": 1610462411128,
        },
        m.CryptoQuote,
        {
            "pair": "BTC-USD", "bid_price": 33052.79, "bid_size": 0.48, "ask_price": 33073.19,
            "ask_size": 0.601, "timestamp": 1610462411115, "exchange_id": 1,
            "received_timestamp": 1610462411128,
        },
    ),
    (
        "crypto",
        {
            "ev": "XA", "pair": "BCD-USD", "v": 951.6112, "vw": 0.7756, "z": 73, "o": 0.772, "c": 0.784,
            "h": 0.784, "l": 0.771, "s": 1610463240000, "e": 1610463300000,
        },
        m.CryptoAgg,
        {
            "pair": "BCD-USD", "volume": 951.6112, "vwap": 0.7756, "avg_trade_size": 73,
            "end_timestamp": 1610463300000,
        },
    ),
    (
        "crypto",
        {
            "ev": "XAS", "pair": "BTC-USD", "v": 0.5, "vw": 33000.1, "z": 1, "o": 1.0, "c": 2.0, "h": 2.0,
            "l": 1.0, "s": 1, "e": 2,
        },
        m.CryptoAggSec,
        {"volume": 0.5, "open": 1.0},
    ),
    (
        "crypto",
        {
            "ev": "XL2", "pair": "BTC-USD", "t": 1610462411115, "r": 1610462411128, "x": 1,
            "b": [[33712.7, 0.0035], [33712.6, 0.00109]], "a": [[33718.23, 3.5527483], [33718.24, 0.0079]],
        },
        m.Level2Book,
        {
            "pair": "BTC-USD", "bid_prices": [[33712.7, 0.0035], [33712.6, 0.00109]],
            "ask_prices": [[33718.23, 3.5527483], [33718.24, 0.0079]], "timestamp": 1610462411115,
            "exchange_id": 1, "received_timestamp": 1610462411128,
        },
    ),
    (
        "crypto",
        {"ev": "FMV", "fmv": 33021.9, "sym": "X:BTC-USD", "t": 1610462007425000000},
        m.FairMarketValue,
        {"fmv": 33021.9, "ticker": "X:BTC-USD"},
    ),
    (
        "crypto",
        {
            "ev": "AM", "sym": "X:BTC-USD", "v": 0.0432, "av": 17.25, "op": 33000.5, "vw": 33021.9,
            "o": 33010.0, "c": 33030.0, "h": 33040.0, "l": 33005.0, "a": 33011.2, "z": 0.01,
            "s": 1610462400000, "e": 1610462460000,
        },
        m.EquityAggMin,
        {"symbol": "X:BTC-USD", "volume": 0.0432, "accumulated_volume": 17.25, "average_size": 0.01},
    ),
    # --- indices
    (
        "indices",
        {"ev": "V", "val": 3988.5, "T": "I:SPX", "t": 1678220098130},
        m.IndexValue,
        {"value": 3988.5, "ticker": "I:SPX", "timestamp": 1678220098130},
    ),
    (
        "indices",
        {
            "ev": "A", "sym": "I:SPX", "op": 3985.67, "o": 3985.67, "c": 3985.67, "h": 3985.67,
            "l": 3985.67, "s": 1678220675805, "e": 1678220675805,
        },
        m.IndexAgg,
        {"symbol": "I:SPX", "official_open_price": 3985.67, "open": 3985.67, "volume": None},
    ),
    (
        "indices",
        {
            "ev": "AM", "sym": "I:NDX", "op": 12000.5, "o": 12001.0, "c": 12003.0, "h": 12004.0,
            "l": 12000.0, "s": 1, "e": 2,
        },
        m.IndexAggMin,
        {"symbol": "I:NDX", "high": 12004.0, "accumulated_volume": None},
    ),
    # --- futures
    (
        "futures",
        {"ev": "T", "sym": "ESZ4", "p": 6001.25, "s": 2, "t": 1732117800123, "q": 1234},
        m.FuturesTrade,
        {"symbol": "ESZ4", "price": 6001.25, "size": 2, "timestamp": 1732117800123, "sequence_number": 1234},
    ),
    (
        "futures/cme",
        {
            "ev": "Q", "sym": "ESZ4", "bp": 6001.0, "bs": 12, "bt": 1732117800100, "ap": 6001.25, "as": 9,
            "at": 1732117800110, "t": 1732117800123,
        },
        m.FuturesQuote,
        {
            "symbol": "ESZ4", "bid_price": 6001.0, "bid_size": 12, "bid_timestamp": 1732117800100,
            "ask_price": 6001.25, "ask_size": 9, "ask_timestamp": 1732117800110,
            "sip_timestamp": 1732117800123,
        },
    ),
    (
        "futures/nymex",
        {
            "ev": "A", "sym": "CLF5", "v": 120, "dv": 8501230, "o": 70.84, "c": 70.86, "h": 70.9, "l": 70.8,
            "n": 42, "s": 1732117800000, "e": 1732117801000,
        },
        m.FuturesAgg,
        {
            "symbol": "CLF5", "volume": 120, "total_value": 8501230, "open": 70.84, "close": 70.86,
            "high": 70.9, "low": 70.8, "transactions": 42, "start_timestamp": 1732117800000,
            "end_timestamp": 1732117801000,
        },
    ),
    (
        "futures/comex",
        {
            "ev": "AM", "sym": "GCG5", "v": 3000, "dv": 7.9e8, "o": 2630.1, "c": 2631.0, "h": 2632.0,
            "l": 2629.5, "n": 900, "s": 1, "e": 2,
        },
        m.FuturesAggMin,
        {"symbol": "GCG5", "total_value": 7.9e8, "transactions": 900},
    ),
]  # fmt: skip

CASE_IDS = [f"{market}-{element['ev']}-{i}" for i, (market, element, _, _) in enumerate(CASES)]

# The official client's model for each of our classes (same name, or the class ours derives from).
OFFICIAL_MODEL_NAMES = [
    "EquityAgg", "CurrencyAgg", "EquityTrade", "CryptoTrade", "EquityQuote", "ForexQuote", "CryptoQuote",
    "Imbalance", "LimitUpLimitDown", "Level2Book", "IndexValue", "LaunchpadValue", "FairMarketValue",
    "FuturesTrade", "FuturesQuote", "FuturesAgg",
]  # fmt: skip


def frame(*elements: dict[str, Any]) -> bytes:
    return json.dumps(list(elements)).encode()


@pytest.mark.parametrize(("market", "element", "cls", "expected"), CASES, ids=CASE_IDS)
def test_every_event_type_decodes_with_right_attributes(
    market: str, element: dict[str, Any], cls: type[Event], expected: dict[str, Any]
) -> None:
    events = MassiveDecoder(market).decode(frame(element))
    assert len(events) == 1
    event = events[0]
    assert type(event) is cls
    assert event.event_type == element["ev"]
    for name, value in expected.items():
        got = getattr(event, name)
        assert got == value, f"{cls.__name__}.{name}: {got!r} != {value!r}"
        assert type(got) is type(value), f"{cls.__name__}.{name}: {type(got)} is not {type(value)}"


@pytest.mark.parametrize(("market", "element", "cls", "expected"), CASES, ids=CASE_IDS)
def test_matches_official_client(
    market: str, element: dict[str, Any], cls: type[Event], expected: dict[str, Any]
) -> None:
    """Every attribute of the official model has the same name and value on ours."""
    official_cls = OFFICIAL_EVENT_MAP[OfficialMarket(market)][element["ev"]]
    official = official_cls.from_dict(dict(element))
    ours = MassiveDecoder(market).decode(frame(element))[0]
    assert isinstance(ours, getattr(m, official_cls.__name__))
    names = [f.name for f in dataclasses.fields(official)]
    assert "event_type" in names
    for name in names:
        assert getattr(ours, name) == getattr(official, name), name


def test_official_model_names_all_exist() -> None:
    import massive.websocket.models as official_models  # type: ignore[import-untyped]

    for name in OFFICIAL_MODEL_NAMES:
        ours = getattr(m, name)
        theirs = getattr(official_models, name)
        assert issubclass(ours, m.MassiveEvent)
        our_attrs = set(ours.__struct_fields__) | {
            n for n in dir(ours) if isinstance(getattr(ours, n), property)
        }
        assert {f.name for f in dataclasses.fields(theirs)} <= our_attrs, name


def test_market_event_map_mirrors_official() -> None:
    """Same ev keys per cluster; each class is (a subclass of) the official one of the same name."""
    for official_market, official_map in OFFICIAL_EVENT_MAP.items():
        ours = catalog.event_map(official_market.value)
        assert set(ours) == set(official_map), official_market
        for ev, official_cls in official_map.items():
            assert issubclass(ours[ev], getattr(m, official_cls.__name__)), (official_market, ev)
    assert set(catalog.FAMILIES) == {"stocks", "options", "indices", "futures", "crypto", "forex"}
    assert catalog.event_map(Market.FuturesCBOT) is catalog.event_map("futures")
    assert catalog.event_map("Stocks") is catalog.event_map(Market.Stocks)


def test_tags_match_the_wire_ev_within_each_cluster() -> None:
    for market, ev_map in EVENT_MAPS.items():
        for ev, cls in ev_map.items():
            assert cls.__struct_config__.tag == ev, (market, ev, cls)


def test_class_hierarchy() -> None:
    assert issubclass(m.EquityAggMin, m.EquityAgg)
    assert issubclass(m.IndexAgg, m.EquityAgg)
    assert issubclass(m.IndexAggMin, m.IndexAgg)
    assert issubclass(m.FuturesAggMin, m.FuturesAgg)
    assert not issubclass(m.FuturesAgg, m.EquityAgg)
    assert not issubclass(m.FuturesTrade, m.EquityTrade)
    assert not issubclass(m.FuturesQuote, m.EquityQuote)
    for agg in (m.ForexAgg, m.ForexAggSec, m.CryptoAgg, m.CryptoAggSec):
        assert issubclass(agg, m.CurrencyAgg)
    for ev_map in EVENT_MAPS.values():
        for cls in ev_map.values():
            assert issubclass(cls, m.MassiveEvent)
            assert issubclass(cls, Event)


def test_is_equity_agg_for_stock_option_and_launchpad_bars() -> None:
    for market in ("stocks", "options", "crypto", "forex"):
        events = MassiveDecoder(market).decode(frame({"ev": "AM", "sym": "X", "v": 1}))
        assert isinstance(events[0], m.EquityAgg), market
    for market in ("stocks", "options"):
        assert isinstance(MassiveDecoder(market).decode(frame({"ev": "A", "sym": "X"}))[0], m.EquityAgg)


def test_all_fields_optional_and_default_none() -> None:
    for ev_map in EVENT_MAPS.values():
        for cls in ev_map.values():
            event = cls()
            for name in cls.__struct_fields__:
                if not name.startswith("_"):
                    assert getattr(event, name) is None, (cls, name)
            assert event.time_ns is None
            assert event.datetime is None


@pytest.mark.parametrize(
    ("event", "ns"),
    [
        (m.EquityTrade(timestamp=1536036818784), 1536036818784_000000),  # ms
        (m.LimitUpLimitDown(timestamp=1601316752683746), 1601316752683746_000),  # µs
        (m.Imbalance(time_stamp=1601318039223013600), 1601318039223013600),  # ns
        (m.FairMarketValue(timestamp=1678220098130), 1678220098130_000000),
        (m.LaunchpadValue(timestamp=1678220098130000000), 1678220098130000000),
        (m.FuturesQuote(sip_timestamp=1732117800123, bid_timestamp=1), 1732117800123_000000),
        (m.EquityAggMin(start_timestamp=1610144640000, end_timestamp=1610144700000), 1610144640000_000000),
        (m.CryptoAgg(start_timestamp=1610463240000), 1610463240000_000000),
        (m.FuturesAgg(start_timestamp=1732117800000), 1732117800000_000000),
        (m.IndexValue(timestamp=1678220098130), 1678220098130_000000),
        (m.Level2Book(timestamp=1610462411115), 1610462411115_000000),
    ],
)
def test_time_ns_normalises_each_unit(event: m.MassiveEvent, ns: int) -> None:
    assert event.time_ns == ns
    expected = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000)
    assert event.datetime == expected
    assert event.datetime is not None and event.datetime.tzinfo is dt.UTC


def test_datetime_value() -> None:
    trade = m.EquityTrade(timestamp=1536036818784)
    assert trade.datetime == dt.datetime(2018, 9, 4, 4, 53, 38, 784000, tzinfo=dt.UTC)
    luld = m.LimitUpLimitDown(timestamp=1601316752683746)
    assert luld.datetime == dt.datetime(2020, 9, 28, 18, 12, 32, 683746, tzinfo=dt.UTC)


def test_bar_end_ns() -> None:
    assert m.EquityAgg(end_timestamp=1610144869000).end_ns == 1610144869000_000000
    assert m.ForexAgg(end_timestamp=1539145800000).end_ns == 1539145800000_000000
    assert m.FuturesAggMin(end_timestamp=1732117860000).end_ns == 1732117860000_000000
    assert m.EquityAgg().end_ns is None


def test_uniform_symbol_accessor() -> None:
    assert m.EquityTrade(symbol="MSFT").symbol == "MSFT"
    assert m.ForexQuote(pair="EUR/USD").symbol == "EUR/USD"
    assert m.ForexAgg(pair="EUR/USD").symbol == "EUR/USD"
    assert m.CryptoTrade(pair="BTC-USD").symbol == "BTC-USD"
    assert m.CryptoQuote(pair="BTC-USD").symbol == "BTC-USD"
    assert m.Level2Book(pair="BTC-USD").symbol == "BTC-USD"
    assert m.IndexValue(ticker="I:SPX").symbol == "I:SPX"
    assert m.FairMarketValue(ticker="X:BTC-USD").symbol == "X:BTC-USD"
    assert m.LaunchpadValue(symbol="AAPL").symbol == "AAPL"
    assert m.Imbalance(symbol="NTEST.Q").symbol == "NTEST.Q"
    assert m.FuturesQuote(symbol="ESZ4").symbol == "ESZ4"
    for ev_map in EVENT_MAPS.values():
        for cls in ev_map.values():
            assert hasattr(cls(), "symbol"), cls


def test_encoding_uses_wire_names_and_omits_missing_fields() -> None:
    trade = m.EquityTrade(symbol="MSFT", price=114.125, size=100, timestamp=1536036818784)
    assert msgspec.json.encode(trade) == b'{"ev":"T","sym":"MSFT","p":114.125,"s":100,"t":1536036818784}'
    assert trade.to_builtins() == {"ev": "T", "sym": "MSFT", "p": 114.125, "s": 100, "t": 1536036818784}
    assert msgspec.json.encode(m.ForexQuote(pair="EUR/USD")) == b'{"ev":"C","p":"EUR/USD"}'
    assert msgspec.json.encode(m.IndexValue(ticker="I:SPX", value=1.5)) == b'{"ev":"V","val":1.5,"T":"I:SPX"}'
    assert msgspec.json.encode(m.IndexAggMin(symbol="I:SPX")) == b'{"ev":"AM","sym":"I:SPX"}'


def test_trip_wire_fields_are_invisible() -> None:
    trade = m.EquityTrade(symbol="MSFT")
    assert repr(trade) == "EquityTrade(symbol='MSFT')"
    assert "T" not in trade.to_builtins()
    assert repr(m.LimitUpLimitDown(symbol="A")) == "LimitUpLimitDown(symbol='A')"


def test_trip_wire_rejects_the_other_ticker_key() -> None:
    """A direct typed decode fails on the unexpected ticker key (the decoder then repairs it)."""
    with pytest.raises(msgspec.ValidationError, match=r"\$\.T"):
        msgspec.json.decode(b'{"ev":"T","T":"MSFT"}', type=m.EquityTrade)
    with pytest.raises(msgspec.ValidationError, match=r"\$\.sym"):
        msgspec.json.decode(b'{"ev":"LULD","sym":"MSFT"}', type=m.LimitUpLimitDown)
    with pytest.raises(msgspec.ValidationError, match=r"\$\.pair"):
        msgspec.json.decode(b'{"ev":"C","pair":"EUR/USD"}', type=m.ForexQuote)


def test_events_are_equal_by_value_and_hashless_gc_free() -> None:
    a = m.EquityTrade(symbol="A", conditions=[1])
    b = m.EquityTrade(symbol="A", conditions=[1])
    assert a == b
    assert a != m.EquityTrade(symbol="B")
    assert m.EquityAgg(symbol="A") != m.EquityAggMin(symbol="A")
    assert type(a).__struct_config__.gc is False


def test_status_is_an_event() -> None:
    status = msgspec.json.decode(
        b'{"ev":"status","status":"connected","message":"Connected Successfully"}', type=Status
    )
    assert status.event_type == "status"
    assert status.message == "Connected Successfully"


def test_valid_examples_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spec-conforming frames never reach the slow path (no trip-wire misfires)."""

    def no_slow_path(self: MassiveDecoder, frame: Any) -> list[Event]:
        raise AssertionError(f"slow path taken for {bytes(frame)!r}")

    monkeypatch.setattr(MassiveDecoder, "_decode_slow", no_slow_path)
    by_market: dict[str, list[dict[str, Any]]] = {}
    for market, element, _, _ in CASES:
        by_market.setdefault(market, []).append(element)
    status = {"ev": "status", "status": "success", "message": "subscribed to: T.MSFT"}
    for market, elements in by_market.items():
        events = MassiveDecoder(market).decode(frame(status, *elements))
        assert len(events) == len(elements) + 1
