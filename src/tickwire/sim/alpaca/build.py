"""The market model's records as Alpaca items: exchange letters, condition codes, tapes, ns times.

The model speaks Massive (numeric exchange and condition ids, millisecond times); Alpaca uses
CTA/UTP participant letters, letter conditions (``@`` regular, ``I`` odd lot...), tapes ``A``/``B``/
``C`` and nanosecond times. The sub-millisecond part of a time is a pure function of the record's
sequence number, so the same trade always carries the same nanoseconds. The IEX feed shows every
print as an IEX one (exchange ``V``): its values are the model's, its venue is the feed's.
"""

from __future__ import annotations

from tickwire.sim.alpaca import wire
from tickwire.sim.alpaca.feeds import Feed, alpaca_symbol
from tickwire.sim.market import Band, Bar, Book, Imbalance, Quote, Trade

__all__ = [
    "bar_item",
    "book_item",
    "cancel_item",
    "correction_item",
    "exchange_letter",
    "imbalance_item",
    "luld_item",
    "quote_item",
    "sub_ms_ns",
    "trade_item",
]

# Massive (Polygon) exchange ids → CTA/UTP participant letters.
_STOCK_EXCHANGES = {
    1: "A",
    2: "B",
    3: "C",
    4: "D",
    5: "I",
    7: "J",
    8: "K",
    9: "M",
    10: "N",
    11: "P",
    12: "Q",
    15: "V",
    16: "W",
    17: "X",
    18: "Y",
    19: "Z",
    21: "U",
    22: "L",
}
_OPTION_EXCHANGES = dict(
    zip(
        (300, 301, 302, 303, 304, 307, 308, 309, 312, 313, 316, 322, 323, 325),
        ("A", "B", "C", "H", "D", "I", "J", "M", "N", "Q", "T", "X", "W", "Z"),
        strict=True,
    )
)
# Massive trade condition ids → UTP/CTA letters (odd lot, intermarket sweep, extended hours).
_CONDITIONS = {37: "I", 14: "F", 41: "4", 12: "T"}
_TAPES = {1: "A", 2: "B", 3: "C"}
_IEX = "V"


def sub_ms_ns(sequence: int) -> int:
    """The nanoseconds within a millisecond of a record: a fixed function of its sequence number."""
    mixed = ((sequence + 0x9E3779B97F4A7C15) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return (mixed >> 29) % 1_000_000


def _ns(ms: int, sequence: int) -> wire.WireTime:
    return wire.WireTime(ms * 1_000_000 + sub_ms_ns(sequence))


def exchange_letter(feed: Feed, exchange: int) -> str:
    """The letter of a model exchange id on ``feed`` (IEX feed: always ``V``)."""
    if feed.name == "iex":
        return _IEX
    if feed.asset_class == "options":
        return _OPTION_EXCHANGES.get(exchange, "O")
    return _STOCK_EXCHANGES.get(exchange, "D")


def _tape(tape: int) -> str:
    return _TAPES.get(tape, "C")


def _conditions(conditions: tuple[int, ...]) -> list[str]:
    return ["@", *(_CONDITIONS[c] for c in conditions if c in _CONDITIONS)]


def trade_item(feed: Feed, tr: Trade) -> wire.Trade | wire.CryptoTrade | wire.OptionTrade:
    """A model print as the feed's trade item."""
    symbol = alpaca_symbol(feed.cluster, tr.ticker)
    t = _ns(tr.timestamp, tr.sequence)
    if feed.asset_class == "crypto":
        return wire.CryptoTrade(symbol, tr.price, tr.size, t, tr.sequence, "B" if 2 in tr.conditions else "S")
    if feed.asset_class == "options":
        return wire.OptionTrade(symbol, t, exchange_letter(feed, tr.exchange), tr.price, tr.size, "I")
    return wire.Trade(
        symbol,
        tr.trade_id or tr.sequence,
        exchange_letter(feed, tr.exchange),
        tr.price,
        tr.size,
        _conditions(tr.conditions),
        _tape(tr.tape),
        t,
    )


def quote_item(feed: Feed, q: Quote) -> wire.Quote | wire.CryptoQuote | wire.OptionQuote:
    """A model quote as the feed's quote item."""
    symbol = alpaca_symbol(feed.cluster, q.ticker)
    t = _ns(q.timestamp, q.sequence)
    if feed.asset_class == "crypto":
        return wire.CryptoQuote(symbol, q.bid_price, q.bid_size, q.ask_price, q.ask_size, t)
    bx, ax = exchange_letter(feed, q.bid_exchange), exchange_letter(feed, q.ask_exchange)
    if feed.asset_class == "options":
        return wire.OptionQuote(symbol, t, bx, q.bid_price, q.bid_size, ax, q.ask_price, q.ask_size, "A")
    return wire.Quote(
        symbol, bx, q.bid_price, q.bid_size, ax, q.ask_price, q.ask_size, ["R"], _tape(q.tape), t
    )


def bar_item(feed: Feed, bar: Bar, kind: type[wire.Bar] = wire.Bar) -> wire.Bar:
    """A model bar as a ``b`` (or ``u``/``d`` with ``kind``) item, ``t`` its start."""
    return kind(
        alpaca_symbol(feed.cluster, bar.ticker),
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.volume,
        bar.transactions,
        bar.vwap,
        wire.WireTime(bar.start * 1_000_000),
    )


def luld_item(band: Band) -> wire.Luld:
    return wire.Luld(
        band.ticker, band.high, band.low, "B", _ns(band.timestamp, band.sequence), _tape(band.tape)
    )


def imbalance_item(imb: Imbalance, tape: int) -> wire.Imbalance:
    return wire.Imbalance(imb.ticker, imb.clearing_price, _tape(tape), _ns(imb.timestamp, imb.sequence))


def correction_item(feed: Feed, tr: wire.Trade, tick: float, decimals: int) -> wire.Correction:
    """A correction of ``tr``: the price one tick higher, same size, a new trade id."""
    return wire.Correction(
        tr.S,
        tr.x,
        tr.i,
        tr.p,
        tr.s,
        tr.c,
        tr.i + 1_000_000_000,
        round(tr.p + tick, decimals),
        tr.s,
        tr.c,
        tr.z,
        tr.t,
    )


def cancel_item(tr: wire.Trade, action: str = "C") -> wire.CancelError:
    """A cancel (``C``) or error (``E``) of ``tr``."""
    return wire.CancelError(tr.S, tr.i, tr.x, tr.p, tr.s, action, tr.z, tr.t)


def book_item(symbol: str, book: Book, previous: Book | None) -> wire.Orderbook | None:
    """The whole ``book`` (``previous`` ``None``: ``r`` true), or its changes since ``previous``
    (a level gone is sent with size 0); ``None`` when nothing changed."""
    t = wire.WireTime(book.timestamp * 1_000_000)
    if previous is None:
        return wire.Orderbook(
            symbol,
            t,
            [wire.Level(p, s) for p, s in book.bids],
            [wire.Level(p, s) for p, s in book.asks],
            True,
        )
    bids = _changes(previous.bids, book.bids)
    asks = _changes(previous.asks, book.asks)
    if not bids and not asks:
        return None
    return wire.Orderbook(symbol, t, bids, asks)


def _changes(old: list[tuple[float, float]], new: list[tuple[float, float]]) -> list[wire.Level]:
    before = dict(old)
    after = dict(new)
    out = [wire.Level(p, s) for p, s in new if before.get(p) != s]
    out += [wire.Level(p, 0.0) for p in before if p not in after]
    return out
