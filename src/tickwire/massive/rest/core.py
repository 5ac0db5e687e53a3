"""The sans-I/O heart of the REST client: request building, pagination, retry and error mapping.

Theory of operation
-------------------
Every REST call is a *flow*: a generator that yields what it needs done and receives the
outcome. It yields :class:`Send` (perform this HTTP GET; the shell sends back a
:class:`Response`, or a :class:`Failure` if the transport failed), :class:`Sleep` (wait this
long, then send back ``None``) and :class:`Page` (a decoded page for the caller). The sync
shell (``httpx.Client`` + ``time.sleep``) and the async shell (``httpx.AsyncClient`` +
``asyncio.sleep``) just run that loop, so pagination, ``next_url`` following, the
``Retry-After`` handling and the 401/403 messages exist once and are unit-testable without a
network.

The key never leaves :class:`RestConfig` except inside a :class:`Request` about to be sent:
``Authorization: Bearer`` by default (the official client's choice), or the ``apiKey`` query
parameter. ``next_url`` is followed on the configured base URL only (its path and query are
kept, its host is not), so a key is never sent to another host.
"""

from __future__ import annotations

import dataclasses
import email.utils
import re
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

import msgspec

from tickwire.backoff import Backoff
from tickwire.credentials import Secret
from tickwire.errors import AuthError, ConfigError, RateLimited, RestError, TickwireError
from tickwire.massive.rest.models import ErrorBody

__all__ = [
    "RETRY_STATUSES",
    "Failure",
    "Flow",
    "Page",
    "RateLimited",
    "Request",
    "Response",
    "RestConfig",
    "RestError",
    "Send",
    "Sleep",
    "fetch_one",
    "paginate",
    "redact_url",
]

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Statuses worth another try (after ``Retry-After`` or a backoff delay)."""

_KEY_IN_URL = re.compile(r"(apiKey=)[^&\s\"']+", re.IGNORECASE)
_UNREADABLE = (msgspec.DecodeError, ValueError, RecursionError)
"""What decoding a response body raises when it is not what we expect (invalid UTF-8, deep nesting...)."""


def redact_url(text: str) -> str:
    """``text`` with any ``apiKey=...`` query value masked (for logs and error messages)."""
    return _KEY_IN_URL.sub(r"\1****", text)


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP GET about to be sent. ``params`` may hold the key (query auth): never log it as is."""

    url: str
    params: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> str:
        """The URL's path, safe to show."""
        return urlsplit(self.url).path

    def __repr__(self) -> str:
        shown = [(k, "****" if k.lower() == "apikey" else v) for k, v in self.params]
        return f"Request(GET {self.url} params={shown})"


@dataclass(frozen=True, slots=True)
class Response:
    """What came back: status, headers (lower-case names) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Failure:
    """The transport failed (refused, reset, timed out) before a response came."""

    error: str


@dataclass(frozen=True, slots=True)
class Send:
    request: Request
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One decoded page: its items, its number (from 1) and whether another follows."""

    items: list[T]
    number: int
    has_next: bool


Step = Send | Sleep | Page[T]
Flow = Generator[Step[T], Response | Failure | None, None]
"""A REST call: yields steps, receives the outcome of each :class:`Send` (``None`` after others)."""


@dataclass(slots=True)
class RestConfig:
    """Where and how to ask: base URL, key, auth style, retries. Shared by both shells."""

    base_url: str
    key: Secret
    auth: Literal["header", "query"] = "header"
    max_retries: int = 5
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=30.0))
    max_retry_after: float = 60.0
    user_agent: str = "tickwire"

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        if self.auth not in ("header", "query"):
            raise ConfigError("auth must be 'header' (Authorization: Bearer) or 'query' (apiKey=)")
        if not self.key:
            raise ConfigError("the API key is empty")

    def request(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Request:
        """A request for ``path`` (``/v2/...``) on the base URL, with the key attached."""
        headers: list[tuple[str, str]] = [("Accept", "application/json"), ("User-Agent", self.user_agent)]
        query = list(params)
        if self.auth == "header":
            headers.append(("Authorization", "Bearer " + self.key.reveal()))
        else:
            query.append(("apiKey", self.key.reveal()))
        return Request(self.base_url + path, tuple(query), tuple(headers))

    def follow(self, next_url: str) -> Request:
        """The request for a ``next_url``: its path and query on *our* base URL, with the key."""
        parts = urlsplit(next_url)
        base_path = urlsplit(self.base_url).path
        rel = parts.path if parts.path.startswith("/") else "/" + parts.path  # "@evil.com/x" stays a path
        path = rel if rel.startswith(base_path) else base_path + rel
        params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "apikey"]
        return self.request(path[len(base_path) :] if base_path else path, params)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), ``None`` if absent or unreadable."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _server_message(body: bytes) -> str:
    try:
        err = msgspec.json.decode(body, type=ErrorBody)
    except _UNREADABLE:
        text = body.decode("utf-8", "replace").strip()
        return text[:200]
    return (err.message or err.error or err.status or "").strip()


def _error_for(response: Response, request: Request, key: Secret) -> TickwireError:
    """The exception for a non-retryable error status, with a message that says what to do."""
    status = response.status
    message = _server_message(response.body).replace(key.reveal(), "****")
    where = request.path
    if status == 401:
        return AuthError(
            f"the REST API rejected the API key (401 {message or 'Unauthorized'}) for {where}. "
            "Check MASSIVE_API_KEY / POLYGON_API_KEY (or api_key=): the key is wrong, revoked or empty."
        )
    if status == 403:
        return AuthError(
            f"your plan does not include this data (403 {message or 'Forbidden'}) for {where}. "
            "The key is valid but not entitled: this endpoint, market or history depth needs another plan "
            "(see https://massive.com/pricing), or ask for data your plan covers."
        )
    return RestError(f"REST request {where} failed: HTTP {status} {message}".rstrip(), status)


def _send(config: RestConfig, request: Request) -> Generator[Step[T], Response | Failure | None, Response]:
    """Send ``request`` until it succeeds, retrying 429/5xx/transport failures; raise on other errors."""
    backoff = dataclasses.replace(config.backoff, attempt=0)  # a fresh sequence per request
    attempt = 0
    while True:
        attempt += 1
        outcome = yield Send(request, attempt)
        if isinstance(outcome, Response) and 200 <= outcome.status < 300:
            return outcome
        if isinstance(outcome, Response) and outcome.status not in RETRY_STATUSES:
            raise _error_for(outcome, request, config.key)
        if attempt > config.max_retries:
            if isinstance(outcome, Response) and outcome.status == 429:
                message = _server_message(outcome.body).replace(config.key.reveal(), "****")
                raise RateLimited(
                    f"still rate limited (429) after {config.max_retries} retries on {request.path}: "
                    f"{message}. Slow down, or a higher plan raises the limit.",
                    429,
                )
            if isinstance(outcome, Response):
                raise _error_for(outcome, request, config.key)
            raise RestError(
                f"REST request {request.path} failed after {attempt} attempts: "
                f"{outcome.error if outcome is not None else 'no response'}"
            )
        delay = backoff.next()
        reason = outcome.error if isinstance(outcome, Failure) else f"HTTP {getattr(outcome, 'status', '?')}"
        if isinstance(outcome, Response):
            after = _retry_after(outcome.headers)
            if after is not None:
                delay = min(after, config.max_retry_after)
        yield Sleep(delay, reason)


def paginate(
    config: RestConfig,
    path: str,
    params: Sequence[tuple[str, str]],
    decode: Callable[[bytes], tuple[list[T], str | None]],
    *,
    max_pages: int | None = None,
) -> Flow[T]:
    """Every page of a listing endpoint, following ``next_url`` until there is none (lazily)."""
    request = config.request(path, params)
    number = 0
    while True:
        response = yield from _send(config, request)
        try:
            items, next_url = decode(response.body)
        except _UNREADABLE as exc:
            raise RestError(f"unreadable response from {request.path}: {exc}", response.status) from None
        number += 1
        more = bool(next_url) and (max_pages is None or number < max_pages)
        yield Page(items, number, more)
        if not (more and next_url):
            break
        try:
            request = config.follow(next_url)
        except ValueError:  # urlsplit refuses it (e.g. "http://[::1")
            raise RestError(
                f"unusable next_url in the response from {request.path}", response.status
            ) from None


def fetch_one(
    config: RestConfig,
    path: str,
    params: Sequence[tuple[str, str]],
    decode: Callable[[bytes], list[T]],
) -> Flow[T]:
    """A single-page endpoint (previous close, snapshot)."""
    request = config.request(path, params)
    response = yield from _send(config, request)
    try:
        items = decode(response.body)
    except _UNREADABLE as exc:
        raise RestError(f"unreadable response from {request.path}: {exc}", response.status) from None
    yield Page(items, 1, False)
