"""Who may talk to the dashboard, over real HTTP and WebSocket on loopback: the ``Host`` it is asked
for (DNS rebinding), the ``Origin`` of ``/ws``, the optional token; and the bound on symbols."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tickwire.dashboard import DashboardServer, DashboardState
from tickwire.dashboard.access import AccessPolicy
from tickwire.provider import Tick

TOKEN = "t0ken-Zq9/+&x"  # characters that need URL-encoding


def _trade(symbol: str, price: float = 10.0, ts: int = 1_700_000_000_000_000_000) -> Tick:
    return Tick(kind="trade", symbol=symbol, ts_ns=ts, price=price, size=1.0)


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[DashboardServer]:
    options = getattr(request, "param", {})
    srv = DashboardServer(DashboardState(["AAPL"]), push_interval=0.05, **options)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.aclose()


async def _status(url: str, **headers: str) -> int:
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        return r.status


async def _ws_status(url: str, **headers: str) -> int:
    async with aiohttp.ClientSession() as s:
        try:
            async with s.ws_connect(url, headers=headers) as ws:
                msg = await ws.receive(timeout=10)
                assert json.loads(msg.data)["type"] == "snapshot"
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8050", True),
        ("localhost:8050", True),
        ("LocalHost.", True),
        ("app.localhost:1", True),
        ("[::1]:8050", True),
        ("127.1.2.3", True),
        ("evil.example:8050", False),
        ("localhost.evil.example", False),
        ("10.0.0.5:8050", False),
        ("127.0.0.1:notaport", False),
        ("", False),
    ],
)
def test_host_names_served_when_bound_to_loopback(host: str, allowed: bool) -> None:
    assert AccessPolicy("127.0.0.1").host_allowed(host) is allowed


def test_host_names_with_a_wildcard_bind_and_allow_host() -> None:
    wild = AccessPolicy("0.0.0.0", allow_hosts=["Dash.Example.org"])
    assert wild.host_allowed("192.168.1.20:8050") and wild.host_allowed("dash.example.org:8050")
    assert not wild.host_allowed("evil.example")
    assert AccessPolicy("127.0.0.1", allow_hosts=["*"]).host_allowed("anything.example")
    assert not AccessPolicy("127.0.0.1").host_allowed(None)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),  # not a browser
        ("http://127.0.0.1:8050", True),
        ("http://127.0.0.1:8051", False),
        ("http://localhost:8050", False),  # same server, another origin
        ("https://evil.example", False),
        ("null", False),
        ("file://", False),
    ],
)
def test_websocket_origin_must_be_the_page_itself(origin: str | None, allowed: bool) -> None:
    assert AccessPolicy.origin_allowed(origin, "127.0.0.1:8050") is allowed


async def test_a_foreign_host_is_refused_on_every_path(server: DashboardServer) -> None:
    evil = {"Host": f"evil.example:{server.port}"}
    for path in ("", "api/state", "metrics", "static/dashboard.js"):
        assert await _status(server.url + path, **evil) == 403
        assert await _status(server.url + path) == 200
    assert await _status(server.url, Host=f"localhost:{server.port}") == 200
    assert await _ws_status(server.url + "ws", **evil) == 403
    assert server.refused["host"] == 5


async def test_a_websocket_from_another_origin_is_refused(server: DashboardServer) -> None:
    assert await _ws_status(server.url + "ws", Origin="https://evil.example") == 403
    assert await _ws_status(server.url + "ws", Origin=f"http://127.0.0.1:{server.port}") == 101
    assert await _ws_status(server.url + "ws") == 101
    async with aiohttp.ClientSession() as s, s.get(server.url + "metrics") as r:
        text = await r.text()
    assert 'tickwire_dashboard_refused_total{reason="origin"} 1' in text


@pytest.mark.parametrize("server", [{"token": TOKEN}], indirect=True)
async def test_a_token_is_required_on_every_request(
    server: DashboardServer, caplog: pytest.LogCaptureFixture
) -> None:
    from urllib.parse import quote

    q = f"?token={quote(TOKEN, safe='')}"
    with caplog.at_level(logging.DEBUG, logger="tickwire"):
        for path in ("", "api/state", "metrics", "static/dashboard.js"):
            assert await _status(server.url + path) == 401
            assert await _status(server.url + path + "?token=wrong") == 401
            assert await _status(server.url + path + q) == 200
            assert await _status(server.url + path, Authorization=f"Bearer {TOKEN}") == 200
            assert await _status(server.url + path, Authorization="Bearer nope") == 401
        assert await _ws_status(server.url + "ws") == 401
        assert await _ws_status(server.url + "ws" + q) == 101
        async with aiohttp.ClientSession() as s, s.get(server.url + q) as r:
            page = await r.text()
            assert r.headers["referrer-policy"] == "no-referrer"
            assert "script-src 'self'" in r.headers["content-security-policy"]
    # the page loads its files with the token (HTML-escaped in the attribute)
    assert f'src="/static/dashboard.js{q}"'.replace("&", "&amp;") in page
    assert TOKEN not in caplog.text and quote(TOKEN, safe="") not in caplog.text
    assert server.refused["token"] == 13


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        AccessPolicy("127.0.0.1", token="")


async def test_the_symbol_bound_evicts_the_least_recently_updated_and_counts_it() -> None:
    state = DashboardState(["PINNED"], max_symbols=3)
    srv = DashboardServer(state, push_interval=0.05)
    await srv.start()
    try:
        state.on_ticks([_trade(s) for s in ("A", "B", "C")])
        state.on_ticks([_trade("A", 11.0)])  # A is now the most recently updated: B goes first
        state.on_ticks([_trade("D")])
        assert set(state.symbols) == {"PINNED", "A", "C", "D"} and state.evicted == 1
        state.on_ticks([_trade(f"FLOOD{i}") for i in range(1000)])
        assert state.symbol_count == 4 and "PINNED" in state.symbols and state.evicted == 1001
        async with aiohttp.ClientSession() as s, s.get(srv.url + "metrics") as r:
            text = await r.text()
        assert "tickwire_dashboard_symbols 4\n" in text
        assert "tickwire_dashboard_symbols_evicted_total 1001\n" in text
    finally:
        await srv.aclose()
