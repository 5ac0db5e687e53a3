"""Alerts on a live stream: rules (cross, move, volume, spread, stale), a de-bouncing engine, sinks.

``AlertEngine(rules, ticks=provider.ticks).on_event(ev)`` returns the alerts an event of any
provider fires (``on_tick``/``on_trade``/``on_quote`` take neutral values); ``AlertNotifier`` logs
them and sends them on (terminal, dashboard page, webhook, NATS subject).
"""

from __future__ import annotations

from tickwire.alerts.config import AlertConfig, load_alert_config
from tickwire.alerts.engine import Alert, AlertEngine
from tickwire.alerts.notify import AlertNotifier, AlertSink, NatsSink, WebhookSink
from tickwire.alerts.rules import (
    PercentMove,
    PriceCross,
    Rule,
    SpreadWide,
    Stale,
    VolumeSpike,
    parse_rule,
    rules_from_dicts,
)

__all__ = [
    "Alert",
    "AlertConfig",
    "AlertEngine",
    "AlertNotifier",
    "AlertSink",
    "NatsSink",
    "PercentMove",
    "PriceCross",
    "Rule",
    "SpreadWide",
    "Stale",
    "VolumeSpike",
    "WebhookSink",
    "load_alert_config",
    "parse_rule",
    "rules_from_dicts",
]
