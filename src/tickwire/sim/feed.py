"""One route's data stream: the model's events in each tick's time window, encoded once.

Every tick the server asks each :class:`RouteFeed` for the events timestamped in
``(last, now]`` (``now`` 15 minutes back on the delayed feed) for the channels and tickers
somebody subscribed to. Events are encoded to JSON once, as *pieces*: comma-joined runs of
events of one channel and ticker, at most ``max_events`` each. A connection's frames are then
just ``[`` + its pieces joined + ``]``, shared by every connection with the same subscriptions.
Bars are published at the first tick after their interval ends, like the real server.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tickwire.sim.channels import Kind, Route, split_channel
from tickwire.sim.instruments import Instrument
from tickwire.sim.market import MINUTE_MS, SECOND_MS, MarketModel, window_seconds
from tickwire.sim.wire import BUILDERS, ENCODER, QUIRKY_BUILDERS, Builder, WireEvent

__all__ = ["Piece", "RouteFeed", "Selection", "assemble_frames", "select", "union"]

Selection = Mapping[str, frozenset[str] | None]
"""Channel prefix → the canonical tickers wanted, or ``None`` for all (wildcard)."""

Piece = tuple[int, bytes]
"""``(event count, comma-joined JSON objects)``."""


class RouteFeed:
    """Produces the encoded events of one route (e.g. ``delayed/stocks``) tick by tick."""

    def __init__(
        self,
        model: MarketModel,
        route: Route,
        *,
        delay_ms: int = 900_000,
        max_events: int = 1_000,
        max_catchup_ms: int = 2_000,
        quirks: bool = False,
    ) -> None:
        self.model = model
        self.route = route
        self.delay_ms = delay_ms if route.delayed else 0
        self.max_events = max(1, max_events)
        self.max_catchup_ms = max_catchup_ms
        self.instruments: list[Instrument] = model.universe.instruments(route.family, route.venue or None)
        self._by_ticker = {i.ticker: i for i in self.instruments}
        builders = QUIRKY_BUILDERS if quirks else BUILDERS
        self._builders: dict[str, Builder] = {
            prefix: builders[(route.family, kind)] for prefix, kind in route.channels.items()
        }
        self.last_ms: int | None = None

    def canonical(self, ticker: str) -> str:
        """The plain ticker for a subscribed one (``X:BTC-USD`` → ``BTC-USD``)."""
        return self.model.universe.canonical(self.route.family, ticker)

    def skip(self, now_ms: int) -> None:
        """Advance the window without producing anything (nobody listens, or the generator is paused)."""
        self.last_ms = now_ms - self.delay_ms

    def collect(self, now_ms: int, wanted: Selection) -> dict[tuple[str, str], list[Piece]]:
        """The encoded events in ``(last, now]`` for ``wanted``, keyed by ``(channel, ticker)``."""
        end = now_ms - self.delay_ms
        start = self.last_ms if self.last_ms is not None else end
        self.last_ms = end
        start = max(start, end - self.max_catchup_ms)
        out: dict[tuple[str, str], list[Piece]] = {}
        if end <= start:
            return out
        kinds = self.route.channels
        for prefix, tickers in wanted.items():
            kind = kinds.get(prefix)
            if kind is None:
                continue
            build = self._builders[prefix]
            for inst in self._targets(tickers):
                events = self._events(kind, inst, start, end, build)
                if events:
                    out[(prefix, inst.ticker)] = self._encode(events)
        return out

    def _targets(self, tickers: frozenset[str] | None) -> Iterable[Instrument]:
        if tickers is None:
            return self.instruments
        return [inst for t in tickers if (inst := self._by_ticker.get(t)) is not None]

    def _encode(self, events: list[WireEvent]) -> list[Piece]:
        n = self.max_events
        pieces = []
        for i in range(0, len(events), n):
            chunk = events[i : i + n]
            pieces.append((len(chunk), ENCODER.encode(chunk)[1:-1]))
        return pieces

    def _events(self, kind: Kind, inst: Instrument, start: int, end: int, build: Builder) -> list[WireEvent]:
        model = self.model
        out: list[WireEvent] = []
        if kind is Kind.TRADE or kind is Kind.VALUE:
            for second in window_seconds(start, end):
                sec = model.second(inst, second)
                times = sec.times
                if times:
                    lo, hi = bisect_right(times, start), bisect_right(times, end)
                    out.extend(build(inst, p) for p in sec.prints[lo:hi])
        elif kind is Kind.QUOTE:
            for second in window_seconds(start, end):
                times, quotes = model.second_quotes(inst, second)
                if times:
                    lo, hi = bisect_right(times, start), bisect_right(times, end)
                    out.extend(build(inst, q) for q in quotes[lo:hi])
        elif kind is Kind.SECOND_BAR:
            for boundary in _boundaries(start, end, SECOND_MS):
                bar = model.second_bar(inst, boundary // SECOND_MS - 1)
                if bar is not None:
                    out.append(build(inst, bar))
        elif kind is Kind.MINUTE_BAR or kind is Kind.LAUNCHPAD_AM:
            for boundary in _boundaries(start, end, MINUTE_MS):
                mbar = model.minute_bar(inst, boundary // MINUTE_MS - 1)
                if mbar is not None:
                    out.append(build(inst, mbar))
        else:
            source = self._per_second_source(kind)
            for second in window_seconds(start, end):
                item = source(inst, second)
                if item is not None and start < item.timestamp <= end:
                    out.append(build(inst, item))
        return out

    def _per_second_source(self, kind: Kind) -> Callable[[Instrument, int], Any]:
        model = self.model
        sources: dict[Kind, Callable[[Instrument, int], Any]] = {
            Kind.LULD: model.luld,
            Kind.NOI: model.imbalance,
            Kind.FMV: model.fair_value,
            Kind.LV: model.launchpad_value,
            Kind.L2: model.book,
        }
        return sources[kind]


def _boundaries(start: int, end: int, step: int) -> range:
    """Multiples of ``step`` in ``(start, end]``."""
    return range((start // step + 1) * step, end + 1, step)


def assemble_frames(
    pieces: Mapping[tuple[str, str], list[Piece]],
    selection: Selection,
    max_events: int,
) -> list[tuple[bytes, int]]:
    """A connection's frames for one tick, each with its event count (at most ``max_events``)."""
    frames: list[tuple[bytes, int]] = []
    batch: list[bytes] = []
    count = 0
    for prefix, tickers in selection.items():
        if tickers is None:
            keys: Iterable[tuple[str, str]] = [k for k in pieces if k[0] == prefix]
        else:
            keys = [(prefix, t) for t in tickers]
        for key in keys:
            for n, data in pieces.get(key, ()):
                if count and count + n > max_events:
                    frames.append((b"[" + b",".join(batch) + b"]", count))
                    batch, count = [], 0
                batch.append(data)
                count += n
    if batch:
        frames.append((b"[" + b",".join(batch) + b"]", count))
    return frames


def select(channels: Iterable[str], canonical: Callable[[str], str]) -> Selection:
    """A connection's :data:`Selection` from its confirmed channels (``T.AAPL``, ``AM.*``)."""
    selection: dict[str, set[str] | None] = {}
    for channel in channels:
        parts = split_channel(channel)
        if parts is None:
            continue
        prefix, ticker = parts
        if ticker == "*":
            selection[prefix] = None
        else:
            current = selection.setdefault(prefix, set())
            if current is not None:
                current.add(canonical(ticker))
    return {p: None if t is None else frozenset(t) for p, t in selection.items()}


def union(selections: Iterable[Selection]) -> Selection:
    """What any of ``selections`` wants: the events one tick must produce for a route."""
    merged: dict[str, set[str] | None] = {}
    for selection in selections:
        for prefix, tickers in selection.items():
            if tickers is None:
                merged[prefix] = None
            elif prefix not in merged:
                merged[prefix] = set(tickers)
            else:
                current = merged[prefix]
                if current is not None:
                    current.update(tickers)
    return {p: None if t is None else frozenset(t) for p, t in merged.items()}
