"""Gap repair: after a reconnect, fetch over REST the bars the stream missed, and deliver them in-band.

Theory of operation
-------------------
The Massive stream has no replay: what was published while a client was disconnected is gone
(polygon.md §1.6, issues #55 and #134). :class:`GapFiller` sits in the consumer path of
:class:`~tickwire.massive.client.AsyncStreamClient` and sees every delivered batch. It remembers, per
``(channel, symbol)``, the start of the last ``A``/``AM`` bar delivered. When a
:class:`~tickwire.events.Reconnected` event comes through, it asks the aggregates endpoint for
the bars of each subscribed ticker after that start (second bars for ``A``, minute bars for
``AM``) and delivers them right after the ``Reconnected`` event:

* **in order**: sorted by start time, and only bars that start *before* the first live bar of
  the same channel already queued behind the ``Reconnected``, so they never come after newer
  live bars;
* **flagged**: as :class:`BackfilledAgg` / :class:`BackfilledAggMin`, subclasses of
  ``EquityAgg`` / ``EquityAggMin`` with ``backfilled = True`` (handlers for ``"AM"`` get
  them; ``isinstance(ev, EquityAggMin)`` holds), followed by one :class:`Backfilled` control
  event saying how many came, for which gap, and any error;
* **exactly once**: bars already delivered before the gap are excluded by start time; a live
  bar that arrives later for an interval already backfilled is dropped (``Backfilled.skipped``
  counts what was excluded up front, :attr:`GapFiller.duplicates_dropped` what was dropped later).

Only complete intervals are backfilled (end at or before the clock), for at most ``max_gap``
seconds back. Wildcard subscriptions (``AM.*``) are backfilled for the tickers seen so far.
Aggregates are on by default when a REST endpoint is known (the official service, or
``rest_url=``); trades are not backfilled (their volume makes a REST replay a poor default).
A failed backfill (401/403, network) yields ``Backfilled(error=...)``; the stream goes on.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tickwire.credentials import Secret
from tickwire.errors import ConfigError, TickwireError
from tickwire.events import ControlEvent, Event, Reconnected
from tickwire.massive.models import EquityAgg, EquityAggMin
from tickwire.massive.rest.client import DEFAULT_BASE_URL, AsyncRestClient
from tickwire.massive.rest.models import Agg

__all__ = [
    "BackfillConfig",
    "Backfilled",
    "BackfilledAgg",
    "BackfilledAggMin",
    "GapFiller",
    "fetch_bars",
    "make_gap_filler",
    "rest_bar",
]

log = logging.getLogger("tickwire.backfill")

_SPAN_MS = {"A": 1_000, "AM": 60_000}
_TIMESPAN = {"A": "second", "AM": "minute"}
_AGG_MARKETS = ("stocks", "options", "indices")


class BackfilledAgg(EquityAgg, tag="A", kw_only=True):
    """A per-second bar fetched over REST after a reconnect (``backfilled`` is always True)."""

    backfilled: bool = True


class BackfilledAggMin(EquityAggMin, tag="AM", kw_only=True):
    """A per-minute bar fetched over REST after a reconnect (``backfilled`` is always True)."""

    backfilled: bool = True


class Backfilled(ControlEvent, tag="backfilled", kw_only=True):
    """The backfill of one gap is complete: ``events`` bars were delivered just before this event.

    ``skipped`` counts fetched bars left out because the stream had delivered them (or will,
    from the live events already queued); ``error`` is set if the backfill failed (partly).
    """

    gap_start: float
    gap_end: float
    events: int
    channels: list[str]
    skipped: int = 0
    error: str | None = None


_Key = tuple[str, str]  # (channel prefix, symbol)
_LIVE_TYPES: dict[type[Event], str] = {EquityAgg: "A", EquityAggMin: "AM"}


@dataclass(frozen=True, slots=True)
class BackfillConfig:
    """What the gap filler does.

    :param aggregates: backfill ``A`` and ``AM`` bars (on by default).
    :param max_gap: seconds back at most (a longer gap is backfilled only for its last part).
    :param timeout: seconds the whole backfill of one gap may take.
    :param concurrency: REST requests in flight at once.
    :param clock: the market clock in Unix seconds; a bar is complete once it ends before it.
        Defaults to the wall clock; an accelerated simulator passes ``lambda: sim.now_ms() / 1000``.
    """

    aggregates: bool = True
    max_gap: float = 6 * 3600.0
    timeout: float = 30.0
    concurrency: int = 4
    clock: Callable[[], float] = time.time


class GapFiller:
    """Watches delivered batches and inserts REST-fetched bars after each ``Reconnected`` (see module doc)."""

    def __init__(
        self,
        fetch: Callable[[str, str, int, int], Any],
        subscriptions: Callable[[], Sequence[str]],
        config: BackfillConfig | None = None,
    ) -> None:
        """``fetch(symbol, timespan, from_ms, to_ms)`` is an async function returning ``Agg`` rows."""
        self.fetch = fetch
        self.subscriptions = subscriptions
        self.config = config or BackfillConfig()
        self.last: dict[_Key, int] = {}
        self.delivered: set[tuple[str, str, int]] = set()
        self.duplicates_dropped = 0
        self.backfilled = 0

    async def process(self, batches: list[list[Event]]) -> list[list[Event]]:
        """The batches to deliver: as given, plus backfilled bars after a ``Reconnected``, minus dups."""
        last = self.last
        delivered = self.delivered
        live = _LIVE_TYPES
        for bi, batch in enumerate(batches):
            for ei, ev in enumerate(batch):
                prefix = live.get(type(ev))
                if prefix is not None:
                    sym, start = ev.symbol, ev.start_timestamp  # type: ignore[attr-defined]
                    if sym is None or start is None:
                        continue
                    if delivered and (prefix, sym, start) in delivered:
                        return await self.process(_without(batches, bi, ei, self))
                    if start > last.get((prefix, sym), -1):
                        last[(prefix, sym)] = start
                elif type(ev) is Reconnected and self.config.aggregates:
                    held = [e for b in batches[bi:] for e in b][ei + 1 :]
                    filled = await self.fill(ev, held)
                    head = [*batch[: ei + 1], *filled]
                    rest = [batch[ei + 1 :], *batches[bi + 1 :]]
                    return [*batches[:bi], head, *await self.process([b for b in rest if b])]
        return batches

    async def fill(self, gap: Reconnected, held: Sequence[Event]) -> list[Event]:
        """The backfilled bars for ``gap`` (sorted) and the closing :class:`Backfilled` event."""
        self.delivered.clear()
        cfg = self.config
        now_ms = int(cfg.clock() * 1000)
        gap_start_ms = now_ms - int((time.time() - gap.gap_start) * 1000)
        first_live: dict[_Key, int] = {}
        for ev in held:
            prefix = _LIVE_TYPES.get(type(ev))
            if prefix is not None and ev.symbol is not None and ev.start_timestamp is not None:  # type: ignore[attr-defined]
                key = (prefix, ev.symbol)  # type: ignore[attr-defined]
                first_live[key] = min(first_live.get(key, ev.start_timestamp), ev.start_timestamp)  # type: ignore[attr-defined]
        targets = self._targets()
        channels = [f"{p}.{s}" for p, s in targets]
        sem = asyncio.Semaphore(max(1, cfg.concurrency))
        errors: list[str] = []
        skipped = 0

        async def one(key: _Key) -> list[Event]:
            nonlocal skipped
            prefix, sym = key
            span = _SPAN_MS[prefix]
            seen = self.last.get(key)
            lower = seen + span if seen is not None else gap_start_ms // span * span
            lower = max(lower, now_ms - int(cfg.max_gap * 1000))
            if lower + span > now_ms:
                return []
            async with sem:
                rows = await self.fetch(sym, _TIMESPAN[prefix], lower, now_ms)
            stop = first_live.get(key)
            out: list[Event] = []
            cls = BackfilledAgg if prefix == "A" else BackfilledAggMin
            for row in rows:
                t = row.timestamp
                if t is None or t + span > now_ms:
                    continue
                if (seen is not None and t <= seen) or (stop is not None and t >= stop):
                    skipped += 1
                    continue
                out.append(rest_bar(prefix, sym, row, cls))
            return out

        results: list[Event] = []
        try:
            async with asyncio.timeout(cfg.timeout):
                gathered = await asyncio.gather(*(one(k) for k in targets), return_exceptions=True)
        except TimeoutError:
            gathered = [TimeoutError(f"backfill took longer than {cfg.timeout:g} s")]
        for got in gathered:
            if isinstance(got, BaseException):
                if not isinstance(got, Exception):
                    raise got
                errors.append(str(got) if isinstance(got, TickwireError | TimeoutError) else repr(got))
            else:
                results.extend(got)
        results.sort(key=lambda e: (e.start_timestamp, e.event_type, e.symbol))  # type: ignore[attr-defined]
        for ev in results:
            prefix, sym, start = ev.event_type, ev.symbol, ev.start_timestamp  # type: ignore[attr-defined]
            self.delivered.add((prefix, sym, start))
            if start > self.last.get((prefix, sym), -1):
                self.last[(prefix, sym)] = start
        self.backfilled += len(results)
        error = "; ".join(dict.fromkeys(errors)) or None
        if error:
            log.warning("backfill of the %.1f s gap failed (partly): %s", gap.gap_seconds, error)
        done = Backfilled(
            gap_start=gap.gap_start,
            gap_end=gap.gap_end,
            events=len(results),
            channels=channels,
            skipped=skipped,
            error=error,
        )
        return [*results, done]

    def _targets(self) -> list[_Key]:
        """The ``(prefix, symbol)`` pairs to backfill: subscribed A/AM channels; wildcards → seen symbols."""
        out: dict[_Key, None] = {}
        for channel in self.subscriptions():
            prefix, _, sym = channel.partition(".")
            if prefix not in _SPAN_MS or not sym:
                continue
            if sym == "*":
                for p, s in self.last:
                    if p == prefix:
                        out[(p, s)] = None
            else:
                out[(prefix, sym)] = None
        return list(out)


def rest_bar(prefix: str, symbol: str, row: Agg, cls: type[EquityAgg] | None = None) -> EquityAgg:
    """One REST aggregate row as the stream's ``A`` (second) or ``AM`` (minute) bar; ``cls`` makes
    a subclass instead (the flagged :class:`BackfilledAgg`). Shared with the HA failover backfill."""
    span = _SPAN_MS[prefix]
    make = cls or (EquityAgg if prefix == "A" else EquityAggMin)
    t = row.timestamp or 0
    return make(
        symbol=symbol,
        volume=row.volume,
        vwap=row.vwap,
        open=row.open,
        close=row.close,
        high=row.high,
        low=row.low,
        start_timestamp=t,
        end_timestamp=t + span,
        average_size=int(row.volume // row.transactions) if row.volume and row.transactions else None,
        otc=row.otc,
    )


async def fetch_bars(rest: AsyncRestClient, prefix: str, symbol: str, from_ms: int, to_ms: int) -> list[Agg]:
    """The ``A``/``AM`` bars of ``symbol`` starting in ``[from_ms, to_ms]`` (every page)."""
    timespan: Any = _TIMESPAN[prefix]
    return [row async for row in rest.list_aggs(symbol, 1, timespan, from_ms, to_ms)]


def _without(batches: list[list[Event]], bi: int, ei: int, filler: GapFiller) -> list[list[Event]]:
    """``batches`` without event ``ei`` of batch ``bi`` (a live duplicate of a backfilled bar)."""
    filler.duplicates_dropped += 1
    ev = batches[bi][ei]
    filler.delivered.discard((ev.event_type, ev.symbol, ev.start_timestamp))  # type: ignore[attr-defined]
    trimmed = [*batches[bi][:ei], *batches[bi][ei + 1 :]]
    out = [*batches[:bi], trimmed, *batches[bi + 1 :]]
    return [b for b in out if b]


def make_gap_filler(
    *,
    key: Secret,
    market: str,
    custom_url: bool,
    backfill: bool | BackfillConfig | None,
    rest_url: str | None,
    subscriptions: Callable[[], Sequence[str]],
    ssl_context: ssl.SSLContext | None = None,
    ca_file: str | None = None,
) -> GapFiller | None:
    """The filler an :class:`~tickwire.massive.client.AsyncStreamClient` uses, or ``None`` if backfill is off.

    ``backfill=None`` (the default) means on when a REST endpoint is known: the official service
    (no custom stream ``url``) or an explicit ``rest_url``; ``True`` insists (and fails clearly
    if there is none); ``False`` turns it off.
    """
    if backfill is False:
        return None
    config = backfill if isinstance(backfill, BackfillConfig) else BackfillConfig()
    explicit = backfill is not None
    if market not in _AGG_MARKETS:
        if explicit:
            raise ConfigError(
                f"aggregate backfill covers the A/AM channels of {', '.join(_AGG_MARKETS)}, not {market}"
            )
        return None
    if rest_url is None and custom_url:
        if explicit:
            raise ConfigError(
                "backfill needs the REST endpoint of this stream: pass rest_url= (e.g. sim.rest_url)"
            )
        return None
    if importlib.util.find_spec("httpx") is None:  # the REST client's optional dependency
        if explicit:
            raise ConfigError("backfill needs httpx: pip install 'tickwire[rest]'")
        return None
    base = rest_url or DEFAULT_BASE_URL

    async def fetch(symbol: str, timespan: str, from_ms: int, to_ms: int) -> list[Any]:
        async with AsyncRestClient(
            key, base_url=base, dotenv_path=None, max_retries=3, ssl_context=ssl_context, ca_file=ca_file
        ) as rest:
            return await fetch_bars(rest, "A" if timespan == "second" else "AM", symbol, from_ms, to_ms)

    return GapFiller(fetch, subscriptions, config)
