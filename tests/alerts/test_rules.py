"""The alert rule engine as pure functions: explicit event times, no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from tickwire.alerts import (
    AlertEngine,
    PercentMove,
    PriceCross,
    SpreadWide,
    Stale,
    VolumeSpike,
    load_alert_config,
    parse_rule,
)
from tickwire.errors import ConfigError

S = 1_000_000_000
T0 = 1_700_000_000 * S


def trades(
    engine: AlertEngine, symbol: str, points: list[tuple[float, float]], size: float = 100
) -> list[float]:
    """Feed (seconds after T0, price) trades; the seconds at which alerts fired."""
    fired: list[float] = []
    for sec, price in points:
        fired += [(a.at_ns - T0) / S for a in engine.on_trade(symbol, price, size, T0 + int(sec * S))]
    return fired


def test_cross_fires_on_each_crossing_in_its_direction_once_per_cooldown() -> None:
    up = AlertEngine([PriceCross(symbol="AAPL", level=100, direction="up", cooldown=60)])
    # 99 -> 101 crosses up (t=1); back down (t=2, wrong way); up again at t=3 is within the cooldown;
    # down at 70 and up at 71 fires again.
    assert trades(up, "AAPL", [(0, 99), (1, 101), (2, 99), (3, 101), (4, 102), (70, 99), (71, 100)]) == [
        1,
        71,
    ]
    assert up.fired == {"cross AAPL 100 up": 2} and up.suppressed == {"cross AAPL 100 up": 1}

    both = AlertEngine([PriceCross(symbol="*", level=100, cooldown=0)])
    assert trades(both, "MSFT", [(0, 101), (1, 100.5), (2, 99.99), (3, 100)]) == [
        2,
        3,
    ]  # first trade: no side yet
    assert trades(both, "AAPL", [(0, 99)]) == []  # per symbol state

    down = AlertEngine([PriceCross(symbol="AAPL", level=100, direction="down", cooldown=0)])
    assert trades(down, "AAPL", [(0, 99), (1, 101), (2, 99.5), (3, 100.5)]) == [2]


def test_move_is_against_the_price_window_seconds_ago_and_edge_triggered() -> None:
    eng = AlertEngine([PercentMove(symbol="AAPL", pct=5, window=10, cooldown=0)])
    # 100 -> 105 within 10 s: fires at t=4; stays beyond (no re-fire); at t=15 the reference is t=4's
    # 105, so it re-arms; at t=25 98.8 is 5.9% below t=15's 105 -> fires (down).
    pts = [(0, 100), (2, 103), (4, 105), (6, 106), (15, 105), (16, 104), (25, 98.8)]
    assert trades(eng, "AAPL", pts) == [4, 25]
    up_only = AlertEngine([PercentMove(symbol="AAPL", pct=5, window=10, direction="up", cooldown=0)])
    # the 6% fall at t=5 is the wrong way; at t=17 99 is 5.3% above t=5's 94 (the price 10 s before)
    assert trades(up_only, "AAPL", [(0, 100), (5, 94), (16, 94), (17, 99)]) == [17]


def test_move_debounce_holds_back_a_refire_within_the_cooldown() -> None:
    eng = AlertEngine([PercentMove(symbol="X", pct=1, window=5, cooldown=30)])
    pts = [(0, 100), (1, 101.5), (10, 101.5), (11, 103), (20, 103), (21, 104.5), (50, 104.5), (51, 106)]
    assert trades(eng, "X", pts) == [1, 51]  # 11 and 21 were within 30 s of the last firing
    assert eng.suppressed["move X 1% 5s any"] == 2


def test_volume_spike_needs_a_warm_baseline_then_fires_on_a_burst() -> None:
    eng = AlertEngine([VolumeSpike(symbol="NVDA", factor=3, window=10, baseline=3, cooldown=0)])
    fired: list[float] = []
    for sec in range(0, 45):  # 100 a second: 1000 per window
        fired += [(a.at_ns - T0) / S for a in eng.on_trade("NVDA", 50.0, 100, T0 + sec * S)]
    assert fired == []
    # 2000 more in one trade: the last 10 s hold 900 + 2000 = 2900 < 3000 -> no; another 200 -> 3100 >= 3000
    assert [a.value for a in eng.on_trade("NVDA", 50.0, 2000, T0 + 45 * S)] == []
    alerts = eng.on_trade("NVDA", 50.0, 200, T0 + 45 * S + S // 2)
    assert [a.value for a in alerts] == [3100] and "3.1x" in alerts[0].message
    assert eng.on_trade("NVDA", 50.0, 100, T0 + 46 * S) == []  # still high: no re-fire


def test_volume_spike_is_silent_during_warm_up() -> None:
    eng = AlertEngine([VolumeSpike(symbol="*", factor=2, window=10, baseline=3, cooldown=0)])
    # a burst at t=5 s after a quiet start: the baseline does not cover 3 windows yet
    assert trades(eng, "A", [(0, 1), (5, 1)], size=1_000_000) == []


def test_spread_absolute_and_bps_re_arm_after_narrowing() -> None:
    eng = AlertEngine([SpreadWide(symbol="MSFT", max=0.5, cooldown=0), SpreadWide(symbol="*", max_bps=200)])

    def quote(sec: int, bid: float, ask: float, sym: str = "MSFT") -> list[str]:
        return [a.rule for a in eng.on_quote(sym, bid, ask, T0 + sec * S)]

    assert quote(0, 10.0, 10.1) == []
    assert quote(1, 10.0, 11.0) == ["spread MSFT > 0.5", "spread * > 200bps"]  # 1.0 wide, 952 bps
    assert quote(2, 10.0, 11.2) == []  # still wide: one alert per episode
    assert quote(3, 10.0, 10.1) == []
    assert quote(4, 10.0, 10.7) == ["spread MSFT > 0.5"]  # re-armed; bps rule de-bounced (cooldown 60)
    assert eng.suppressed["spread * > 200bps"] == 1
    assert quote(5, 0.0, 10.0) == [] and quote(6, 10.0, 0.0) == []  # one-sided quotes have no spread
    assert quote(7, 100.0, 102.5, "AAPL") == ["spread * > 200bps"]


def test_stale_by_clock_for_seen_and_named_symbols() -> None:
    eng = AlertEngine([Stale(symbol="*", after=5, cooldown=0), Stale(symbol="TSLA", after=30, cooldown=0)])
    eng.on_trade("AAPL", 1.0, 1, T0)
    assert eng.check(T0 + 4 * S) == []
    assert [a.symbol for a in eng.check(T0 + 5 * S)] == ["AAPL"]
    assert eng.check(T0 + 6 * S) == []  # one alert per stale episode
    eng.on_quote("AAPL", 1.0, 1.1, T0 + 7 * S)  # activity re-arms
    assert eng.check(T0 + 8 * S) == []
    stale = eng.check(T0 + 12 * S)
    assert [a.symbol for a in stale] == ["AAPL"] and stale[0].value == pytest.approx(5.0)
    # TSLA never traded: stale 30 s after the first check (T0 + 4 s)
    assert [a.symbol for a in eng.check(T0 + 33 * S) if a.rule.startswith("stale TSLA")] == []
    assert [a.symbol for a in eng.check(T0 + 34 * S) if a.rule.startswith("stale TSLA")] == ["TSLA"]


def test_on_event_routes_typed_trades_and_quotes() -> None:
    from tickwire.massive.models import CryptoTrade, EquityQuote, EquityTrade
    from tickwire.massive.ticks import ticks

    eng = AlertEngine(
        [PriceCross(symbol="*", level=10, cooldown=0), SpreadWide(symbol="*", max=1)], ticks=ticks
    )
    ms = T0 // 1_000_000
    evs = [
        EquityTrade(symbol="A", price=9.0, size=1, timestamp=ms),
        EquityTrade(symbol="A", price=11.0, size=1, timestamp=ms + 1),
        EquityQuote(symbol="A", bid_price=9.0, ask_price=11.0, timestamp=ms + 2),
        CryptoTrade(pair="BTC-USD", price=9.0, size=0.5, timestamp=ms),
        CryptoTrade(pair="BTC-USD", price=10.0, size=0.5, timestamp=ms + 3),
        EquityTrade(symbol=None, price=20.0, size=1, timestamp=ms + 4),  # no symbol: ignored
    ]
    assert [(a.kind, a.symbol) for a in eng.on_events(evs)] == [
        ("cross", "A"),
        ("spread", "A"),
        ("cross", "BTC-USD"),
    ]


def test_on_event_without_a_tick_converter_is_a_clear_error() -> None:
    from tickwire.massive.models import EquityTrade

    with pytest.raises(ConfigError, match="ticks="):
        AlertEngine([PriceCross(level=1)]).on_event(EquityTrade(symbol="A", price=1.0, timestamp=1))


def test_symbols_match_in_any_case_and_alerts_name_the_streams_spelling() -> None:
    eng = AlertEngine(
        [
            PriceCross(symbol="aapl", level=100, cooldown=0),
            PriceCross(symbol="BTC-100K-2026", level=0.5, cooldown=0),
            Stale(symbol="Fed-Cut-June", after=5, cooldown=0),
        ]
    )
    assert trades(eng, "AAPL", [(0, 99), (1, 101)]) == [1]
    assert [a.symbol for a in eng.on_trade("btc-100k-2026", 0.4, 1, T0)] == []
    assert [a.symbol for a in eng.on_trade("btc-100k-2026", 0.6, 1, T0 + S)] == ["btc-100k-2026"]
    eng.check(T0)
    eng.on_quote("fed-cut-june", 0.4, 0.45, T0)
    assert [a.symbol for a in eng.check(T0 + 6 * S)] == ["fed-cut-june"]  # the seen spelling


def test_parse_rule_and_its_errors() -> None:
    rule = parse_rule("cross aapl level=190 direction=up cooldown=5")
    assert rule == PriceCross(symbol="aapl", level=190.0, direction="up", cooldown=5.0)
    assert rule.matches("AAPL") and not rule.matches("AAPL.W")
    assert parse_rule("cross btc-100k-2026 level=0.5").symbol == "btc-100k-2026"  # a slug stays as written
    assert parse_rule("move * pct=1.5 window=300", {"cooldown": 9}) == PercentMove(
        pct=1.5, window=300, cooldown=9
    )
    assert parse_rule("stale TSLA after=30 name=tsla-quiet").label == "tsla-quiet"
    for bad, words in [
        ("cross", "KIND SYMBOL"),
        ("jump AAPL level=1", "kind must be one of"),
        ("cross AAPL", "level"),
        ("cross AAPL level=abc", "level"),
        ("cross AAPL level=1 colour=red", "colour"),
        ("cross AAPL 190", "not key=value"),
        ("move AAPL pct=-1", "pct must be > 0"),
        ("spread AAPL", "needs max"),
        ("volume AAPL baseline=0", "baseline"),
        ("cross AAPL level=1 direction=sideways", "direction"),
    ]:
        with pytest.raises(ConfigError, match=words):
            parse_rule(bad)


def test_toml_config_merges_file_and_command_line(tmp_path: Path) -> None:
    path = tmp_path / "alerts.toml"
    path.write_text(
        'cooldown = 15\nwebhook = "http://127.0.0.1:9/hook"\nnats_subject = "alerts.x"\n\n'
        '[[rules]]\nkind = "cross"\nsymbol = "AAPL"\nlevel = 190\n\n'
        '[[rules]]\nkind = "spread"\nsymbol = "*"\nmax_bps = 25\ncooldown = 1\n'
    )
    cfg = load_alert_config(path, ["stale MSFT after=10"])
    assert cfg.rules == [
        PriceCross(symbol="AAPL", level=190, cooldown=15),
        SpreadWide(symbol="*", max_bps=25, cooldown=1),
        Stale(symbol="MSFT", after=10, cooldown=15),
    ]
    assert (cfg.webhook, cfg.nats_url, cfg.nats_subject) == ("http://127.0.0.1:9/hook", None, "alerts.x")

    bad = tmp_path / "bad.toml"
    for text, words in [
        ("[[rules]]\nkind = 'cross'\n", "level"),
        ("rules = 3\n", "array of tables"),
        ("colour = 1\n", "unknown keys"),
        ("[[rules\n", "not valid TOML"),
    ]:
        bad.write_text(text)
        with pytest.raises(ConfigError, match=words):
            load_alert_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_alert_config(tmp_path / "missing.toml")


def test_ticks_feed_price_volume_and_spread_rules_by_kind() -> None:
    from tickwire.provider import Tick

    eng = AlertEngine(
        [
            PriceCross(symbol="*", level=0.5, cooldown=0),
            VolumeSpike(symbol="*", factor=2, window=1, baseline=1, cooldown=0),
            SpreadWide(symbol="*", max=0.05, cooldown=0),
        ]
    )

    def kinds(*ticks: Tick) -> list[str]:
        return [a.kind for a in eng.on_ticks(ticks)]

    # a venue price (a lite quote's, a book's) crosses like a trade ...
    assert kinds(Tick(kind="quote", symbol="m", ts_ns=T0, price=0.4)) == []
    assert kinds(Tick(kind="book", symbol="m", ts_ns=T0 + S, price=0.55, bid=0.5, ask=0.6)) == [
        "cross",
        "spread",
    ]
    # ... and interleaves with the trades that make a volume spike
    for sec in range(2, 5):
        assert kinds(Tick(kind="quote", symbol="v", ts_ns=T0 + sec * S, price=1.0)) == []
    assert eng.fired["volume * 2x 1s"] == 0
    assert kinds(Tick(kind="trade", symbol="v", ts_ns=T0 + 10 * S, price=1.0, size=10)) == []
    assert kinds(Tick(kind="trade", symbol="v", ts_ns=T0 + 11 * S, price=1.0, size=10)) == []
    assert kinds(Tick(kind="quote", symbol="v", ts_ns=T0 + 11 * S + 1, price=1.0)) == []
    assert kinds(Tick(kind="trade", symbol="v", ts_ns=T0 + 12 * S, price=1.0, size=40)) == ["volume"]
    # a one-sided book has no spread, yet it is activity for the stale rules
    assert kinds(Tick(kind="book", symbol="m", ts_ns=T0 + 20 * S, bid=0.5, bids=((0.5, 1.0),))) == []
    assert eng._last_seen["m"] == T0 + 20 * S
