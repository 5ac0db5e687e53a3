"""A URL given as a callable is asked again at every connection attempt (the server may move).

The matrix's "server restart, new port" cells use it end to end for every client; these
tests pin the contract itself: asked per attempt, completed like a plain URL, and a bad answer
fails at construction instead of in the background.
"""

from __future__ import annotations

import pytest

from tickwire import (
    AsyncStreamClient,
    Backoff,
    ConfigError,
    Connected,
    Disconnected,
    PolymarketClient,
    StreamClient,
)
from tickwire.sim import MassiveSimulator

from .harness import PM_KEY_ID, PM_SECRET


async def test_async_client_asks_the_provider_at_every_attempt() -> None:
    async with MassiveSimulator(tick_interval=0.05) as sim:
        calls: list[str] = []

        def where() -> str:
            calls.append(sim.url)
            return sim.url

        sim.refuse_handshakes(503, count=2)
        client = AsyncStreamClient(
            "k", "stocks", url=where, backoff=Backoff(base=0.01, cap=0.02, seed=1), dotenv_path=None
        )
        assert client.url == f"{sim.url}/stocks"  # completed like a plain URL
        asked = len(calls)
        async with client:
            refused = 0
            async for ev in client:
                if isinstance(ev, Connected):
                    break
                if isinstance(ev, Disconnected):
                    assert ev.code == 503
                    refused += 1
        assert refused == 2
        # three attempts (two refused), each asked the provider afresh
        assert len(calls) - asked >= 3


@pytest.mark.parametrize("bad", ["http://127.0.0.1:1", "ws://", "not a url"])
def test_a_bad_url_from_the_provider_fails_at_construction(bad: str) -> None:
    with pytest.raises(ConfigError):
        AsyncStreamClient("k", "stocks", url=lambda: bad, dotenv_path=None)
    with pytest.raises(ConfigError):
        StreamClient("k", "stocks", host=lambda: bad, dotenv_path=None)


def test_polymarket_and_threaded_clients_take_a_provider() -> None:
    target = ["ws://127.0.0.1:1111"]
    pm = PolymarketClient("markets", PM_KEY_ID, PM_SECRET, base_url=lambda: target[0], dotenv_path=None)
    sc = StreamClient("k", "crypto", host=lambda: target[0], dotenv_path=None)
    assert pm.url == "ws://127.0.0.1:1111/v1/ws/markets"
    assert sc.client.url == "ws://127.0.0.1:1111/crypto"
    target[0] = "ws://127.0.0.1:2222"
    assert pm.url == "ws://127.0.0.1:2222/v1/ws/markets"
    assert sc.client.url == "ws://127.0.0.1:2222/crypto"
    with pytest.raises(ConfigError):
        PolymarketClient("markets", PM_KEY_ID, PM_SECRET, base_url=lambda: "ftp://x", dotenv_path=None)
