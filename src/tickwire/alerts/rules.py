"""Alert rules: plain, validated settings (from TOML or the command line), one class per kind.

A rule names a ``symbol`` (``"*"`` for every symbol seen; matched in any case, so ``aapl`` is
``AAPL`` and a Polymarket market slug is written as it is) and a ``cooldown``: the de-bounce
window in which a rule fires at most once per symbol. What each rule watches (prices are the
trades' and, where a venue states one, its current price: Polymarket's market price):

* ``cross``  - the price crosses ``level`` (``direction`` up, down or any);
* ``move``   - the price moved ``pct`` percent or more against the price ``window`` seconds earlier;
* ``volume`` - the volume of the last ``window`` seconds is ``factor`` times the average of the
  ``baseline`` windows before it (and at least ``min_volume``);
* ``spread`` - a quote's or book's ask - bid exceeds ``max`` (price units) or ``max_bps`` (of the mid);
* ``stale``  - no trade, quote or book for ``after`` seconds.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from tickwire.errors import ConfigError

__all__ = [
    "PercentMove",
    "PriceCross",
    "Rule",
    "SpreadWide",
    "Stale",
    "VolumeSpike",
    "parse_rule",
    "rules_from_dicts",
]

Direction = Literal["up", "down", "any"]


class Rule(msgspec.Struct, tag_field="kind", kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Base of every rule: which symbol, how long to de-bounce, an optional display name."""

    symbol: str = "*"
    cooldown: float = 60.0
    name: str | None = None

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("symbol must not be empty (use '*' for every symbol)")
        if self.cooldown < 0:
            raise ValueError(f"cooldown must be >= 0 seconds, not {self.cooldown}")

    @property
    def kind(self) -> str:
        return str(type(self).__struct_config__.tag)

    @property
    def label(self) -> str:
        """The rule's name, or a readable one built from its settings."""
        return self.name or f"{self.kind} {self.symbol} {self.describe()}"

    def describe(self) -> str:
        return ""

    def matches(self, symbol: str) -> bool:
        """Whether the rule watches ``symbol``: ``*`` every one, else the same name in any case
        (``aapl`` is ``AAPL``; Polymarket slugs are lower case)."""
        return self.symbol == "*" or self.symbol.casefold() == symbol.casefold()


class PriceCross(Rule, tag="cross", frozen=True):
    """A price at or beyond ``level`` after one on the other side of it."""

    level: float
    direction: Direction = "any"

    def describe(self) -> str:
        return f"{self.level:g} {self.direction}"


class PercentMove(Rule, tag="move", frozen=True):
    """``|price / price window seconds ago - 1|`` reaches ``pct`` percent (in ``direction``)."""

    pct: float
    window: float = 300.0
    direction: Direction = "any"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pct <= 0:
            raise ValueError(f"pct must be > 0, not {self.pct}")
        if self.window <= 0:
            raise ValueError(f"window must be > 0 seconds, not {self.window}")

    def describe(self) -> str:
        return f"{self.pct:g}% {self.window:g}s {self.direction}"


class VolumeSpike(Rule, tag="volume", frozen=True):
    """Volume over the last ``window`` seconds >= ``factor`` x the mean of the ``baseline`` windows before."""

    factor: float = 3.0
    window: float = 60.0
    baseline: int = 10
    min_volume: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.factor <= 0:
            raise ValueError(f"factor must be > 0, not {self.factor}")
        if self.window <= 0:
            raise ValueError(f"window must be > 0 seconds, not {self.window}")
        if self.baseline < 1:
            raise ValueError(f"baseline must be >= 1 window, not {self.baseline}")

    def describe(self) -> str:
        return f"{self.factor:g}x {self.window:g}s"


class SpreadWide(Rule, tag="spread", frozen=True):
    """A quote whose ask - bid exceeds ``max`` (absolute) or ``max_bps`` basis points of the mid."""

    max: float | None = None
    max_bps: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max is None and self.max_bps is None:
            raise ValueError("a spread rule needs max (price units) or max_bps (basis points of the mid)")
        if (self.max is not None and self.max < 0) or (self.max_bps is not None and self.max_bps < 0):
            raise ValueError("spread limits must be >= 0")

    def describe(self) -> str:
        parts = [
            f"> {self.max:g}" if self.max is not None else "",
            f"> {self.max_bps:g}bps" if self.max_bps else "",
        ]
        return " ".join(p for p in parts if p)


class Stale(Rule, tag="stale", frozen=True):
    """No trade or quote of the symbol for ``after`` seconds."""

    after: float = 30.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.after <= 0:
            raise ValueError(f"after must be > 0 seconds, not {self.after}")

    def describe(self) -> str:
        return f"{self.after:g}s"


AnyRule = PriceCross | PercentMove | VolumeSpike | SpreadWide | Stale
KINDS = ("cross", "move", "volume", "spread", "stale")


def rules_from_dicts(items: list[dict[str, object]], defaults: dict[str, object] | None = None) -> list[Rule]:
    """Build rules from TOML-style tables (``kind`` selects the class); ``defaults`` fill missing keys."""
    out: list[Rule] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ConfigError(f"alert rule #{i + 1} must be a table, not {type(item).__name__}")
        merged = {**(defaults or {}), **item}
        if merged.get("kind") not in KINDS:
            raise ConfigError(
                f"alert rule #{i + 1}: kind must be one of {', '.join(KINDS)}, not {merged.get('kind')!r}"
            )
        try:
            out.append(msgspec.convert(merged, AnyRule, strict=False))
        except msgspec.ValidationError as exc:
            raise ConfigError(f"alert rule #{i + 1} ({merged.get('kind')}): {exc}") from None
    return out


def parse_rule(text: str, defaults: dict[str, object] | None = None) -> Rule:
    """Parse ``"KIND SYMBOL key=value ..."`` (e.g. ``"cross AAPL level=190 direction=up"``)."""
    words = text.split()
    if len(words) < 2:
        raise ConfigError(
            f"alert {text!r}: expected 'KIND SYMBOL key=value ...', e.g. 'cross AAPL level=190'"
        )
    item: dict[str, object] = {"kind": words[0].lower(), "symbol": words[1]}
    for word in words[2:]:
        key, sep, value = word.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"alert {text!r}: {word!r} is not key=value")
        item[key] = _scalar(value)
    return rules_from_dicts([item], defaults)[0]


def _scalar(value: str) -> object:
    """A command-line value: int, float or the string itself."""
    for conv in (int, float):
        try:
            return conv(value)
        except ValueError:
            pass
    return value
