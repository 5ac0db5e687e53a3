"""DashboardState without I/O: candles from trades, cursors, tape coalescing, the connection panel."""

from __future__ import annotations

from tickwire.dashboard import Cursor, DashboardState
from tickwire.events import Connected, Disconnected, Reconnected
from tickwire.massive.models import EquityQuote, EquityTrade
from tickwire.massive.ticks import ticks
from tickwire.provider import Tick

M = 60_000  # ms
T0 = 1_700_000_040_000 - 1_700_000_040_000 % M  # a minute boundary, ms


def t(sym: str, price: float, ms: int, size: int = 10) -> EquityTrade:
    return EquityTrade(symbol=sym, price=price, size=size, timestamp=ms)


def q(sym: str, bid: float, ask: float, ms: int) -> EquityQuote:
    return EquityQuote(symbol=sym, bid_price=bid, ask_price=ask, timestamp=ms)


def test_candles_snapshot_then_only_changes() -> None:
    st = DashboardState(ticks=ticks, symbols=["AAPL", "MSFT"], interval=60, grace=0)
    page = Cursor()
    st.on_events(
        [t("AAPL", 10, T0), t("AAPL", 12, T0 + 1000), t("AAPL", 9, T0 + 2000), t("AAPL", 11, T0 + 3000)]
    )
    snap = st.update_for(page)
    assert snap["type"] == "snapshot" and set(snap["symbols"]) == {"AAPL", "MSFT"}
    (c,) = snap["symbols"]["AAPL"]["candles"]
    assert (c["time"], c["open"], c["high"], c["low"], c["close"], c["volume"]) == (
        T0 // 1000,
        10,
        12,
        9,
        11,
        40,
    )
    assert snap["symbols"]["MSFT"]["candles"] == []

    assert st.update_for(page)["symbols"] == {}  # nothing changed: nothing sent
    st.on_events([t("AAPL", 13, T0 + M + 5)])  # next minute: the first candle is finished
    upd = st.update_for(page)
    assert [(c["time"], c["close"]) for c in upd["symbols"]["AAPL"]["candles"]] == [
        (T0 // 1000, 11),
        (T0 // 1000 + 60, 13),
    ]
    assert list(upd["symbols"]) == ["AAPL"]
    late = Cursor()  # a page that connects later gets the whole history
    assert len(st.update_for(late)["symbols"]["AAPL"]["candles"]) == 2


def test_a_late_trade_updates_an_older_open_candle() -> None:
    st = DashboardState(ticks=ticks, symbols=["A"], interval=60)  # grace: one candle
    page = Cursor()
    st.on_events([t("A", 10, T0), t("A", 11, T0 + M)])
    st.update_for(page)
    st.on_events([t("A", 15, T0 + M - 1)])  # late, but within the grace: the older candle changes
    (c,) = st.update_for(page)["symbols"]["A"]["candles"]
    assert (c["time"], c["high"], c["close"]) == (T0 // 1000, 15, 15)
    st.advance((T0 + 3 * M) * 1_000_000)
    (a, b) = st.update_for(page)["symbols"]["A"]["candles"]  # both finished now
    assert (a["time"], b["time"]) == (T0 // 1000, T0 // 1000 + 60)
    assert st.aggregator.late == 0
    st.on_events([t("A", 1, T0 + 5)])  # too late now: counted, never folded into another candle
    assert st.aggregator.late == 1


def test_tape_sends_every_trade_and_the_newest_quote_per_symbol() -> None:
    st = DashboardState(ticks=ticks, interval=60, tape_size=100)
    page = Cursor()
    st.on_events([q("A", 1, 2, T0), q("A", 1, 2, T0 + 1), q("A", 1.1, 2, T0 + 2), t("A", 1.5, T0 + 3)])
    st.on_events([q("B", 5, 6, T0 + 4), q("A", 1.2, 2, T0 + 5), t("B", 5.5, T0 + 6)])
    rows = st.update_for(page)["tape"]
    assert [(r["kind"], r["sym"]) for r in rows] == [("T", "A"), ("Q", "B"), ("Q", "A"), ("T", "B")]
    assert rows[2]["bid"] == 1.2  # the newest quote of A
    assert st.update_for(page)["tape"] == []
    for i in range(80):
        st.on_events([t("A", 1.0 + i, T0 + 10 + i)])
    assert len(st.update_for(page, max_tape=50)["tape"]) == 50  # bounded per push


def test_connection_panel_follows_control_events() -> None:
    st = DashboardState(ticks=ticks, interval=60)
    assert st.panel.state == "connecting"
    st.on_events([Connected(url="ws://x/stocks", epoch=1, at=1.0)])
    assert st.panel.state == "connected"
    st.on_events([Disconnected(reason="connection dropped (1006)", at=2.0, epoch=1, code=1006)])
    assert (st.panel.state, st.panel.reason, st.panel.disconnects) == (
        "reconnecting",
        "connection dropped (1006)",
        1,
    )
    st.on_events(
        [
            Connected(url="ws://x/stocks", epoch=2, at=2.5),
            Reconnected(gap_start=2.0, gap_end=2.5, attempts=1, epoch=2),
        ]
    )
    p = st.update_for(Cursor())["conn"]
    assert (p["state"], p["reconnects"], p["gaps"], p["gap_seconds"], p["reason"]) == (
        "connected",
        1,
        1,
        0.5,
        "connection dropped (1006)",
    )
    st.on_events([Disconnected(reason="auth_failed", at=3.0, epoch=2, will_reconnect=False)])
    assert st.panel.state == "disconnected"


# --- any provider: neutral ticks (Polymarket's books, lite prices and trades) --------------------

S = 1_000_000_000


def book(
    slug: str,
    ts: int,
    bids: list[tuple[float, float]],
    asks: list[tuple[float, float]],
    price: float | None = None,
) -> Tick:
    return Tick(
        kind="book",
        symbol=slug,
        ts_ns=ts,
        price=price,
        bid=bids[0][0] if bids else None,
        ask=asks[0][0] if asks else None,
        bids=tuple(bids),
        asks=tuple(asks),
    )


def test_book_ticks_make_a_bounded_ladder_sent_only_when_it_changed() -> None:
    st = DashboardState(ladder_depth=3)
    page = Cursor()
    t0 = T0 * 1_000_000
    levels = [(0.55 - i / 1000, 10.0 + i) for i in range(5)]
    st.on_ticks([book("btc-100k-2026", t0, levels, [(0.56, 4.0), (0.561, 2.5)])])
    sym = st.update_for(page)["symbols"]["btc-100k-2026"]
    assert sym["book"] == {"bids": tuple(levels[:3]), "asks": ((0.56, 4.0), (0.561, 2.5))}
    assert (sym["bid"], sym["ask"], sym["decimals"]) == (0.55, 0.56, 3)
    st.on_ticks([book("btc-100k-2026", t0 + S, levels, [(0.56, 4.0), (0.561, 2.5)])])  # the same book
    assert st.update_for(page)["symbols"] == {}
    st.on_ticks([book("btc-100k-2026", t0 + 2 * S, levels, [(0.56, 3.0)])])
    upd = st.update_for(page)["symbols"]["btc-100k-2026"]
    assert upd["book"]["asks"] == ((0.56, 3.0),) and "Q" not in [
        r["kind"] for r in st.update_for(page)["tape"]
    ]
    st.on_ticks([Tick(kind="trade", symbol="btc-100k-2026", ts_ns=t0 + 3 * S, price=0.56, size=5.0)])
    assert "book" not in st.update_for(page)["symbols"]["btc-100k-2026"]  # unchanged book: not resent
    assert st.update_for(Cursor())["symbols"]["btc-100k-2026"]["book"]["asks"] == ((0.56, 3.0),)  # a new page


def test_venue_prices_chart_without_volume_and_trades_add_it() -> None:
    st = DashboardState(interval=60, grace=0)
    page = Cursor()
    t0 = T0 * 1_000_000
    st.on_ticks(
        [
            Tick(kind="quote", symbol="m", ts_ns=t0, price=0.5, bid=0.49, ask=0.51),  # a lite price
            book("m", t0 + S, [(0.5, 1.0)], [(0.52, 1.0)], price=0.51),  # a book with a current price
            Tick(kind="trade", symbol="m", ts_ns=t0 + 2 * S, price=0.52, size=7.5),
            Tick(kind="quote", symbol="m", ts_ns=t0 + 3 * S, price=0.47),  # price only: no bid/ask change
        ]
    )
    snap = st.update_for(page)
    (c,) = snap["symbols"]["m"]["candles"]
    assert (c["open"], c["high"], c["low"], c["close"], c["volume"]) == (0.5, 0.52, 0.47, 0.47, 7.5)
    assert snap["symbols"]["m"]["last"] == 0.47 and snap["symbols"]["m"]["trades"] == 1
    assert [(r["kind"], r.get("price"), r.get("bid")) for r in snap["tape"]] == [
        ("Q", None, 0.5),  # the newest quote only (the book's), where it came
        ("T", 0.52, None),
    ]


def test_display_decimals_follow_the_prices() -> None:
    st = DashboardState()
    t0 = T0 * 1_000_000
    st.on_ticks(
        [
            Tick(kind="trade", symbol="AAPL", ts_ns=t0, price=190.5, size=1.0),
            Tick(kind="quote", symbol="EUR/USD", ts_ns=t0, bid=1.0851, ask=1.0853),
            Tick(kind="trade", symbol="fed-cut-june", ts_ns=t0, price=0.555, size=1.0),
        ]
    )
    syms = st.update_for(Cursor())["symbols"]
    assert {k: v["decimals"] for k, v in syms.items()} == {"AAPL": 2, "EUR/USD": 4, "fed-cut-june": 3}


def test_events_need_the_providers_converter() -> None:
    import pytest

    from tickwire.errors import ConfigError

    with pytest.raises(ConfigError, match="ticks="):
        DashboardState().on_events([t("A", 1, T0)])


def test_a_page_is_told_which_symbols_were_evicted_and_gets_a_returning_one_afresh() -> None:
    st = DashboardState(ticks=ticks, symbols=["AAPL"], interval=60, grace=0, max_symbols=2)
    page = Cursor()
    st.on_events([t("X1", 10, T0), t("X2", 11, T0 + 1)])
    assert set(st.update_for(page)["symbols"]) == {"AAPL", "X1", "X2"}
    st.on_events([t("X3", 12, T0 + 2)])  # X1, the least recently updated, goes
    upd = st.update_for(page)
    assert upd["removed"] == ["X1"] and set(upd["symbols"]) == {"X3"}
    assert "X1" not in page.revs and st.update_for(page)["removed"] == []
    st.on_events([t("X1", 99, T0 + 3)])  # back (X2 goes), with a new revision history
    st.on_events([t("X2", 5, T0 + 4)])  # back again (X3 goes) before the page looked
    upd = st.update_for(page)
    assert sorted(upd["removed"]) == ["X2", "X3"]  # X2 is a new incarnation: the page starts it over
    assert set(upd["symbols"]) == {"X1", "X2"}
    assert [c["close"] for c in upd["symbols"]["X2"]["candles"]] == [5]  # only the new incarnation's
    assert st.evicted == 3


def test_the_panel_masks_the_connected_url() -> None:
    st = DashboardState(ticks=ticks)
    st.on_events([Connected(url="wss://h/stocks?apiKey=sekret&x=1", epoch=1, at=0.0)])
    assert st.panel.url == "wss://h/stocks?apiKey=****&x=1"
    assert "sekret" not in str(st.update_for(Cursor()))
