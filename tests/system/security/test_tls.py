"""TLS is verified by default, and a private CA is trusted only when asked (``ca_file=``, ``ssl_context=``,
``SSL_CERT_FILE``): stream clients, the callback client, Polymarket and REST, against simulators serving
wss:// and https:// on 127.0.0.1 with a throwaway CA. A certificate that fails verification is fatal and
says what to do; it is never retried in a loop and verification is never turned off."""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.system.security.pki import LoopbackPKI
from tickwire import AsyncStreamClient, Backoff, StreamClient
from tickwire.errors import ConfigError, TLSError
from tickwire.events import Disconnected, Event
from tickwire.massive.models import EquityTrade
from tickwire.massive.rest import AsyncRestClient, RestClient
from tickwire.polymarket_us.client import PolymarketClient
from tickwire.sim import MassiveSimulator, SimulatorThread
from tickwire.sim.polymarket import PolymarketSimulator
from tickwire.stream.consumer import StreamConsumer

KEY = "tls-test-key-7f3a"
HOUR = 3_600_000
FAST: dict[str, Any] = {"backoff": Backoff(base=0.02, cap=0.1, seed=1), "dotenv_path": None}

pytestmark = pytest.mark.usefixtures("no_cert_env")


def stream_client(sim: MassiveSimulator, **options: Any) -> AsyncStreamClient:
    return AsyncStreamClient(KEY, "stocks", url=sim.url, subscriptions=["T.*"], **FAST, **options)


async def consume_until_error(
    client: StreamConsumer, within: float = 5.0
) -> tuple[list[Event], BaseException]:
    """Every event until the stream ends with an error (fails if it is still going after ``within`` s)."""
    seen: list[Event] = []
    try:
        async with asyncio.timeout(within):
            async for ev in client:
                seen.append(ev)
    except TimeoutError:
        pytest.fail(f"still retrying after {within} s: {[e.event_type for e in seen[-5:]]}")
    except Exception as exc:
        return seen, exc
    pytest.fail("the stream ended without an error")


async def first_of(client: StreamConsumer, kind: type[Event] | str, within: float = 8.0) -> Event:
    async with asyncio.timeout(within):
        async for ev in client:
            if (isinstance(kind, str) and ev.event_type == kind) or (
                isinstance(kind, type) and isinstance(ev, kind)
            ):
                return ev
    raise AssertionError("the stream ended")


def assert_tls_message(exc: BaseException, port: int) -> None:
    msg = str(exc)
    assert isinstance(exc, TLSError), repr(exc)
    assert "certificate verification failed" in msg and f"127.0.0.1:{port}" in msg
    assert "ca_file=" in msg and "SSL_CERT_FILE" in msg  # says what to do
    assert KEY not in msg and "apiKey" not in msg


# -- AsyncStreamClient ------------------------------------------------------------------------


async def test_default_client_refuses_an_untrusted_certificate_at_once(tls_sim: MassiveSimulator) -> None:
    client = stream_client(tls_sim)
    async with client:
        seen, error = await consume_until_error(client)
    assert_tls_message(error, tls_sim.port)
    assert "unable to get local issuer certificate" in str(error)  # OpenSSL's reason, passed on
    ends = [e for e in seen if isinstance(e, Disconnected)]
    assert [(e.reason, e.will_reconnect) for e in ends] == [("tls_verify_failed", False)]
    # fatal on the first attempt: no reconnect, no backoff loop
    assert client.metrics().reconnects == 0 and tls_sim.counters.handshakes == 0


async def test_trusting_another_ca_does_not_help(tls_sim: MassiveSimulator, other_pki: LoopbackPKI) -> None:
    client = stream_client(tls_sim, ca_file=str(other_pki.ca_file))
    async with client:
        _, error = await consume_until_error(client)
    assert_tls_message(error, tls_sim.port)


@pytest.mark.parametrize("how", ["ca_file", "ssl_context", "SSL_CERT_FILE"])
async def test_a_trusted_ca_connects_and_streams(
    tls_sim: MassiveSimulator, pki: LoopbackPKI, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    options: dict[str, Any] = {}
    if how == "ca_file":
        options["ca_file"] = str(pki.ca_file)
    elif how == "ssl_context":
        options["ssl_context"] = ssl.create_default_context(cafile=pki.ca_file)
    else:  # the environment variable OpenSSL's default store reads
        monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    assert tls_sim.url.startswith("wss://127.0.0.1:")
    async with stream_client(tls_sim, **options) as client:
        trade = await first_of(client, EquityTrade)
    assert isinstance(trade, EquityTrade) and trade.price > 0
    assert tls_sim.counters.handshakes == 1


def test_tls_options_are_checked_when_the_client_is_made(pki: LoopbackPKI, tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="not a file"):
        AsyncStreamClient(KEY, url="wss://127.0.0.1:9", ca_file=str(tmp_path / "missing.pem"), **FAST)
    with pytest.raises(ConfigError, match="not both"):
        AsyncStreamClient(
            KEY, url="wss://127.0.0.1:9", ca_file=str(pki.ca_file), ssl_context=ssl.create_default_context()
        )
    with pytest.raises(ConfigError, match="not a file"):
        RestClient(KEY, ca_file=tmp_path, dotenv_path=None)  # a directory is not a bundle


# -- StreamClient (callbacks, threads) --------------------------------------------------------


@pytest.fixture
def tls_sim_thread(pki: LoopbackPKI) -> Iterator[SimulatorThread]:
    sim = MassiveSimulator(seed=4, tick_interval=0.02, rate=20.0, rest=True, ssl_context=pki.server_context())
    with sim.run_in_thread() as running:
        yield running


def test_threaded_client_reports_the_tls_error_and_closes(tls_sim_thread: SimulatorThread) -> None:
    errors: list[BaseException] = []
    closes: list[tuple[int | None, str]] = []
    client = StreamClient(
        KEY,
        "stocks",
        host=tls_sim_thread.url,
        on_message=lambda ws, msg: None,
        on_error=lambda ws, exc: errors.append(exc),
        on_close=lambda ws, code, msg: closes.append((code, msg)),
        **FAST,
    )
    client.subscribe("T.*")
    client.start_stream_thread()
    assert client.wait(5.0), "the stream kept retrying"
    client.close_stream()
    assert [type(e) for e in errors] == [TLSError]
    assert_tls_message(errors[0], tls_sim_thread.port)
    assert len(closes) == 1 and closes[0][0] == 1011 and "certificate verification failed" in closes[0][1]


def test_threaded_client_with_ca_file_streams(tls_sim_thread: SimulatorThread, pki: LoopbackPKI) -> None:
    got = threading.Event()
    messages: list[str] = []

    def on_message(msg: str) -> None:
        messages.append(msg)
        if '"ev":"T"' in msg:
            got.set()

    with StreamClient(
        KEY, "stocks", host=tls_sim_thread.url, on_message=on_message, ca_file=str(pki.ca_file), **FAST
    ) as client:
        client.subscribe("T.*")
        client.start_stream_thread()
        assert got.wait(8.0), messages[-3:]


# -- PolymarketClient -------------------------------------------------------------------------


async def test_polymarket_client_verifies_and_trusts_ca_file(pki: LoopbackPKI) -> None:
    async with PolymarketSimulator(seed=2, tick_interval=0.02, ssl_context=pki.server_context()) as sim:
        assert sim.url.startswith("wss://")
        options: dict[str, Any] = {"key_id": sim.key_id, "secret_key": sim.secret_key, "base_url": sim.url}
        untrusted = PolymarketClient("markets", **options, **FAST)
        async with untrusted:
            await untrusted.subscribe_market_data(sim.markets[0])
            _, error = await consume_until_error(untrusted)
        assert_tls_message(error, sim.port)
        assert sim.secret_key not in str(error)
        trusted = PolymarketClient("markets", **options, ca_file=str(pki.ca_file), **FAST)
        async with trusted:
            await trusted.subscribe_market_data(sim.markets[0])
            book = await first_of(trusted, "market_data")
        assert book.event_type == "market_data"


# -- REST over https --------------------------------------------------------------------------


async def test_async_rest_client_fails_at_once_then_trusts_ca_file(
    tls_sim: MassiveSimulator, pki: LoopbackPKI, caplog: pytest.LogCaptureFixture
) -> None:
    now = tls_sim.now_ms()
    assert tls_sim.rest_url.startswith("https://127.0.0.1:")
    slow_retries = {"max_retries": 5, "backoff": Backoff(base=1.0, cap=1.0, minimum=1.0), "dotenv_path": None}
    caplog.set_level(logging.INFO, logger="tickwire")
    async with AsyncRestClient(KEY, base_url=tls_sim.rest_url, **slow_retries) as client:
        with pytest.raises(TLSError) as info:
            await client.aggs("AAPL", 1, "minute", now - HOUR, now)
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("REST retry")]
    assert retries == []  # not retried: each retry is logged before its backoff sleep
    assert_tls_message(info.value, urlsplit(tls_sim.rest_url).port or 0)
    async with AsyncRestClient(KEY, base_url=tls_sim.rest_url, ca_file=pki.ca_file, **slow_retries) as client:
        bars = await client.aggs("AAPL", 1, "minute", now - HOUR, now)
    assert len(bars) >= 55


@pytest.mark.parametrize("how", [None, "ca_file", "SSL_CERT_FILE"])
def test_rest_client_over_https(
    tls_sim_thread: SimulatorThread, pki: LoopbackPKI, how: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    options: dict[str, Any] = {"base_url": tls_sim_thread.rest_url, "dotenv_path": None, "max_retries": 2}
    if how == "ca_file":
        options["ca_file"] = str(pki.ca_file)
    elif how == "SSL_CERT_FILE":  # httpx's default store reads it
        monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    now = tls_sim_thread.now_ms()  # the market clock (a session time, not always the wall clock)
    with RestClient(KEY, **options) as client:
        if how is None:
            with pytest.raises(TLSError, match="certificate verification failed"):
                client.aggs("AAPL", 1, "minute", now - HOUR, now)
            return
        bars = client.aggs("AAPL", 1, "minute", now - HOUR, now)
    assert len(bars) >= 55
