"""The Alpaca failover backfill of ``record --ha``: minute bars over REST (every page, complete
bars only) for the symbols the ``bars`` channels name, as the live :class:`Bar` events."""

from __future__ import annotations

from tests.alpaca.test_rest_backfill import _bar, _Handler, http  # noqa: F401  (the fixture)
from tickwire.alpaca.ha_backfill import alpaca_ha_backfill
from tickwire.alpaca.models import Bar, Trade

T0 = 1_704_207_600_000  # 2024-01-02T15:00:00Z in ms


async def test_bars_of_the_named_symbols_every_page_complete_ones_only(http: type[_Handler]) -> None:  # noqa: F811
    http.pages = {
        None: (200, {"bars": {"AAPL": [_bar("2024-01-02T15:00:00Z", 10)]}, "next_page_token": "p2"}),
        "p2": (200, {"bars": {"AAPL": [_bar("2024-01-02T15:01:00Z", 11)]}, "next_page_token": None}),
    }
    base = http.base  # type: ignore[attr-defined]
    fill = alpaca_ha_backfill("iex", ["trades:AAPL", "bars:AAPL", "bars"], ["AAPL"], base, "K", "S")
    assert fill is not None
    got = await fill.fetch(T0 + 5_000, T0 + 60_000 + 30_000)  # the 15:01 bar is not complete yet
    assert got == [
        Bar(
            symbol="AAPL",
            timestamp=T0 * 1_000_000,
            open=10,
            high=11,
            low=9,
            close=10,
            volume=100,
            trade_count=5,
            vwap=10,
        )
    ]
    path, query, headers = http.seen[0]
    assert path == "/v2/stocks/bars" and query["symbols"] == ["AAPL"] and query["feed"] == ["iex"]
    assert headers["apca-api-key-id"] == "K" and len(http.seen) == 2
    assert fill.key(got[0]) == (T0,) and fill.position(got[0]) == T0
    assert fill.key(Trade(symbol="AAPL", timestamp=1, price=1.0, size=1.0)) is None  # trades: not fetched


def test_nothing_to_fetch_for_wildcards_or_other_channels() -> None:
    assert alpaca_ha_backfill("iex", ["bars:*", "trades:AAPL"], [], "http://127.0.0.1:1", "K", "S") is None
    assert alpaca_ha_backfill("iex", ["bars"], ["*"], "http://127.0.0.1:1", "K", "S") is None
    assert alpaca_ha_backfill("news", ["news:*"], [], "http://127.0.0.1:1", "K", "S") is None
