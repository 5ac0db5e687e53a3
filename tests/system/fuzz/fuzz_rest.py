"""Fuzz cases for the REST core: mutated pages, error bodies, statuses and headers.

A call either yields typed pages or raises a :class:`~tickwire.errors.TickwireError`
(``RestError``/``AuthError``/``RateLimited``) whose text never holds the key; it never sends
the key to another host and never sleeps for an unbounded or negative time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tickwire.backoff import Backoff
from tickwire.credentials import Secret
from tickwire.errors import TickwireError
from tickwire.massive.rest import client as rest_client
from tickwire.massive.rest.core import (
    Failure,
    Flow,
    Page,
    Response,
    RestConfig,
    Send,
    Sleep,
    fetch_one,
    paginate,
)
from tickwire.massive.rest.models import Agg, PreviousClose, Snapshot, Trade

from .chooser import Chooser
from .corpus import rest_error, rest_page
from .mutate import mutate_frame, odd_text

__all__ = ["rest_flow"]

KEY = "fuzz-rest-key-41c9"
BASE = "https://api.fuzz.example"
_ITEMS: dict[str, type] = {"aggs": Agg, "trades": Trade, "prev": PreviousClose, "snapshot": Snapshot}
_RETRY_AFTER = (
    "1",
    "0",
    "-5",
    "nan",
    "inf",
    "1e999",
    "0.25",
    "Thu, 01 Jan 1970 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Mon, 99 Foo 99999 99:99:99 GMT",
    "soon",
    "",
)


def _flow(endpoint: str, config: RestConfig) -> Flow[Any]:
    if endpoint == "aggs":
        return paginate(
            config, "/v2/aggs/ticker/AAPL/range/1/day/a/b", (), rest_client._decode_aggs, max_pages=3
        )
    if endpoint == "trades":
        return paginate(config, "/v3/trades/AAPL", (), rest_client._decode_trades, max_pages=3)
    decode: Callable[[bytes], list[Any]] = (
        rest_client._decode_prev if endpoint == "prev" else rest_client._decode_snapshot
    )
    return fetch_one(config, "/v2/x", (), decode)


def _response(endpoint: str, ch: Chooser) -> Response | Failure:
    if ch.chance(0.05):
        return Failure(ch.choice(("ConnectError", "ReadTimeout", "")))
    status = ch.choice((200, 200, 200, 200, 200, 401, 403, 404, 429, 500, 503, 0, 302, 999))
    valid = rest_page(endpoint, ch) if 200 <= status < 300 else rest_error(ch, KEY)
    body, _ = mutate_frame(valid, ch)
    headers: dict[str, str] = {}
    if ch.chance(0.5):
        headers["retry-after"] = ch.choice(_RETRY_AFTER) if ch.chance(0.9) else odd_text(ch)
    return Response(status, headers, body)


def rest_flow(ch: Chooser) -> int:
    """One REST call against mutated responses, driven the way both client shells drive it."""
    endpoint = ch.choice(tuple(_ITEMS))
    config = RestConfig(
        BASE,
        Secret(KEY),
        auth=ch.choice(("header", "query")),
        max_retries=ch.integer(0, 2),
        backoff=Backoff(base=0.01, cap=0.05, seed=1),
        max_retry_after=5.0,
    )
    flow = _flow(endpoint, config)
    outcome: Response | Failure | None = None
    inputs = 0
    pages = 0
    for _ in range(40):
        try:
            step = flow.send(outcome)
        except StopIteration:
            break
        except TickwireError as exc:
            assert KEY not in str(exc) and KEY not in repr(exc.args), exc
            break
        outcome = None
        if isinstance(step, Send):
            assert step.request.url.startswith(BASE + "/"), step.request.url  # the key goes nowhere else
            assert KEY not in repr(step.request)
            outcome = _response(endpoint, ch)
            inputs += 1
        elif isinstance(step, Sleep):
            assert math.isfinite(step.seconds) and 0 <= step.seconds <= 5.0, step
        else:
            assert isinstance(step, Page)
            pages += 1
            assert step.number == pages
            assert all(isinstance(item, _ITEMS[endpoint]) for item in step.items)
    else:
        raise AssertionError("the flow did not end")
    return inputs
