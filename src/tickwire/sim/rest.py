"""The simulator's REST API: Massive's aggregates, trades, previous close and snapshot endpoints.

Theory of operation
-------------------
:class:`SimRestServer` is a small aiohttp server started next to the WebSocket server (on its
own port, on the simulator's event loop). It answers from a :class:`~.market.MarketModel` built
with the stream's seed, rates and universe: the model is a pure function of those, so a bar
served here equals the bar the stream sent for the same interval (a separate instance lets the
work run on a worker thread without stalling the stream's ticks; a lock serialises it).

Like the real service it serves only *completed* intervals (a bar whose end is after the
market clock does not exist yet), pages with ``next_url`` (an opaque ``cursor`` carrying the
page size and order), answers 401 to a bad key, 403 to a key without the entitlement, and 429
(with ``Retry-After``) above a configurable request rate. :meth:`SimRestServer.fail_next`
injects error replies for tests.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from tickwire.sim.market import DAY_MS, MINUTE_MS, SECOND_MS, Bar, MarketModel, Trade
from tickwire.sim.observe import key_id

if TYPE_CHECKING:
    from aiohttp import web

    from tickwire.sim.server import MassiveSimulator

__all__ = ["RestOptions", "RestStats", "SimRestServer"]

PRICING = "https://massive.com/pricing"
_SPANS = {"second": SECOND_MS, "minute": MINUTE_MS, "hour": 60 * MINUTE_MS, "day": DAY_MS}
_PREFIX_CLUSTER = {"O:": "options", "I:": "indices", "X:": "crypto", "C:": "forex"}


@dataclass(frozen=True, slots=True)
class RestOptions:
    """How the simulated REST API behaves.

    :param port: TCP port (0 picks a free one).
    :param rate_limit: requests allowed per key per ``per`` seconds (``None``: unlimited); above it, 429.
    :param per: the rate-limit window in seconds.
    :param page_size: the most results one page holds (the client's ``limit`` can only lower it).
    """

    port: int = 0
    rate_limit: int | None = None
    per: float = 60.0
    page_size: int = 5_000


@dataclass(slots=True)
class RestStats:
    """Running totals of the REST server."""

    requests: int = 0
    ok: int = 0
    rate_limited: int = 0
    unauthorized: int = 0
    forbidden: int = 0
    injected: int = 0


class _Reply(Exception):
    """An error reply (status, JSON body, extra headers)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, message: str, kind: str = "ERROR") -> _Reply:
    field = "message" if kind == "NOT_AUTHORIZED" else "error"
    return _Reply(status, {"status": kind, "request_id": uuid.uuid4().hex, field: message})


def _cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _uncursor(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, json.JSONDecodeError):
        raise _error(400, "invalid cursor") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise _error(400, "invalid cursor")
    return data


def _int_param(query: dict[str, str], name: str, default: int) -> int:
    """An integer query parameter; a 400 reply (not a 500) when it is not one."""
    value = query.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise _error(400, f"{name} must be an integer, got {value[:40]!r}") from None


def _day_start(text: str) -> int | None:
    try:
        d = date.fromisoformat(text)
    except ValueError:
        return None
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def _ms_bound(text: str, end: bool) -> int:
    """An aggregates ``from``/``to``: a date (whole UTC day) or Unix ms."""
    start = _day_start(text)
    if start is not None:
        return start + DAY_MS - 1 if end else start
    try:
        return int(text)
    except ValueError:
        raise _error(
            400, f"could not parse {'to' if end else 'from'} {text!r}: use YYYY-MM-DD or Unix ms"
        ) from None


def _ns_bound(text: str, name: str) -> tuple[int, int]:
    """A trades timestamp filter value: a date gives ``[day start, day end]`` in ns, else ``(ns, ns)``."""
    start = _day_start(text)
    if start is not None:
        return start * 1_000_000, (start + DAY_MS) * 1_000_000 - 1
    try:
        v = int(text)
    except ValueError:
        raise _error(400, f"could not parse {name}={text!r}: use YYYY-MM-DD or Unix ns") from None
    return v, v


def _merge(bars: list[Bar], start: int, span: int, decimals: int) -> dict[str, Any]:
    volume = sum(b.volume for b in bars)
    dollars = math.fsum(b.dollar_volume for b in bars)
    n = sum(b.transactions for b in bars)
    if volume:
        vwap = round(dollars / volume, decimals + 2)
    else:
        vwap = round(math.fsum(b.vwap * b.transactions for b in bars) / n, decimals + 2)
    return {
        "v": volume,
        "vw": vwap,
        "o": bars[0].open,
        "c": bars[-1].close,
        "h": max(b.high for b in bars),
        "l": min(b.low for b in bars),
        "t": start,
        "n": n,
    }


def _bar_json(bar: Bar) -> dict[str, Any]:
    return {
        "v": bar.volume,
        "vw": bar.vwap,
        "o": bar.open,
        "c": bar.close,
        "h": bar.high,
        "l": bar.low,
        "t": bar.start,
        "n": bar.transactions,
    }


class SimRestServer:
    """The REST side of a :class:`~.server.MassiveSimulator` (see the module docstring)."""

    def __init__(self, sim: MassiveSimulator, options: RestOptions | None = None) -> None:
        self.sim = sim
        self.options = options or RestOptions()
        base = sim.model
        self.model = MarketModel(base.seed, base.rates, base.universe)
        self.stats = RestStats()
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}
        self._faults: deque[tuple[int, float | None]] = deque()
        self._runner: web.AppRunner | None = None
        self._port = self.options.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` if the simulator has an ``ssl_context``): the
        ``base_url`` for :class:`~tickwire.massive.rest.RestClient`."""
        return f"{'https' if self.sim.ssl_context is not None else 'http'}://{self.sim.host}:{self._port}"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        from aiohttp import web

        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}", self._aggs)
        app.router.add_get("/v2/aggs/ticker/{ticker}/prev", self._prev)
        app.router.add_get("/v3/trades/{ticker}", self._trades)
        app.router.add_get("/v2/snapshot/locale/us/markets/{market}/tickers/{ticker}", self._snapshot)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.sim.host, self._port, ssl_context=self.sim.ssl_context)
        await site.start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # ------------------------------------------------------------------ faults

    def fail_next(self, status: int = 500, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (and ``Retry-After`` if given)."""
        for _ in range(count):
            self._faults.append((status, retry_after))

    # ------------------------------------------------------------------ plumbing

    async def _serve(self, request: web.Request, compute: Callable[[], dict[str, Any]]) -> web.Response:
        from aiohttp import web

        self.stats.requests += 1
        try:
            self._admit(request)
            body = await asyncio.to_thread(self._locked, compute)
        except _Reply as reply:
            return web.Response(
                status=reply.status,
                body=msgspec.json.encode(reply.body),
                content_type="application/json",
                headers=reply.headers,
            )
        self.stats.ok += 1
        body.setdefault("request_id", uuid.uuid4().hex)
        return web.Response(body=msgspec.json.encode(body), content_type="application/json")

    def _locked(self, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            return compute()

    def _admit(self, request: web.Request) -> None:
        """Key check, injected faults and the rate limit, in the real service's order."""
        auth = request.headers.get("Authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else request.query.get("apiKey", "")
        policy = self.sim._policy
        if not key:
            self.stats.unauthorized += 1
            raise _error(401, "API Key was not provided")
        kid = key_id(key)
        if kid in policy.plan_denied:
            self.stats.forbidden += 1
            raise _error(
                403,
                f"You are not entitled to this data. Please upgrade your plan at {PRICING}",
                "NOT_AUTHORIZED",
            )
        if policy.valid is not None and kid not in policy.valid:
            self.stats.unauthorized += 1
            raise _error(401, "Unknown API Key")
        if self._faults:
            status, retry_after = self._faults.popleft()
            self.stats.injected += 1
            reply = _error(status, f"injected failure (HTTP {status})")
            if retry_after is not None:
                reply.headers["Retry-After"] = f"{retry_after:g}"
            raise reply
        limit = self.options.rate_limit
        if limit is not None:
            now = time.monotonic()
            hits = self._hits.setdefault(kid, deque())
            while hits and hits[0] <= now - self.options.per:
                hits.popleft()
            if len(hits) >= limit:
                self.stats.rate_limited += 1
                wait = max(1, math.ceil(hits[0] + self.options.per - now))
                reply = _error(
                    429,
                    "You've exceeded the maximum requests per minute, please wait or upgrade your "
                    f"subscription to continue. {PRICING}",
                )
                reply.headers["Retry-After"] = str(wait)
                raise reply
            hits.append(now)

    def _instrument_of(self, ticker: str) -> Any:
        """The instrument of a ticker in the REST service's forms: ``AAPL``, ``O:SPY251219C00600000``,
        ``I:SPX``, ``X:BTCUSD`` and ``C:EURUSD`` (the stream's ``BTC-USD``/``EUR/USD`` work too)."""
        cluster = _PREFIX_CLUSTER.get(ticker[:2].upper(), "stocks")
        if cluster in ("crypto", "forex", "options", "indices"):
            ticker = ticker[:2].upper() + ticker[2:]
        return self.model.universe.get(cluster, ticker)

    def _next_url(self, path: str, query: dict[str, str]) -> str:
        return f"{self.url}{path}?" + "&".join(f"{k}={v}" for k, v in query.items())

    # ------------------------------------------------------------------ bars

    def _interval(
        self, inst: Any, start: int, span: int, timespan: str, multiplier: int
    ) -> dict[str, Any] | None:
        model = self.model
        if timespan == "second" and multiplier == 1:
            bar = model.second_bar(inst, start // SECOND_MS)
            return _bar_json(bar) if bar is not None else None
        if timespan == "minute" and multiplier == 1:
            bar = model.minute_bar(inst, start // MINUTE_MS)
            return _bar_json(bar) if bar is not None else None
        if timespan == "second":
            parts = [
                b
                for s in range(start // SECOND_MS, (start + span) // SECOND_MS)
                if (b := model.second_bar(inst, s))
            ]
        else:
            parts = [
                b
                for m in range(start // MINUTE_MS, (start + span) // MINUTE_MS)
                if (b := model.minute_bar(inst, m))
            ]
        return _merge(parts, start, span, inst.decimals) if parts else None

    async def _aggs(self, request: web.Request) -> web.Response:
        info = request.match_info
        ticker = info["ticker"]
        query = dict(request.query)

        def compute() -> dict[str, Any]:
            if "cursor" in query:  # here, so that a bad one is answered 400 like any bad parameter
                query.update(_uncursor(query["cursor"]))
            timespan = info["timespan"]
            span_unit = _SPANS.get(timespan)
            if span_unit is None:
                raise _error(
                    400, f"timespan {timespan!r} is not served by the simulator: {', '.join(_SPANS)}"
                )
            try:
                multiplier = int(info["multiplier"])
            except ValueError:
                raise _error(400, "multiplier must be an integer") from None
            if multiplier < 1:
                raise _error(400, "multiplier must be >= 1")
            span = span_unit * multiplier
            lo, hi = _ms_bound(info["from"], False), _ms_bound(info["to"], True)
            limit = max(1, min(_int_param(query, "limit", 5000), 50_000, self.options.page_size))
            sort = query.get("sort", "asc")
            adjusted = query.get("adjusted", "true")
            envelope: dict[str, Any] = {"ticker": ticker, "adjusted": adjusted != "false", "status": "OK"}
            inst = self._instrument_of(ticker)
            first = -(-lo // span) * span
            last = min(hi // span * span, (self.sim.now_ms() - span) // span * span)
            results: list[dict[str, Any]] = []
            next_start: int | None = None
            if inst is not None and first <= last:
                starts = range(first, last + 1, span) if sort != "desc" else range(last, first - 1, -span)
                for start in starts:
                    if len(results) >= limit:
                        next_start = start
                        break
                    bar = self._interval(inst, start, span, timespan, multiplier)
                    if bar is not None:
                        results.append(bar)
            envelope.update(queryCount=len(results), resultsCount=len(results), count=len(results))
            if results:
                envelope["results"] = results
            if next_start is not None:
                a, b = (next_start, hi) if sort != "desc" else (lo, next_start)
                token = _cursor({"limit": str(limit), "sort": sort, "adjusted": adjusted})
                envelope["next_url"] = self._next_url(
                    f"/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{a}/{b}", {"cursor": token}
                )
            return envelope

        return await self._serve(request, compute)

    def _day_bar(self, inst: Any, day_start: int, end: int) -> dict[str, Any] | None:
        minutes = range(day_start // MINUTE_MS, end // MINUTE_MS)
        parts = [b for m in minutes if (b := self.model.minute_bar(inst, m)) is not None]
        return _merge(parts, day_start, DAY_MS, inst.decimals) if parts else None

    async def _prev(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]

        def compute() -> dict[str, Any]:
            inst = self._instrument_of(ticker)
            today = self.sim.now_ms() // DAY_MS * DAY_MS
            bar = self._day_bar(inst, today - DAY_MS, today) if inst is not None else None
            out: dict[str, Any] = {"ticker": ticker, "adjusted": True, "status": "OK"}
            out.update(queryCount=int(bar is not None), resultsCount=int(bar is not None))
            if bar is not None:
                out["results"] = [{"T": ticker, **bar}]
            return out

        return await self._serve(request, compute)

    async def _snapshot(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]

        def compute() -> dict[str, Any]:
            inst = self._instrument_of(ticker)
            if inst is None:
                raise _error(404, f"no such ticker {ticker!r}", "NOT_FOUND")
            now = self.sim.now_ms()
            today = now // DAY_MS * DAY_MS
            last_minute = now // MINUTE_MS * MINUTE_MS
            day = self._day_bar(inst, today, last_minute)
            prev = self._day_bar(inst, today - DAY_MS, today)
            minute = self.model.minute_bar(inst, last_minute // MINUTE_MS - 1)
            trades = self.model.trades(inst.cluster, inst.ticker, max(today, now - 60_000), now)
            quotes = self.model.quotes(inst.cluster, inst.ticker, max(today, now - 60_000), now)
            snap: dict[str, Any] = {"ticker": ticker, "updated": now * 1_000_000}
            if day is not None:
                snap["day"] = {k: day[k] for k in ("o", "h", "l", "c", "v", "vw")}
            if prev is not None:
                snap["prevDay"] = {k: prev[k] for k in ("o", "h", "l", "c", "v", "vw")}
            if minute is not None:
                snap["min"] = {**_bar_json(minute), "av": minute.day_volume}
            if trades:
                snap["lastTrade"] = _last_trade(trades[-1])
            if quotes:
                q = quotes[-1]
                snap["lastQuote"] = {
                    "p": q.bid_price,
                    "s": q.bid_size,
                    "P": q.ask_price,
                    "S": q.ask_size,
                    "t": q.timestamp * 1_000_000,
                }
            last = trades[-1].price if trades else (day or {}).get("c")
            if prev is not None and last is not None:
                change = round(last - prev["c"], inst.decimals + 2)
                snap["todaysChange"] = change
                snap["todaysChangePerc"] = round(100.0 * change / prev["c"], 4) if prev["c"] else 0.0
            return {"status": "OK", "ticker": snap}

        return await self._serve(request, compute)

    # ------------------------------------------------------------------ trades

    async def _trades(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        query = dict(request.query)

        def compute() -> dict[str, Any]:
            if "cursor" in query:
                query.update(_uncursor(query["cursor"]))
            lo, hi = 0, self.sim.now_ms() * 1_000_000 - 1
            if "timestamp" in query:
                a, b = _ns_bound(query["timestamp"], "timestamp")
                lo, hi = max(lo, a), min(hi, b)
            for name in ("timestamp.gte", "timestamp.gt", "timestamp.lte", "timestamp.lt"):
                if name in query:
                    a, b = _ns_bound(query[name], name)
                    if name.endswith("gte"):
                        lo = max(lo, a)
                    elif name.endswith("gt"):
                        lo = max(lo, b + 1)
                    elif name.endswith("lte"):
                        hi = min(hi, b)
                    else:
                        hi = min(hi, a - 1)
            if lo == 0:
                lo = max(0, hi - DAY_MS * 1_000_000 + 1)  # no lower bound: the last day
            limit = max(1, min(_int_param(query, "limit", 1000), 50_000, self.options.page_size))
            order = query.get("order", "asc")
            skip = _int_param(query, "skip", 0)
            inst = self._instrument_of(ticker)
            results: list[dict[str, Any]] = []
            more: tuple[int, int] | None = None
            if inst is not None and lo <= hi:
                first_s, last_s = lo // 1_000_000_000, hi // 1_000_000_000
                seconds = range(first_s, last_s + 1) if order != "desc" else range(last_s, first_s - 1, -1)
                edge, same = None, 0  # the ns of the last trade taken, and how many share it
                for second in seconds:
                    prints = [
                        p
                        for p in self.model.trades(
                            inst.cluster, inst.ticker, second * 1000, second * 1000 + 1000
                        )
                        if lo <= p.timestamp * 1_000_000 <= hi
                    ]
                    if order == "desc":
                        prints.reverse()
                    for p in prints:
                        ns = p.timestamp * 1_000_000
                        if skip:
                            skip -= 1
                            continue
                        if len(results) >= limit:
                            more = (edge, same) if edge is not None else (ns, 0)
                            break
                        results.append(_trade_json(p))
                        same = same + 1 if ns == edge else 1
                        edge = ns
                    if more is not None:
                        break
            out: dict[str, Any] = {"status": "OK"}
            if results:
                out["results"] = results
            if more is not None:
                bound, skip_next = more
                q = {"limit": str(limit), "order": order, "sort": "timestamp", "skip": str(skip_next)}
                if order == "desc":
                    q.update({"timestamp.gte": str(lo), "timestamp.lte": str(bound)})
                else:
                    q.update({"timestamp.gte": str(bound), "timestamp.lte": str(hi)})
                out["next_url"] = self._next_url(f"/v3/trades/{ticker}", {"cursor": _cursor(q)})
            return out

        return await self._serve(request, compute)


def _trade_json(p: Trade) -> dict[str, Any]:
    out: dict[str, Any] = {
        "exchange": p.exchange,
        "id": str(p.trade_id),
        "participant_timestamp": p.timestamp * 1_000_000,
        "price": p.price,
        "sequence_number": p.sequence,
        "sip_timestamp": p.timestamp * 1_000_000,
        "size": p.size,
    }
    if p.conditions:
        out["conditions"] = list(p.conditions)
    if p.tape:
        out["tape"] = p.tape
    if p.trf_id:
        out["trf_id"] = p.trf_id
        out["trf_timestamp"] = p.trf_timestamp * 1_000_000
    return out


def _last_trade(p: Trade) -> dict[str, Any]:
    out: dict[str, Any] = {
        "p": p.price,
        "s": p.size,
        "x": p.exchange,
        "i": str(p.trade_id),
        "t": p.timestamp * 1_000_000,
    }
    if p.conditions:
        out["c"] = list(p.conditions)
    return out
