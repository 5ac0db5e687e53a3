"""Alert configuration: a small TOML file and/or ``--alert`` strings, merged into one :class:`AlertConfig`.

::

    cooldown = 60                      # default de-bounce for every rule, seconds
    webhook = "https://example.com/hook"
    nats_url = "nats://127.0.0.1:4222"
    nats_subject = "tickwire.alerts"

    [[rules]]
    kind = "cross"
    symbol = "AAPL"
    level = 190
    direction = "up"

    [[rules]]
    kind = "stale"
    symbol = "*"
    after = 30
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tickwire.alerts.rules import Rule, parse_rule, rules_from_dicts
from tickwire.errors import ConfigError

__all__ = ["AlertConfig", "load_alert_config"]

_TOP_KEYS = {"cooldown", "webhook", "nats_url", "nats_subject", "rules"}


@dataclass
class AlertConfig:
    """Rules plus where to send alerts besides the log, the terminal and the page."""

    rules: list[Rule] = field(default_factory=list)
    webhook: str | None = None
    nats_url: str | None = None
    nats_subject: str = "tickwire.alerts"


def load_alert_config(path: str | Path | None = None, cli_rules: list[str] | None = None) -> AlertConfig:
    """Read ``path`` (TOML) if given, then append the ``cli_rules`` (``"KIND SYMBOL key=value ..."``)."""
    data: dict[str, object] = {}
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"alert file not found: {p}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"alert file {p} is not valid TOML: {exc}") from None
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise ConfigError(f"alert file {p}: unknown keys {sorted(unknown)}; expected {sorted(_TOP_KEYS)}")
    defaults: dict[str, object] = {}
    if "cooldown" in data:
        defaults["cooldown"] = data["cooldown"]
    items = data.get("rules", [])
    if not isinstance(items, list):
        raise ConfigError("alert file: 'rules' must be an array of tables ([[rules]])")
    rules = rules_from_dicts(items, defaults)
    rules += [parse_rule(text, defaults) for text in cli_rules or []]
    cfg = AlertConfig(rules=rules)
    for key in ("webhook", "nats_url", "nats_subject"):
        value = data.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise ConfigError(f"alert file: {key} must be a string")
            setattr(cfg, key, value)
    return cfg
