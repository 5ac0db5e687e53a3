"""Decoding both key styles and enum forms (the spec's examples), and the order book."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from tickwire.events import DecodeError, RawEvent
from tickwire.polymarket_us.book import Book
from tickwire.polymarket_us.decoder import PolymarketDecoder, parse_time_ns
from tickwire.polymarket_us.events import (
    AccountBalanceSnapshot,
    AccountBalanceUpdate,
    BookCrossed,
    MarketData,
    MarketDataLite,
    OrderSnapshot,
    OrderUpdate,
    PositionUpdate,
    Trade,
)
from tickwire.polymarket_us.wire import to_legacy

USD = '"currency":"USD"'
FRAMES = {
    MarketData: '{"requestId":"md-sub-1","subscriptionType":"SUBSCRIPTION_TYPE_MARKET_DATA","marketData":{"marketSlug":"m1",'
    f'"bids":[{{"px":{{"value":"0.550",{USD}}},"qty":"2.50"}},{{"px":{{"value":"0.555",{USD}}},"qty":"0.50"}}],'
    f'"offers":[{{"px":{{"value":"0.560",{USD}}},"qty":"0.80"}}],"state":"MARKET_STATE_OPEN",'
    f'"stats":{{"lastTradePx":{{"value":"0.55",{USD}}},"sharesTraded":"150000","openInterest":"500000"}},'
    '"transactTime":"2024-01-15T10:30:00Z"}}',
    MarketDataLite: '{"requestId":"l","subscriptionType":"SUBSCRIPTION_TYPE_MARKET_DATA_LITE","marketDataLite":{"marketSlug":"m1",'
    f'"currentPx":{{"value":"0.55",{USD}}},"bestBid":{{"value":"0.54",{USD}}},"bestAsk":null,"bidDepth":5,"askDepth":4,'
    '"sharesTraded":"150000","bidShares":"1200"}}',
    Trade: '{"requestId":"t","subscriptionType":"SUBSCRIPTION_TYPE_TRADE","trade":{"marketSlug":"m1",'
    f'"price":{{"value":"0.555",{USD}}},"quantity":{{"value":"0.50",{USD}}},"tradeTime":"2024-01-15T10:30:00.5Z",'
    '"maker":{"side":"ORDER_SIDE_BUY","intent":"ORDER_INTENT_BUY_LONG"},"taker":{"side":"ORDER_SIDE_SELL","intent":"ORDER_INTENT_SELL_LONG"}}}',
    OrderSnapshot: '{"requestId":"snap-1","subscriptionType":"SUBSCRIPTION_TYPE_ORDER_SNAPSHOT","orderSubscriptionSnapshot":{"orders":[{"id":"order-123",'
    f'"marketSlug":"m1","side":"ORDER_SIDE_BUY","type":"ORDER_TYPE_LIMIT","price":{{"value":"0.555",{USD}}},"quantity":0.5,'
    '"leavesQuantity":0.5,"cumQuantity":0,"state":"ORDER_STATE_PENDING_NEW","intent":"ORDER_INTENT_BUY_LONG","tif":"TIME_IN_FORCE_GOOD_TILL_CANCEL"}],"eof":true}}',
    OrderUpdate: '{"requestId":"o","subscriptionType":"SUBSCRIPTION_TYPE_ORDER","orderSubscriptionUpdate":{"execution":{"id":"exec-456","order":{"id":"order-123"},'
    f'"lastShares":"0.25","lastPx":{{"value":"0.555",{USD}}},"type":"EXECUTION_TYPE_PARTIAL_FILL","tradeId":"trade-789","transactTime":"2024-01-15T10:30:00Z","aggressor":true}}}}}}',
    PositionUpdate: '{"requestId":"p","subscriptionType":"SUBSCRIPTION_TYPE_POSITION","positionSubscription":{'
    f'"beforePosition":{{"netPosition":"1","netPositionDecimal":"1.0000","cost":{{"value":"55.00",{USD}}}}},'
    f'"afterPosition":{{"netPosition":"2","netPositionDecimal":"1.5000","cost":{{"value":"82.50",{USD}}},"marketMetadata":{{"slug":"m1"}}}},'
    '"updateTime":"2024-01-15T10:30:00Z","entryType":"LEDGER_ENTRY_TYPE_ORDER_EXECUTION","tradeId":"trade-789"}}',
    AccountBalanceSnapshot: '{"requestId":"bal-1","subscriptionType":"SUBSCRIPTION_TYPE_ACCOUNT_BALANCE","accountBalancesSnapshot":{"balances":[{"currentBalance":1000.0,"currency":"USD","buyingPower":850.0}]}}',
    AccountBalanceUpdate: '{"requestId":"bal-1","subscriptionType":"SUBSCRIPTION_TYPE_ACCOUNT_BALANCE","accountBalancesUpdate":{"balanceChange":{"beforeBalance":{"currentBalance":1000.0},'
    '"afterBalance":{"currentBalance":999.5},"description":"Order execution","updateTime":"2024-01-15T10:30:00Z","entryType":"LEDGER_ENTRY_TYPE_ORDER_EXECUTION","id":"x"}}}',
}
T0 = 1705314600 * 10**9


def _legacy(frame: str) -> bytes:
    return msgspec.json.encode(to_legacy(msgspec.json.decode(frame)))


@pytest.mark.parametrize("legacy", [False, True], ids=["camelCase", "snake_case"])
@pytest.mark.parametrize("kind", list(FRAMES), ids=[k.__name__ for k in FRAMES])
def test_every_payload_in_both_formats(kind: type, legacy: bool) -> None:
    raw = FRAMES[kind]
    frame = _legacy(raw) if legacy else raw.encode()
    if legacy:
        assert b'"request_id"' in frame and b"SUBSCRIPTION_TYPE" not in frame
    events = PolymarketDecoder().decode(frame)
    assert len(events) == 1 and type(events[0]) is kind, events
    camel = PolymarketDecoder().decode(raw.encode())
    assert events == camel  # both formats give the same event


def test_decoded_values() -> None:
    dec = PolymarketDecoder()
    (md,) = dec.decode(FRAMES[MarketData].encode())
    assert isinstance(md, MarketData) and md.transact_time == T0 and md.stats is not None
    assert md.stats.last_trade_px == Decimal("0.55") and md.stats.shares_traded == Decimal("150000")
    book = dec.books["m1"]
    assert book.best_bid == Decimal("0.555") and book.best_ask == Decimal("0.560")  # sorted best first
    assert book.mid == Decimal("0.5575") and book.spread == Decimal("0.005")
    assert book.depth("bid") == Decimal("3.00") and book.depth("bid", 1) == Decimal("0.50")
    assert book.depth_within("bid", Decimal("0.552")) == Decimal("0.50") and book.qty_at(
        "ask", Decimal("0.56")
    ) == Decimal("0.80")
    (tr,) = dec.decode(FRAMES[Trade].encode())
    assert isinstance(tr, Trade) and tr.trade_time == T0 + 500_000_000 and tr.quantity == Decimal("0.50")
    (snap,) = dec.decode(FRAMES[OrderSnapshot].encode())
    assert isinstance(snap, OrderSnapshot) and snap.orders[0].quantity == Decimal("0.5")
    (pos,) = dec.decode(FRAMES[PositionUpdate].encode())
    assert (
        isinstance(pos, PositionUpdate)
        and pos.after is not None
        and pos.after.net_position == Decimal("1.5000")
    )
    assert pos.market_slug == "m1"
    (bal,) = dec.decode(FRAMES[AccountBalanceSnapshot].encode())
    assert isinstance(bal, AccountBalanceSnapshot) and bal.balances[0].buying_power == Decimal("850.0")


def test_crossed_book_is_reported_not_applied() -> None:
    dec = PolymarketDecoder()
    dec.decode(FRAMES[MarketData].encode())
    crossed = FRAMES[MarketData].replace('"0.560"', '"0.500"')
    md, flag = dec.decode(crossed.encode())
    assert isinstance(md, MarketData) and md.crossed
    assert (
        isinstance(flag, BookCrossed)
        and flag.best_bid == Decimal("0.555")
        and flag.best_ask == Decimal("0.500")
    )
    assert dec.books["m1"].best_ask == Decimal("0.560") and not dec.books["m1"].crossed  # unchanged


def test_bad_and_unknown_frames_never_raise() -> None:
    dec = PolymarketDecoder()
    assert dec.decode(b'{"heartbeat":{}}') == [] and dec.heartbeats == 1
    (err,) = dec.decode(b'{"marketData":')
    assert isinstance(err, DecodeError) and dec.errors == 1
    (err2,) = dec.decode(b'{"marketData":{"bids":"nope"}}')
    assert isinstance(err2, DecodeError)
    (raw,) = dec.decode(b'{"requestId":"r","rfqEvent":{"rfqCreated":{}}}')
    assert isinstance(raw, RawEvent) and raw.type == "rfqEvent"
    assert dec.decode(b'{"requestId":"r","error":"boom"}') == []  # the session reports errors


def test_parse_time_ns() -> None:
    assert parse_time_ns("2024-01-15T10:30:00Z") == T0
    assert parse_time_ns("2024-01-15T10:30:00.123456789Z") == T0 + 123_456_789
    assert parse_time_ns("2024-01-15T11:30:00+01:00") == T0
    assert parse_time_ns("garbage") is None and parse_time_ns(None) is None


def test_empty_book_queries() -> None:
    b = Book("x")
    assert b.best_bid is None and b.mid is None and b.spread is None and b.depth("bid") == 0
    with pytest.raises(ValueError, match="side"):
        b.levels("middle")  # type: ignore[arg-type]
