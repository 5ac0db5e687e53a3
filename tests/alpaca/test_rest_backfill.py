"""REST bars (pagination, errors, DataFrame) against a loopback HTTP server, and the gap filler."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tickwire.alpaca.backfill import AlpacaBackfillConfig, AlpacaGapFiller, BackfilledBar, BarsBackfilled
from tickwire.alpaca.models import Bar, Trade
from tickwire.alpaca.rest import AlpacaRestClient, AsyncAlpacaRestClient
from tickwire.errors import AuthError, RestError
from tickwire.events import Event, Reconnected

KEY, SECRET = "PKRESTKEY", "rest-secret-123"
MIN = 60_000_000_000


def _bar(t: str, c: float) -> dict[str, Any]:
    return {"t": t, "o": c, "h": c + 1, "l": c - 1, "c": c, "v": 100, "n": 5, "vw": c}


class _Handler(BaseHTTPRequestHandler):
    pages: dict[str | None, tuple[int, dict[str, Any]]] = {}
    seen: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        self.seen.append((url.path, q, {k.lower(): v for k, v in self.headers.items()}))
        status, body = self.pages[q.get("page_token", [None])[0]]
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http() -> Iterator[type[_Handler]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _Handler.seen = []
    _Handler.base = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield _Handler
    server.shutdown()
    server.server_close()


def test_bars_follow_every_page_and_make_a_frame(http: type[_Handler]) -> None:
    http.pages = {
        None: (200, {"bars": {"AAPL": [_bar("2024-01-02T15:00:00Z", 10)]}, "next_page_token": "p2"}),
        "p2": (
            200,
            {
                "bars": {
                    "AAPL": [_bar("2024-01-02T15:01:00Z", 11)],
                    "MSFT": [_bar("2024-01-02T15:00:00Z", 20)],
                },
                "next_page_token": None,
            },
        ),
    }
    with AlpacaRestClient(KEY, SECRET, base_url=http.base, dotenv_path=None) as rest:  # type: ignore[attr-defined]
        bars = rest.get_bars(["AAPL", "MSFT"], "1Min", "2024-01-02T15:00:00Z", "2024-01-02T16:00:00Z")
        frame = rest.bars_frame("AAPL,MSFT", start="2024-01-02T15:00:00Z")
    assert [b.close for b in bars["AAPL"]] == [10, 11] and bars["MSFT"][0].timestamp == 1_704_207_600 * 10**9
    path, query, headers = http.seen[0]
    assert path == "/v2/stocks/bars" and query["symbols"] == ["AAPL,MSFT"] and query["feed"] == ["iex"]
    assert headers["apca-api-key-id"] == KEY and headers["apca-api-secret-key"] == SECRET
    assert http.seen[1][1]["page_token"] == ["p2"]
    assert list(frame.columns) == [
        "symbol",
        "timestamp",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "trade_count",
        "vwap",
    ]
    assert list(frame["symbol"]) == ["AAPL", "AAPL", "MSFT"] and str(frame["timestamp"].dt.tz) == "UTC"


def test_a_repeated_page_token_stops_the_loop(http: type[_Handler]) -> None:
    http.pages = {
        None: (200, {"bars": {}, "next_page_token": "same"}),
        "same": (200, {"bars": {}, "next_page_token": "same"}),
    }
    rest = AlpacaRestClient(KEY, SECRET, base_url=http.base, dotenv_path=None)  # type: ignore[attr-defined]
    with rest, pytest.raises(RestError, match="repeated page token"):
        rest.get_bars("AAPL")


def test_refused_keys_raise_without_the_secret(http: type[_Handler]) -> None:
    http.pages = {None: (403, {"message": f"forbidden {SECRET}"})}
    rest = AlpacaRestClient(KEY, SECRET, base_url=http.base, dotenv_path=None)  # type: ignore[attr-defined]
    with rest, pytest.raises(AuthError) as info:
        rest.get_bars("AAPL")
    assert SECRET not in str(info.value) and "APCA_API_KEY_ID" in str(info.value)


def test_server_errors_are_retried_then_raised(http: type[_Handler]) -> None:
    http.pages = {None: (503, {"message": "busy"})}
    base = http.base  # type: ignore[attr-defined]
    rest = AlpacaRestClient(KEY, SECRET, base_url=base, dotenv_path=None, max_retries=2, retry_delay=0.01)
    with rest, pytest.raises(RestError, match="503"):
        rest.get_bars("AAPL")
    assert len(http.seen) == 3


async def test_async_client_reads_crypto_bars(http: type[_Handler]) -> None:
    http.pages = {
        None: (200, {"bars": {"BTC/USD": [_bar("2024-01-02T15:00:00Z", 42000)]}, "next_page_token": None})
    }
    async with AsyncAlpacaRestClient(KEY, SECRET, base_url=http.base, dotenv_path=None) as rest:  # type: ignore[attr-defined]
        bars = await rest.get_bars("BTC/USD", asset_class="crypto")
    assert bars["BTC/USD"][0].close == 42000 and http.seen[0][0] == "/v1beta3/crypto/us/bars"
    assert "feed" not in http.seen[0][1]


# ---------------------------------------------------------------------------- gap filler


def _live(sym: str, t: int) -> Bar:
    return Bar(symbol=sym, timestamp=t, open=1, high=1, low=1, close=1, volume=1)


async def test_the_gap_is_filled_in_order_once_and_duplicates_dropped() -> None:
    now_ns = 1_000 * MIN
    calls: list[tuple[Sequence[str], int, int]] = []

    async def fetch(symbols: Sequence[str], start: int, end: int) -> Mapping[str, Sequence[Bar]]:
        calls.append((symbols, start, end))
        return {"AAPL": [_live("AAPL", now_ns - k * MIN) for k in (5, 4, 3, 2, 1)]}

    filler = AlpacaGapFiller(
        fetch, lambda: {"bars": ["*"], "trades": ["AAPL"]}, AlpacaBackfillConfig(clock=lambda: now_ns / 1e9)
    )
    before = [[_live("AAPL", now_ns - 6 * MIN)]]
    assert await filler.process(before) == before
    gap = Reconnected(gap_start=0.0, gap_end=1.0, attempts=1, epoch=2)
    live_after = _live("AAPL", now_ns - 2 * MIN)  # already queued behind the Reconnected
    out = await filler.process([[gap], [live_after]])
    flat: list[Event] = [e for b in out for e in b]
    filled = [e for e in flat if isinstance(e, BackfilledBar)]
    assert [e.timestamp for e in filled] == [now_ns - 5 * MIN, now_ns - 4 * MIN, now_ns - 3 * MIN]
    done = next(e for e in flat if isinstance(e, BarsBackfilled))
    assert done.events == 3 and done.skipped == 2 and done.error is None and done.symbols == ["AAPL"]
    assert flat.index(done) < flat.index(live_after)
    assert calls[0][1] == now_ns - 5 * MIN  # from the minute after the last bar delivered
    # a live bar for a minute already backfilled is dropped
    again = await filler.process([[_live("AAPL", now_ns - 3 * MIN), Trade(symbol="AAPL", price=1, size=1)]])
    assert [type(e) for b in again for e in b] == [Trade] and filler.duplicates_dropped == 1


async def test_a_failed_backfill_is_reported_and_the_stream_goes_on() -> None:
    async def fetch(symbols: Sequence[str], start: int, end: int) -> Mapping[str, Sequence[Bar]]:
        raise AuthError("keys refused")

    filler = AlpacaGapFiller(fetch, lambda: {"bars": ["SPY"]})
    gap = Reconnected(gap_start=0.0, gap_end=1.0, attempts=1, epoch=2)
    out = await filler.process([[gap]])
    done = out[0][-1]
    assert isinstance(done, BarsBackfilled) and done.error == "keys refused" and done.events == 0
