"""The failover backfill of ``tickwire record --ha`` on Alpaca: minute bars over REST.

A new HA leader (:mod:`tickwire.ha.recording`) fetches the minute bars of its failover window from
``/v2/stocks/bars`` (or the crypto path; every ``next_page_token`` followed by
:class:`~tickwire.alpaca.rest.AsyncAlpacaRestClient`) for the symbols the ``bars`` channels name
(``bars:*`` is not backfilled: the symbols are unknown), as the live :class:`Bar` events. Alpaca's
REST client here has no trades endpoint, so trades are not backfilled. Bars are ordered, and
published, at their start (ms).
"""

from __future__ import annotations

from collections.abc import Sequence

from tickwire.alpaca.endpoints import market_info
from tickwire.alpaca.keys import resolve_keys
from tickwire.alpaca.models import Bar
from tickwire.alpaca.provider import parse_channel
from tickwire.alpaca.rest import DATA_URL, AsyncAlpacaRestClient
from tickwire.credentials import Secret, is_local_url
from tickwire.events import Event
from tickwire.ha.backfill import Backfill

__all__ = ["alpaca_ha_backfill"]

_MINUTE_NS = 60_000_000_000


def _key(ev: Event) -> tuple[int, ...] | None:
    return (ev.timestamp // 1_000_000,) if type(ev) is Bar else None


def _position(ev: Event) -> int:
    return ev.timestamp // 1_000_000 if type(ev) is Bar else 0


def alpaca_ha_backfill(
    market: str,
    channels: Sequence[str],
    symbols: Sequence[str],
    rest_url: str | None,
    key_id: Secret | str | None,
    secret_key: Secret | str | None,
) -> Backfill | None:
    """The failover backfill of the ``bars`` channels naming symbols (``symbols``: what a channel
    without any takes), or None when there is nothing to fetch (no such channel; a market with no
    bars over REST; a local stream without ``rest_url``)."""
    info = market_info(market)
    if info.asset_class not in ("stocks", "crypto") or (info.name == "test" and rest_url is None):
        return None
    wanted: list[str] = []
    for ch in channels:
        name, syms = parse_channel(ch, market, symbols)
        if name == "bars":
            wanted.extend(s for s in syms if s != "*")
    if not wanted:
        return None
    base = rest_url or DATA_URL
    kid, secret = resolve_keys(key_id, secret_key, None, local=is_local_url(base))
    feed = info.name if info.asset_class == "stocks" else None
    symbols_ = list(dict.fromkeys(wanted))

    async def fetch(from_ms: int, to_ms: int) -> list[Event]:
        lo = from_ms * 1_000_000 // _MINUTE_NS * _MINUTE_NS
        async with AsyncAlpacaRestClient(
            kid, secret, base_url=base, feed=feed, dotenv_path=None, max_retries=2
        ) as rest:
            got = await rest.get_bars(symbols_, "1Min", lo, to_ms * 1_000_000, asset_class=info.asset_class)
        return [
            Bar(
                symbol=sym,
                timestamp=b.timestamp,
                open=b.open,
                high=b.high,
                low=b.low,
                close=b.close,
                volume=b.volume,
                trade_count=b.trade_count,
                vwap=b.vwap,
            )
            for sym, bars in got.items()
            for b in bars
            if b.timestamp + _MINUTE_NS <= to_ms * 1_000_000  # complete bars only
        ]

    return Backfill(fetch=fetch, key=_key, position=_position)
