"""Gap repair for Alpaca streams: after a reconnect, the minute bars the gap missed, over REST.

Like :mod:`tickwire.massive.backfill`, in the consumer path: the filler remembers the start of the
last minute bar (``b``) delivered per symbol; on a :class:`~tickwire.events.Reconnected` it asks
the bars endpoint (:mod:`tickwire.alpaca.rest`) for each symbol subscribed on ``bars`` (a ``*``
subscription: the symbols seen so far) from the minute after that bar (or the gap's start) to
now, and delivers them right after the ``Reconnected``:

* **in order** and only bars that start before the first live bar of the symbol already queued
  behind the ``Reconnected``, and only complete minutes;
* **flagged**: :class:`BackfilledBar` (a ``Bar``, ``backfilled = True``; ``on("b")`` gets them),
  closed by one :class:`BarsBackfilled` control event (count, gap, error);
* **exactly once**: bars delivered before the gap are excluded by start time; a live bar arriving
  later for a minute already backfilled is dropped (:attr:`AlpacaGapFiller.duplicates_dropped`).

A failed backfill (keys, network) yields ``BarsBackfilled(error=...)`` and the stream goes on.
On by default when the REST endpoint is known (stocks and crypto on the official hosts, or
``rest_url=``); the ``test`` stream has none.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from tickwire.alpaca.endpoints import MarketInfo
from tickwire.alpaca.models import Bar
from tickwire.alpaca.rest import DATA_URL, SANDBOX_DATA_URL, AsyncAlpacaRestClient
from tickwire.credentials import Secret
from tickwire.errors import ConfigError, TickwireError
from tickwire.events import ControlEvent, Event, Reconnected

__all__ = ["AlpacaBackfillConfig", "AlpacaGapFiller", "BackfilledBar", "BarsBackfilled", "make_gap_filler"]

log = logging.getLogger("tickwire.alpaca.backfill")

_MINUTE_NS = 60_000_000_000
Fetch = Callable[[Sequence[str], int, int], Awaitable[Mapping[str, Sequence[Bar]]]]


class BackfilledBar(Bar, tag="b", kw_only=True):
    """A minute bar fetched over REST after a reconnect (``backfilled`` is always True)."""

    backfilled: bool = True


class BarsBackfilled(ControlEvent, tag="bars_backfilled", kw_only=True):
    """The backfill of one gap is done: ``events`` bars came just before this event."""

    gap_start: float
    gap_end: float
    events: int
    symbols: list[str]
    skipped: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AlpacaBackfillConfig:
    """``max_gap``: seconds back at most; ``timeout``: for the whole backfill of one gap;
    ``clock``: the market clock (Unix s), for a simulator running its own time."""

    max_gap: float = 6 * 3600.0
    timeout: float = 30.0
    clock: Callable[[], float] = time.time


class AlpacaGapFiller:
    """Watches delivered batches and inserts REST bars after each ``Reconnected`` (module docstring)."""

    def __init__(
        self,
        fetch: Fetch,
        subscriptions: Callable[[], Mapping[str, Sequence[str]]],
        config: AlpacaBackfillConfig | None = None,
    ) -> None:
        """``fetch(symbols, from_ns, to_ns)`` is an async function returning symbol → bars."""
        self.fetch = fetch
        self.subscriptions = subscriptions
        self.config = config or AlpacaBackfillConfig()
        self.last: dict[str, int] = {}
        self.delivered: set[tuple[str, int]] = set()
        self.duplicates_dropped = 0
        self.backfilled = 0

    async def process(self, batches: list[list[Event]]) -> list[list[Event]]:
        """The batches to deliver: as given, plus backfilled bars after a ``Reconnected``, minus dups."""
        out: list[list[Event]] = []
        for bi, batch in enumerate(batches):
            kept: list[Event] = []
            for ei, ev in enumerate(batch):
                cls = type(ev)
                if cls is Bar:
                    key = (ev.symbol, ev.timestamp)  # type: ignore[attr-defined]
                    if key in self.delivered:
                        self.delivered.discard(key)
                        self.duplicates_dropped += 1
                        continue
                    if ev.timestamp > self.last.get(ev.symbol, -1):  # type: ignore[attr-defined]
                        self.last[ev.symbol] = ev.timestamp  # type: ignore[attr-defined]
                    kept.append(ev)
                elif cls is Reconnected:
                    kept.append(ev)
                    held = [*batch[ei + 1 :], *(e for b in batches[bi + 1 :] for e in b)]
                    kept.extend(await self.fill(ev, held))  # type: ignore[arg-type]
                else:
                    kept.append(ev)
            if kept:
                out.append(kept)
        return out

    async def fill(self, gap: Reconnected, held: Sequence[Event]) -> list[Event]:
        """The backfilled bars for ``gap``, oldest first, then the closing :class:`BarsBackfilled`."""
        self.delivered.clear()
        cfg = self.config
        now_ns = int(cfg.clock() * 1e9)
        gap_start_ns = now_ns - int((time.time() - gap.gap_start) * 1e9)
        first_live: dict[str, int] = {}
        for ev in held:
            if type(ev) is Bar:
                sym, t = ev.symbol, ev.timestamp
                first_live[sym] = min(first_live.get(sym, t), t)
        symbols = self._targets()
        lower_bound = now_ns - int(cfg.max_gap * 1e9)
        starts = {
            s: max(
                self.last[s] + _MINUTE_NS if s in self.last else gap_start_ns // _MINUTE_NS * _MINUTE_NS,
                lower_bound,
            )
            for s in symbols
        }
        wanted = [s for s in symbols if starts[s] + _MINUTE_NS <= now_ns]
        results: list[BackfilledBar] = []
        skipped = 0
        error: str | None = None
        if wanted:
            try:
                async with asyncio.timeout(cfg.timeout):
                    fetched = await self.fetch(wanted, min(starts[s] for s in wanted), now_ns)
            except TimeoutError:
                fetched, error = {}, f"backfill took longer than {cfg.timeout:g} s"
            except (TickwireError, OSError) as exc:
                fetched, error = {}, str(exc) or type(exc).__name__
            for sym in wanted:
                stop = first_live.get(sym)
                for bar in fetched.get(sym, ()):
                    t = bar.timestamp
                    if t + _MINUTE_NS > now_ns:
                        continue
                    if t < starts[sym] or (stop is not None and t >= stop):
                        skipped += 1
                        continue
                    results.append(
                        BackfilledBar(
                            symbol=sym,
                            timestamp=t,
                            open=bar.open,
                            high=bar.high,
                            low=bar.low,
                            close=bar.close,
                            volume=bar.volume,
                            trade_count=bar.trade_count,
                            vwap=bar.vwap,
                        )
                    )
        results.sort(key=lambda b: (b.timestamp, b.symbol))
        for bar in results:
            self.delivered.add((bar.symbol, bar.timestamp))
            if bar.timestamp > self.last.get(bar.symbol, -1):
                self.last[bar.symbol] = bar.timestamp
        self.backfilled += len(results)
        if error:
            log.warning("backfill of the %.1f s gap failed: %s", gap.gap_seconds, error)
        done = BarsBackfilled(
            gap_start=gap.gap_start,
            gap_end=gap.gap_end,
            events=len(results),
            symbols=wanted,
            skipped=skipped,
            error=error,
        )
        return [*results, done]

    def _targets(self) -> list[str]:
        """Symbols subscribed on ``bars``; ``*`` stands for every symbol seen so far."""
        out: dict[str, None] = {}
        for sym in self.subscriptions().get("bars", ()):
            if sym == "*":
                out.update(dict.fromkeys(self.last))
            else:
                out[sym] = None
        return list(out)


def make_gap_filler(
    *,
    key_id: Secret,
    secret_key: Secret,
    info: MarketInfo,
    custom_url: bool,
    sandbox: bool,
    backfill: bool | AlpacaBackfillConfig | None,
    rest_url: str | None,
    subscriptions: Callable[[], Mapping[str, Sequence[str]]],
    ssl_context: ssl.SSLContext | None = None,
    ca_file: str | None = None,
) -> AlpacaGapFiller | None:
    """The filler an :class:`~tickwire.alpaca.client.AlpacaStreamClient` uses, or None (backfill off).

    ``backfill=None`` means on when a REST endpoint is known (the official hosts for stocks and
    crypto, or ``rest_url=``); ``True`` insists and fails clearly when there is none."""
    if backfill is False:
        return None
    config = backfill if isinstance(backfill, AlpacaBackfillConfig) else AlpacaBackfillConfig()
    explicit = backfill is not None
    usable = info.asset_class in ("stocks", "crypto") and info.name != "test"
    if not usable or (rest_url is None and custom_url):
        if explicit:
            raise ConfigError(
                f"bar backfill needs the REST endpoint of the {info.name} stream: pass rest_url= "
                "(stocks and crypto streams only)"
            )
        return None
    if importlib.util.find_spec("httpx") is None:
        if explicit:
            raise ConfigError("backfill needs httpx: pip install 'tickwire[rest]'")
        return None
    base = rest_url or (SANDBOX_DATA_URL if sandbox else DATA_URL)
    feed = info.name if info.asset_class == "stocks" else None
    verify: ssl.SSLContext | str | bool = ssl_context or ca_file or True

    async def fetch(symbols: Sequence[str], from_ns: int, to_ns: int) -> Mapping[str, Sequence[Bar]]:
        async with AsyncAlpacaRestClient(
            key_id, secret_key, base_url=base, feed=feed, dotenv_path=None, verify=verify
        ) as rest:
            return await rest.get_bars(symbols, "1Min", from_ns, to_ns, asset_class=info.asset_class)

    return AlpacaGapFiller(fetch, subscriptions, config)
