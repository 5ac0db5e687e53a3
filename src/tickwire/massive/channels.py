"""Massive channel strings: ``<CHANNEL>.<TICKER>``, split at the first dot, validated per market.

``T.BRK.A`` is channel ``T`` and ticker ``BRK.A`` (tickers may hold dots); ``T.*`` is
every ticker of ``T`` on the cluster. Wildcards are matched on ``channel + "."``, so
``A.*`` never touches ``AM.AAPL`` (the official client's ``startswith`` bug).
Which prefixes a cluster serves is :mod:`tickwire.massive.catalog`'s to say; a channel that is
malformed or not served raises :class:`~tickwire.errors.SubscriptionError` (a ``ConfigError``).
"""

from __future__ import annotations

from collections.abc import Iterable

from tickwire.errors import SubscriptionError
from tickwire.massive.catalog import channels as catalog_channels
from tickwire.massive.enums import Market

__all__ = ["normalize_channel", "normalize_channels", "split_channel"]


def split_channel(channel: str) -> tuple[str, str]:
    """``"T.BRK.A"`` → ``("T", "BRK.A")``; :class:`SubscriptionError` without a dot or either part."""
    prefix, dot, ticker = channel.partition(".")
    if not dot or not prefix or not ticker:
        raise SubscriptionError(
            f"malformed channel {channel!r}: expected <CHANNEL>.<TICKER>, e.g. 'T.AAPL' or 'AM.*'"
        )
    return prefix, ticker


def normalize_channel(channel: str, market: Market | None = None, *, uppercase: bool = True) -> str:
    """Strip, upper-case (by default) and validate one channel, for ``market`` when given."""
    if not isinstance(channel, str):
        raise SubscriptionError(f"a channel must be a string, got {type(channel).__name__}")
    text = channel.strip()
    prefix, ticker = split_channel(text)
    prefix = prefix.upper()
    ticker = ticker.strip()
    if uppercase:
        ticker = ticker.upper()
    if any(c.isspace() or c == "," for c in ticker):
        raise SubscriptionError(f"malformed channel {channel!r}: a ticker holds no spaces or commas")
    if market is not None:
        valid = catalog_channels(market)
        if prefix not in valid:
            raise SubscriptionError(
                f"channel {prefix!r} does not exist on the {market.value} cluster "
                f"(valid: {', '.join(sorted(valid))})"
            )
    return f"{prefix}.{ticker}"


def normalize_channels(
    channels: Iterable[str], market: Market | None = None, *, uppercase: bool = True
) -> list[str]:
    """Normalise many channels; a string may itself hold several, comma-separated."""
    out: list[str] = []
    for item in channels:
        if isinstance(item, str):
            parts = [p for p in item.split(",") if p.strip()]
        else:
            raise SubscriptionError(f"a channel must be a string, got {type(item).__name__}")
        out.extend(normalize_channel(p, market, uppercase=uppercase) for p in parts)
    return out
