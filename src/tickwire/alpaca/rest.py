"""Alpaca's historical bars over REST (``/v2/stocks/bars``, ``/v1beta3/crypto/us/bars``) as events
and DataFrames.

One request shape, both asset classes: ``symbols=A,B&timeframe=1Min&start=..&end=..&limit=..``
(``feed=`` for stocks), answered by ``{"bars": {"A": [...], ...}, "next_page_token": ...}``; pages
are followed until the token is null (a token seen twice stops the loop with an error rather than
spinning). Keys go in the ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers and never into an
error message. 429 and 5xx are retried with backoff (``Retry-After`` honoured), 401/403 raise
:class:`~tickwire.errors.AuthError`, anything else :class:`~tickwire.errors.RestError`.

:class:`AlpacaRestClient` is synchronous (scripts, notebooks), :class:`AsyncAlpacaRestClient` the
same over ``httpx.AsyncClient`` (the gap filler). Both need the ``rest`` extra (httpx).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import ssl
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import msgspec

from tickwire.alpaca.keys import resolve_keys
from tickwire.alpaca.models import Bar
from tickwire.alpaca.wire import parse_rfc3339_ns
from tickwire.credentials import Secret, redact
from tickwire.errors import AuthError, ConfigError, RateLimited, RestError

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "DATA_URL",
    "SANDBOX_DATA_URL",
    "AlpacaRestClient",
    "AsyncAlpacaRestClient",
    "bars_frame",
    "bars_path",
]

DATA_URL = "https://data.alpaca.markets"
SANDBOX_DATA_URL = "https://data.sandbox.alpaca.markets"
_RETRY = frozenset({429, 500, 502, 503, 504})


class _WBar(msgspec.Struct, gc=False):
    t: str
    o: float
    h: float
    l: float  # noqa: E741 (the wire's name)
    c: float
    v: float
    n: int | None = None
    vw: float | None = None


class _BarsPage(msgspec.Struct, gc=False):
    bars: dict[str, list[_WBar]] | None = None
    next_page_token: str | None = None


_PAGE = msgspec.json.Decoder(_BarsPage)


def bars_path(asset_class: str) -> str:
    """The bars endpoint of ``stocks`` or ``crypto``."""
    if asset_class == "stocks":
        return "/v2/stocks/bars"
    if asset_class == "crypto":
        return "/v1beta3/crypto/us/bars"
    raise ConfigError(f"Alpaca REST bars cover stocks and crypto, not {asset_class}")


def _time_param(value: int | float | str | _dt.datetime | None) -> str | None:
    """RFC 3339 for the query: a datetime, a string as given, or Unix time (s, or ns if huge)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, _dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
        return moment.astimezone(_dt.UTC).isoformat().replace("+00:00", "Z")
    seconds = value / 1e9 if value > 1e14 else float(value)
    return _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC).isoformat().replace("+00:00", "Z")


class _Request:
    """What one bars call needs, and how to read a page (shared by both clients)."""

    def __init__(
        self,
        symbols: Iterable[str],
        timeframe: str,
        start: Any,
        end: Any,
        *,
        asset_class: str,
        feed: str | None,
        limit: int,
        adjustment: str | None,
    ) -> None:
        self.symbols = [s.strip() for item in symbols for s in str(item).split(",") if s.strip()]
        if not self.symbols:
            raise ConfigError("bars need at least one symbol")
        self.path = bars_path(asset_class)
        self.params: dict[str, str] = {"symbols": ",".join(self.symbols), "timeframe": timeframe}
        self.params["limit"] = str(limit)
        for name, value in (("start", _time_param(start)), ("end", _time_param(end))):
            if value is not None:
                self.params[name] = value
        if asset_class == "stocks" and feed:
            self.params["feed"] = feed
        if asset_class == "stocks" and adjustment:
            self.params["adjustment"] = adjustment
        self.out: dict[str, list[Bar]] = {s: [] for s in self.symbols}
        self.tokens: set[str] = set()
        self.pages = 0

    def read(self, body: bytes) -> str | None:
        """Add one page's bars; the next page token (None: done)."""
        try:
            page = _PAGE.decode(body)
        except (msgspec.DecodeError, ValueError) as exc:
            raise RestError(f"unreadable Alpaca bars page: {exc}") from None
        self.pages += 1
        for sym, rows in (page.bars or {}).items():
            dest = self.out.setdefault(sym, [])
            for r in rows:
                ts = parse_rfc3339_ns(r.t)
                if ts is None:
                    raise RestError(f"unreadable bar time {r.t!r} for {sym}")
                dest.append(
                    Bar(
                        symbol=sym,
                        timestamp=ts,
                        open=r.o,
                        high=r.h,
                        low=r.l,
                        close=r.c,
                        volume=r.v,
                        trade_count=r.n,
                        vwap=r.vw,
                    )
                )
        token = page.next_page_token or None
        if token is not None:
            if token in self.tokens:
                raise RestError(f"the server repeated page token {token!r}; stopping")
            self.tokens.add(token)
            self.params["page_token"] = token
        return token


def _headers(key_id: Secret, secret: Secret) -> dict[str, str]:
    return {
        "APCA-API-KEY-ID": key_id.reveal(),
        "APCA-API-SECRET-KEY": secret.reveal(),
        "Accept": "application/json",
    }


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None


def _failure(status: int, body: bytes, path: str, key_id: Secret, secret: Secret) -> Exception:
    said = redact(body[:200].decode("utf-8", "replace").strip(), key_id, secret)
    if status in (401, 403):
        return AuthError(
            f"Alpaca REST {path} refused the keys (HTTP {status}: {said!r}); check APCA_API_KEY_ID / "
            "APCA_API_SECRET_KEY and that the plan includes this data (SIP needs a paid plan)"
        )
    if status == 429:
        return RateLimited(f"Alpaca REST {path} still rate limited (429) after every retry", status)
    return RestError(f"Alpaca REST {path} answered HTTP {status}: {said!r}", status)


class _Base:
    def __init__(
        self,
        key_id: str | Secret | None = None,
        secret_key: str | Secret | None = None,
        *,
        base_url: str | None = None,
        sandbox: bool = False,
        feed: str | None = "iex",
        max_retries: int = 3,
        retry_delay: float = 0.5,
        timeout: float = 30.0,
        dotenv_path: str | None = ".env",
        verify: ssl.SSLContext | str | bool = True,
    ) -> None:
        self._key_id, self._secret = resolve_keys(key_id, secret_key, dotenv_path)
        self.base_url = (base_url or (SANDBOX_DATA_URL if sandbox else DATA_URL)).rstrip("/")
        self.feed = feed
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.verify = verify  # an SSLContext, a CA bundle path, or True (never turned off by tickwire)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, feed={self.feed!r})"

    def _request(
        self,
        symbols: Iterable[str] | str,
        timeframe: str,
        start: Any,
        end: Any,
        asset_class: str,
        limit: int,
        adjustment: str | None,
        feed: str | None,
    ) -> _Request:
        syms = [symbols] if isinstance(symbols, str) else list(symbols)
        return _Request(
            syms,
            timeframe,
            start,
            end,
            asset_class=asset_class,
            feed=feed if feed is not None else self.feed,
            limit=limit,
            adjustment=adjustment,
        )

    def _delay(self, attempt: int, headers: Any) -> float:
        after = _retry_after(headers)
        return after if after is not None else self.retry_delay * (2**attempt)


class AlpacaRestClient(_Base):
    """Synchronous bars client (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import httpx

        self._http = httpx.Client(
            base_url=self.base_url,
            headers=_headers(self._key_id, self._secret),
            timeout=self.timeout,
            verify=self.verify,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def get_bars(
        self,
        symbols: Iterable[str] | str,
        timeframe: str = "1Min",
        start: Any = None,
        end: Any = None,
        *,
        asset_class: str = "stocks",
        limit: int = 10_000,
        adjustment: str | None = None,
        feed: str | None = None,
    ) -> dict[str, list[Bar]]:
        """Every bar of every symbol in ``[start, end]``, all pages followed: symbol → bars, oldest first."""
        req = self._request(symbols, timeframe, start, end, asset_class, limit, adjustment, feed)
        while True:
            for attempt in range(self.max_retries + 1):
                resp = self._http.get(req.path, params=req.params)
                if resp.status_code == 200:
                    break
                if resp.status_code not in _RETRY or attempt == self.max_retries:
                    raise _failure(resp.status_code, resp.content, req.path, self._key_id, self._secret)
                time.sleep(self._delay(attempt, resp.headers))
            if req.read(resp.content) is None:
                return req.out

    def bars_frame(
        self,
        symbols: Iterable[str] | str,
        timeframe: str = "1Min",
        start: Any = None,
        end: Any = None,
        **kw: Any,
    ) -> pd.DataFrame:
        """:meth:`get_bars` as one pandas DataFrame (see :func:`bars_frame`)."""
        return bars_frame(self.get_bars(symbols, timeframe, start, end, **kw))


class AsyncAlpacaRestClient(_Base):
    """:class:`AlpacaRestClient` over ``httpx.AsyncClient``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        import httpx

        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=_headers(self._key_id, self._secret),
            timeout=self.timeout,
            verify=self.verify,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def get_bars(
        self,
        symbols: Iterable[str] | str,
        timeframe: str = "1Min",
        start: Any = None,
        end: Any = None,
        *,
        asset_class: str = "stocks",
        limit: int = 10_000,
        adjustment: str | None = None,
        feed: str | None = None,
    ) -> dict[str, list[Bar]]:
        req = self._request(symbols, timeframe, start, end, asset_class, limit, adjustment, feed)
        while True:
            for attempt in range(self.max_retries + 1):
                resp = await self._http.get(req.path, params=req.params)
                if resp.status_code == 200:
                    break
                if resp.status_code not in _RETRY or attempt == self.max_retries:
                    raise _failure(resp.status_code, resp.content, req.path, self._key_id, self._secret)
                await asyncio.sleep(self._delay(attempt, resp.headers))
            if req.read(resp.content) is None:
                return req.out


def bars_frame(bars: dict[str, list[Bar]] | Sequence[Bar]) -> pd.DataFrame:
    """Bars as a DataFrame: ``symbol, timestamp`` (UTC, ns), ``open high low close volume
    trade_count vwap``, sorted by symbol then time."""
    import pandas as pd

    rows = [b for group in bars.values() for b in group] if isinstance(bars, dict) else list(bars)
    frame = pd.DataFrame(
        {
            "symbol": [b.symbol for b in rows],
            "timestamp": pd.to_datetime([b.timestamp for b in rows], unit="ns", utc=True),
            "open": [b.open for b in rows],
            "high": [b.high for b in rows],
            "low": [b.low for b in rows],
            "close": [b.close for b in rows],
            "volume": [b.volume for b in rows],
            "trade_count": pd.array([b.trade_count for b in rows], dtype="Int64"),
            "vwap": [b.vwap for b in rows],
        }
    )
    return frame.sort_values(["symbol", "timestamp"], kind="stable").reset_index(drop=True)
