"""The sans-I/O core without a network, and the official ``massive`` REST client against the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from tickwire import Backoff
from tickwire.credentials import Secret
from tickwire.errors import AuthError
from tickwire.massive.rest.core import Failure, Page, Response, RestConfig, Send, Sleep, paginate
from tickwire.sim import SimulatorThread

from .conftest import KEY, sync_client


def _decode(body: bytes) -> tuple[list[Any], str | None]:
    import json

    data = json.loads(body)
    return data["results"], data.get("next_url")


def _config(**kw: Any) -> RestConfig:
    return RestConfig("https://api.example.com/", Secret("s3cret"), backoff=Backoff(base=0.1, seed=1), **kw)


def test_pagination_follows_next_url_on_our_host_only_with_the_key() -> None:
    flow = paginate(_config(auth="query"), "/v3/trades/AAPL", [("limit", "2")], _decode)
    step = flow.send(None)
    assert isinstance(step, Send) and step.request.url == "https://api.example.com/v3/trades/AAPL"
    assert ("apiKey", "s3cret") in step.request.params and "s3cret" not in repr(step.request)
    body = b'{"results":[1,2],"next_url":"https://evil.example.net/v3/trades/AAPL?cursor=abc&apiKey=x"}'
    page = flow.send(Response(200, {}, body))
    assert isinstance(page, Page) and page.items == [1, 2] and page.has_next
    step = flow.send(None)
    assert isinstance(step, Send)
    assert step.request.url == "https://api.example.com/v3/trades/AAPL"  # not the other host
    assert step.request.params == (("cursor", "abc"), ("apiKey", "s3cret"))
    page = flow.send(Response(200, {}, b'{"results":[3]}'))
    assert isinstance(page, Page) and page.items == [3] and not page.has_next
    with pytest.raises(StopIteration):
        flow.send(None)


def test_retry_after_is_honoured_then_backoff_and_auth_errors_stop() -> None:
    flow = paginate(_config(), "/v2/x", [], _decode)
    assert isinstance(flow.send(None), Send)
    sleep = flow.send(Response(429, {"retry-after": "7"}, b'{"status":"ERROR","error":"slow down"}'))
    assert isinstance(sleep, Sleep) and sleep.seconds == 7.0
    assert isinstance(flow.send(None), Send)
    sleep = flow.send(Failure("ConnectError"))
    assert (
        isinstance(sleep, Sleep) and sleep.seconds <= 0.2 and sleep.reason == "ConnectError"
    )  # 2nd backoff step
    step = flow.send(None)
    assert isinstance(step, Send) and step.attempt == 3
    assert ("Authorization", "Bearer s3cret") in step.request.headers
    with pytest.raises(AuthError, match="403") as info:
        flow.send(Response(403, {}, b'{"status":"NOT_AUTHORIZED","message":"not entitled, s3cret"}'))
    assert "s3cret" not in str(info.value)


def test_official_massive_client_reads_the_simulator(sim_thread: SimulatorThread) -> None:
    from massive import RESTClient

    now = sim_thread.simulator.now_ms()
    official = RESTClient(KEY, base=sim_thread.rest_url, pagination=True, retries=0)
    theirs = list(official.list_aggs("AAPL", 1, "minute", now - 1_800_000, now - 600_000, limit=7))
    with sync_client(sim_thread.rest_url) as client:
        ours = client.aggs("AAPL", 1, "minute", now - 1_800_000, now - 600_000)
    assert len(theirs) == len(ours) >= 15
    assert [(a.timestamp, a.open, a.close, a.volume, a.transactions) for a in theirs] == [
        (a.timestamp, a.open, a.close, a.volume, a.transactions) for a in ours
    ]
