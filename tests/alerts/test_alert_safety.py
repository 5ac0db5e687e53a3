"""Alerts built from network strings: escaped in the log (the terminal), raw in the JSON sinks; the
engine's memory bounded against a flood of symbols."""

from __future__ import annotations

import logging

import pytest

from tickwire.alerts import Alert, AlertEngine, AlertNotifier, PriceCross, Stale

_NS = 1_000_000_000
HOSTILE = "EVIL\x1b]0;pwned\x07\r[bold]x[/]"


async def test_the_alert_log_line_escapes_the_symbol_and_callbacks_get_it_raw(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Alert] = []
    notifier = AlertNotifier(callbacks=[seen.append])
    alert = Alert(
        rule="cross * 1", kind="cross", symbol=HOSTILE, message=f"{HOSTILE} crossed", value=1, at_ns=0
    )
    with caplog.at_level(logging.WARNING, logger="tickwire.alerts"):
        notifier.publish(alert)
    assert seen == [alert]  # the page (textContent) and JSON sinks take the data as it is
    assert "\x1b" not in caplog.text and "\x07" not in caplog.text and "\r" not in caplog.text
    assert "EVIL\\x1b]0;pwned\\x07\\r[bold]x[/] crossed" in caplog.text


def test_the_engine_forgets_the_least_recently_seen_symbols_beyond_its_bound() -> None:
    rules = [PriceCross(symbol="*", level=10), Stale(symbol="KEEP", after=5)]
    engine = AlertEngine(rules, max_symbols=3)
    engine.on_trade("KEEP", 9, 1, 1)
    for i in range(100):
        engine.on_trade(f"S{i}", 9, 1, i + 2)
        engine.on_trade(f"S{i}", 11, 1, i + 3)  # a cross: per-symbol state
    assert engine.evicted == 97
    assert set(engine._last_seen) == {"KEEP", "S97", "S98", "S99"}  # the rule's named symbol kept
    assert len(engine._tracks) <= 4 and len(engine._by_symbol) <= 4
    # the kept symbol still goes stale on time (its last trade was remembered)
    assert [a.symbol for a in engine.check(10 * _NS)] == ["KEEP"]
