"""DashboardState without I/O: candles from trades, cursors, tape coalescing, the connection panel."""

from __future__ import annotations

from tickwire.dashboard import Cursor, DashboardState
from tickwire.events import Connected, Disconnected, Reconnected
from tickwire.massive.models import EquityQuote, EquityTrade

M = 60_000  # ms
T0 = 1_700_000_040_000 - 1_700_000_040_000 % M  # a minute boundary, ms


def t(sym: str, price: float, ms: int, size: int = 10) -> EquityTrade:
    return EquityTrade(symbol=sym, price=price, size=size, timestamp=ms)


def q(sym: str, bid: float, ask: float, ms: int) -> EquityQuote:
    return EquityQuote(symbol=sym, bid_price=bid, ask_price=ask, timestamp=ms)


def test_candles_snapshot_then_only_changes() -> None:
    st = DashboardState(["AAPL", "MSFT"], interval=60, grace=0)
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
    st = DashboardState(["A"], interval=60)  # grace: one candle
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
    st = DashboardState(interval=60, tape_size=100)
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
    st = DashboardState(interval=60)
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
