"""``RestClient`` and ``AsyncRestClient``: thin httpx shells around the flows of :mod:`.core`.

Both share :class:`_Endpoints`, which turns a call (``aggs("AAPL", 1, "minute", ...)``) into a
flow; the shells only perform the :class:`~.core.Send` and :class:`~.core.Sleep` steps. So the
two clients cannot drift apart: same requests, same pagination, same retries, same errors.

::

    bars = RestClient().aggs("AAPL", 1, "minute", "2024-01-02", "2024-01-05")   # key from the env
    df = bars.to_pandas(tz="America/New_York")
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import msgspec

from tickwire.backoff import Backoff
from tickwire.credentials import Secret, resolve_secret
from tickwire.errors import ConfigError
from tickwire.massive.rest.core import (
    Failure,
    Flow,
    Page,
    Request,
    Response,
    RestConfig,
    Send,
    Sleep,
    fetch_one,
    paginate,
    redact_url,
)
from tickwire.massive.rest.frames import Bars, Trades
from tickwire.massive.rest.models import (
    Agg,
    AggsPage,
    PreviousClose,
    PreviousClosePage,
    Snapshot,
    SnapshotPage,
    Trade,
    TradesPage,
)
from tickwire.tls import check_tls_options, client_context, verify_error, verify_failed

__all__ = [
    "API_KEY_ENV_VARS",
    "DEFAULT_BASE_URL",
    "AsyncRestClient",
    "DateLike",
    "ProgressCallback",
    "RestClient",
    "Timespan",
]

log = logging.getLogger("tickwire.rest")


class _RedactKeys(logging.Filter):
    """Masks ``apiKey=...`` in records of the ``httpx`` logger, which logs every request URL at INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_url(str(a)) if "apikey=" in str(a).lower() else a for a in record.args)
        if isinstance(record.msg, str) and "apikey=" in record.msg.lower():
            record.msg = redact_url(record.msg)
        return True


def _install_redaction() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactKeys) for f in logger.filters):
            logger.addFilter(_RedactKeys())


_install_redaction()

DEFAULT_BASE_URL = "https://api.massive.com"
API_KEY_ENV_VARS = ("MASSIVE_API_KEY", "POLYGON_API_KEY")
TIMESPANS = ("second", "minute", "hour", "day", "week", "month", "quarter", "year")

Timespan = Literal["second", "minute", "hour", "day", "week", "month", "quarter", "year"]
DateLike = str | int | date | datetime
"""``"2024-01-02"``, a ``date``, an aware ``datetime`` (naive means UTC) or a Unix timestamp in ms."""

ProgressCallback = Callable[[Page[Any]], None]
"""Called after each downloaded page (e.g. to move a progress bar)."""

T = TypeVar("T")


def _as_ms(value: DateLike, what: str) -> str:
    """An aggregates ``from``/``to`` path segment: ``YYYY-MM-DD`` or Unix ms."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return str(int(aware.timestamp() * 1000))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a date, a datetime, 'YYYY-MM-DD' or Unix ms, not a bool")
    if isinstance(value, int):
        return str(value)
    text = str(value).strip()
    if text.isdigit():
        return text
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return _as_ms(datetime.fromisoformat(text), what)
    except ValueError:
        raise ConfigError(f"{what}={value!r} is not a date (YYYY-MM-DD), a datetime or Unix ms") from None


def _as_ns(value: DateLike, what: str) -> str:
    """A trades ``timestamp`` filter: ``YYYY-MM-DD`` or Unix ns."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return str(int(aware.timestamp() * 1_000_000) * 1000)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a date, a datetime, 'YYYY-MM-DD' or Unix ns, not a bool")
    if isinstance(value, int):
        return str(value)
    text = str(value).strip()
    if text.isdigit():
        return text
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return _as_ns(datetime.fromisoformat(text), what)
    except ValueError:
        raise ConfigError(f"{what}={value!r} is not a date (YYYY-MM-DD), a datetime or Unix ns") from None


def _ticker(ticker: str) -> str:
    t = ticker.strip()
    if not t or "/" in t or "?" in t or "#" in t:
        raise ConfigError(f"invalid ticker {ticker!r}")
    return t if t[:2] in ("O:", "X:", "C:", "I:") else t.upper()


def _decode_aggs(body: bytes) -> tuple[list[Agg], str | None]:
    page = msgspec.json.decode(body, type=AggsPage)
    return page.results or [], page.next_url


def _decode_trades(body: bytes) -> tuple[list[Trade], str | None]:
    page = msgspec.json.decode(body, type=TradesPage)
    return page.results or [], page.next_url


def _decode_prev(body: bytes) -> list[PreviousClose]:
    return msgspec.json.decode(body, type=PreviousClosePage).results or []


def _decode_snapshot(body: bytes) -> list[Snapshot]:
    snap = msgspec.json.decode(body, type=SnapshotPage).ticker
    return [snap] if snap is not None else []


def _empty_note(what: str) -> str:
    return (
        f"no {what}: the market may have been closed, the ticker may be wrong, or the range may be "
        "outside your plan's history"
    )


class _Endpoints:
    """The endpoints, as flows. Subclasses add the I/O."""

    config: RestConfig

    def __init__(
        self,
        api_key: str | Secret | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        auth: Literal["header", "query"] = "header",
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: Backoff | None = None,
        max_retry_after: float = 60.0,
        dotenv_path: str | os.PathLike[str] | None = ".env",
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        check_tls_options(ssl_context, ca_file)
        key = resolve_secret(api_key, API_KEY_ENV_VARS, dotenv_path)
        if key is None:
            raise ConfigError(
                "no API key: pass api_key=, or set MASSIVE_API_KEY (or POLYGON_API_KEY) in the environment "
                "or a .env file; to try tickwire without one, use the simulator (tickwire bars --sim)"
            )
        from tickwire._version import __version__

        self.config = RestConfig(
            base_url,
            key,
            auth,
            max_retries=max_retries,
            backoff=backoff if backoff is not None else Backoff(base=0.5, cap=30.0),
            max_retry_after=max_retry_after,
            user_agent=f"tickwire/{__version__}",
        )
        self.timeout = timeout
        # https is always verified: httpx's default store (SSL_CERT_FILE honoured), or the caller's CAs
        self._verify: ssl.SSLContext | bool = (
            client_context(ssl_context, ca_file) if ssl_context is not None or ca_file is not None else True
        )

    def _transport_failure(self, request: Request, exc: Exception) -> Failure:
        """A retryable :class:`Failure`, or a fatal :class:`~tickwire.errors.TLSError` (bad certificate)."""
        cert = verify_error(exc)
        if cert is not None:
            raise verify_failed(request.url, cert) from None
        return Failure(type(exc).__name__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r}, auth={self.config.auth!r})"

    # -- flows --------------------------------------------------------------------------

    @staticmethod
    def _bars(
        ticker: str,
        multiplier: int,
        timespan: Timespan,
        from_: DateLike,
        to: DateLike,
        rows: list[Agg],
        pages: int,
    ) -> Bars:
        """The :class:`Bars` of a downloaded range (an empty one carries a note saying what was asked)."""
        what = f"{multiplier} {timespan} bars for {_ticker(ticker)} from {from_} to {to}"
        return Bars(
            _ticker(ticker),
            rows,
            multiplier=multiplier,
            timespan=timespan,
            pages=pages,
            note=_empty_note(what),
        )

    def _aggs_flow(
        self,
        ticker: str,
        multiplier: int,
        timespan: str,
        from_: DateLike,
        to: DateLike,
        adjusted: bool,
        sort: Literal["asc", "desc"],
        limit: int,
        max_pages: int | None,
    ) -> Flow[Agg]:
        if timespan not in TIMESPANS:
            raise ConfigError(f"timespan must be one of {', '.join(TIMESPANS)}, not {timespan!r}")
        if multiplier < 1:
            raise ConfigError("multiplier must be >= 1")
        if not 1 <= limit <= 50_000:
            raise ConfigError("limit must be between 1 and 50000")
        if sort not in ("asc", "desc"):
            raise ConfigError("sort must be 'asc' or 'desc'")
        path = (
            f"/v2/aggs/ticker/{_ticker(ticker)}/range/{multiplier}/{timespan}/"
            f"{_as_ms(from_, 'from_')}/{_as_ms(to, 'to')}"
        )
        params = (("adjusted", "true" if adjusted else "false"), ("sort", sort), ("limit", str(limit)))
        return paginate(self.config, path, params, _decode_aggs, max_pages=max_pages)

    def _trades_flow(
        self,
        ticker: str,
        timestamp: DateLike | None,
        gte: DateLike | None,
        gt: DateLike | None,
        lte: DateLike | None,
        lt: DateLike | None,
        order: Literal["asc", "desc"],
        limit: int,
        max_pages: int | None,
    ) -> Flow[Trade]:
        if not 1 <= limit <= 50_000:
            raise ConfigError("limit must be between 1 and 50000")
        params: list[tuple[str, str]] = []
        for name, value in (
            ("timestamp", timestamp),
            ("timestamp.gte", gte),
            ("timestamp.gt", gt),
            ("timestamp.lte", lte),
            ("timestamp.lt", lt),
        ):
            if value is not None:
                params.append((name, _as_ns(value, name)))
        params += [("order", order), ("sort", "timestamp"), ("limit", str(limit))]
        return paginate(
            self.config, f"/v3/trades/{_ticker(ticker)}", params, _decode_trades, max_pages=max_pages
        )

    def _prev_flow(self, ticker: str, adjusted: bool) -> Flow[PreviousClose]:
        params = (("adjusted", "true" if adjusted else "false"),)
        return fetch_one(self.config, f"/v2/aggs/ticker/{_ticker(ticker)}/prev", params, _decode_prev)

    def _snapshot_flow(self, ticker: str, market: str) -> Flow[Snapshot]:
        path = f"/v2/snapshot/locale/us/markets/{market}/tickers/{_ticker(ticker)}"
        return fetch_one(self.config, path, (), _decode_snapshot)


def _response(resp: Any) -> Response:
    return Response(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content)


class RestClient(_Endpoints):
    """Blocking Massive/Polygon REST client (httpx). Use as a context manager or call :meth:`close`.

    :param api_key: the key; default ``MASSIVE_API_KEY`` / ``POLYGON_API_KEY`` (environment or ``.env``).
    :param base_url: ``https://api.massive.com``, or a simulator's ``rest_url``.
    :param auth: ``"header"`` (``Authorization: Bearer``) or ``"query"`` (``apiKey=``).
    :param max_retries: retries of a 429, a 5xx or a transport failure (429 waits ``Retry-After``).
    :param ca_file: a PEM bundle of CAs to trust instead of the default store (or ``ssl_context=``);
        a certificate that fails verification raises :class:`~tickwire.errors.TLSError` at once.
    """

    def __init__(self, api_key: str | Secret | None = None, **options: Any) -> None:
        super().__init__(api_key, **options)
        import httpx

        self._http = httpx.Client(timeout=self.timeout, follow_redirects=False, verify=self._verify)
        self._transport_errors: tuple[type[Exception], ...] = (httpx.TransportError,)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(self, request: Request) -> Response | Failure:
        try:
            resp = self._http.get(request.url, params=list(request.params), headers=list(request.headers))
        except self._transport_errors as exc:
            return self._transport_failure(request, exc)
        return _response(resp)

    def _pages(self, flow: Flow[T]) -> Iterator[Page[T]]:
        outcome: Response | Failure | None = None
        while True:
            try:
                step = flow.send(outcome)
            except StopIteration:
                return
            outcome = None
            if isinstance(step, Send):
                outcome = self._send(step.request)
            elif isinstance(step, Sleep):
                log.info("REST retry in %.2f s (%s)", step.seconds, step.reason)
                time.sleep(step.seconds)
            else:
                yield step

    def _items(self, flow: Flow[T], progress: ProgressCallback | None) -> Iterator[T]:
        for page in self._pages(flow):
            if progress is not None:
                progress(page)
            yield from page.items

    # -- endpoints ----------------------------------------------------------------------

    def list_aggs(
        self,
        ticker: str,
        multiplier: int = 1,
        timespan: Timespan = "minute",
        from_: DateLike = "",
        to: DateLike = "",
        *,
        adjusted: bool = True,
        sort: Literal["asc", "desc"] = "asc",
        limit: int = 50_000,
        max_pages: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Iterator[Agg]:
        """Aggregate bars, lazily: the next page is fetched when the iterator reaches it."""
        flow = self._aggs_flow(ticker, multiplier, timespan, from_, to, adjusted, sort, limit, max_pages)
        return self._items(flow, progress)

    def aggs(
        self,
        ticker: str,
        multiplier: int = 1,
        timespan: Timespan = "minute",
        from_: DateLike = "",
        to: DateLike = "",
        *,
        adjusted: bool = True,
        limit: int = 50_000,
        max_pages: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Bars:
        """All bars of the range as :class:`Bars` (``to_pandas()``, ``to_polars()``, ``plot()``...)."""
        flow = self._aggs_flow(ticker, multiplier, timespan, from_, to, adjusted, "asc", limit, max_pages)
        rows: list[Agg] = []
        pages = 0
        for page in self._pages(flow):
            pages += 1
            rows.extend(page.items)
            if progress is not None:
                progress(page)
        return self._bars(ticker, multiplier, timespan, from_, to, rows, pages)

    def list_trades(
        self,
        ticker: str,
        *,
        timestamp: DateLike | None = None,
        timestamp_gte: DateLike | None = None,
        timestamp_gt: DateLike | None = None,
        timestamp_lte: DateLike | None = None,
        timestamp_lt: DateLike | None = None,
        order: Literal["asc", "desc"] = "asc",
        limit: int = 50_000,
        max_pages: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Iterator[Trade]:
        """Trades (``/v3/trades``), lazily; timestamps filter in ns (or dates / datetimes)."""
        flow = self._trades_flow(
            ticker,
            timestamp,
            timestamp_gte,
            timestamp_gt,
            timestamp_lte,
            timestamp_lt,
            order,
            limit,
            max_pages,
        )
        return self._items(flow, progress)

    def trades(self, ticker: str, **filters: Any) -> Trades:
        """All trades matching the filters of :meth:`list_trades`, as :class:`Trades`."""
        pages = [0]
        user = filters.pop("progress", None)

        def count(page: Page[Any]) -> None:
            pages[0] += 1
            if user is not None:
                user(page)

        rows = list(self.list_trades(ticker, progress=count, **filters))
        return Trades(
            _ticker(ticker), rows, pages=pages[0], note=_empty_note(f"trades for {_ticker(ticker)}")
        )

    def previous_close(self, ticker: str, *, adjusted: bool = True) -> PreviousClose | None:
        """The previous day's bar, or ``None`` if the service has none."""
        for page in self._pages(self._prev_flow(ticker, adjusted)):
            return page.items[0] if page.items else None
        return None

    def snapshot(self, ticker: str, *, market: str = "stocks") -> Snapshot | None:
        """The ticker's snapshot (day so far, previous day, last trade and quote)."""
        for page in self._pages(self._snapshot_flow(ticker, market)):
            return page.items[0] if page.items else None
        return None


class AsyncRestClient(_Endpoints):
    """The asyncio twin of :class:`RestClient` (same arguments, same flows); ``async with`` closes it."""

    def __init__(self, api_key: str | Secret | None = None, **options: Any) -> None:
        super().__init__(api_key, **options)
        import httpx

        self._http = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, verify=self._verify)
        self._transport_errors: tuple[type[Exception], ...] = (httpx.TransportError,)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _send(self, request: Request) -> Response | Failure:
        try:
            resp = await self._http.get(
                request.url, params=list(request.params), headers=list(request.headers)
            )
        except self._transport_errors as exc:
            return self._transport_failure(request, exc)
        return _response(resp)

    async def _pages(self, flow: Flow[T]) -> AsyncIterator[Page[T]]:
        outcome: Response | Failure | None = None
        while True:
            try:
                step = flow.send(outcome)
            except StopIteration:
                return
            outcome = None
            if isinstance(step, Send):
                outcome = await self._send(step.request)
            elif isinstance(step, Sleep):
                log.info("REST retry in %.2f s (%s)", step.seconds, step.reason)
                await asyncio.sleep(step.seconds)
            else:
                yield step

    async def _items(self, flow: Flow[T], progress: ProgressCallback | None) -> AsyncIterator[T]:
        async for page in self._pages(flow):
            if progress is not None:
                progress(page)
            for item in page.items:
                yield item

    def list_aggs(
        self,
        ticker: str,
        multiplier: int = 1,
        timespan: Timespan = "minute",
        from_: DateLike = "",
        to: DateLike = "",
        *,
        adjusted: bool = True,
        sort: Literal["asc", "desc"] = "asc",
        limit: int = 50_000,
        max_pages: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> AsyncIterator[Agg]:
        """Aggregate bars, lazily (``async for bar in client.list_aggs(...)``)."""
        flow = self._aggs_flow(ticker, multiplier, timespan, from_, to, adjusted, sort, limit, max_pages)
        return self._items(flow, progress)

    async def aggs(
        self,
        ticker: str,
        multiplier: int = 1,
        timespan: Timespan = "minute",
        from_: DateLike = "",
        to: DateLike = "",
        *,
        adjusted: bool = True,
        limit: int = 50_000,
        max_pages: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Bars:
        """All bars of the range as :class:`Bars`."""
        flow = self._aggs_flow(ticker, multiplier, timespan, from_, to, adjusted, "asc", limit, max_pages)
        rows: list[Agg] = []
        pages = 0
        async for page in self._pages(flow):
            pages += 1
            rows.extend(page.items)
            if progress is not None:
                progress(page)
        return self._bars(ticker, multiplier, timespan, from_, to, rows, pages)

    def list_trades(
        self,
        ticker: str,
        *,
        timestamp: DateLike | None = None,
        timestamp_gte: DateLike | None = None,
        timestamp_gt: DateLike | None = None,
        timestamp_lte: DateLike | None = None,
        timestamp_lt: DateLike | None = None,
        order: Literal["asc", "desc"] = "asc",
        limit: int = 50_000,
        max_pages: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> AsyncIterator[Trade]:
        """Trades (``/v3/trades``), lazily."""
        flow = self._trades_flow(
            ticker,
            timestamp,
            timestamp_gte,
            timestamp_gt,
            timestamp_lte,
            timestamp_lt,
            order,
            limit,
            max_pages,
        )
        return self._items(flow, progress)

    async def trades(self, ticker: str, **filters: Any) -> Trades:
        """All trades matching the filters of :meth:`list_trades`, as :class:`Trades`."""
        pages = [0]
        user = filters.pop("progress", None)

        def count(page: Page[Any]) -> None:
            pages[0] += 1
            if user is not None:
                user(page)

        rows = [t async for t in self.list_trades(ticker, progress=count, **filters)]
        return Trades(
            _ticker(ticker), rows, pages=pages[0], note=_empty_note(f"trades for {_ticker(ticker)}")
        )

    async def previous_close(self, ticker: str, *, adjusted: bool = True) -> PreviousClose | None:
        async for page in self._pages(self._prev_flow(ticker, adjusted)):
            return page.items[0] if page.items else None
        return None

    async def snapshot(self, ticker: str, *, market: str = "stocks") -> Snapshot | None:
        async for page in self._pages(self._snapshot_flow(ticker, market)):
            return page.items[0] if page.items else None
        return None
