"""The engine on uvloop's event loop (``tickwire[uvloop]``): Massive and Alpaca clients stream,
reconnect after a dropped socket and close cleanly, against the simulators on loopback.

uvloop replaces asyncio's loop and transports; picows runs on either. The benchmarks report what
it changes (``benchmarks/results/throughput.md``); this says that it works.
"""

from __future__ import annotations

import asyncio

import pytest

from tickwire import AsyncStreamClient, Backoff, EquityTrade
from tickwire.alpaca import AlpacaStreamClient
from tickwire.alpaca.models import Trade
from tickwire.events import Event, Reconnected
from tickwire.sim import MassiveSimulator
from tickwire.sim.alpaca import SIM_KEY_ID, SIM_SECRET_KEY, AlpacaSimulator

uvloop = pytest.importorskip("uvloop")

BACKOFF = Backoff(base=0.02, cap=0.05, minimum=0.01, seed=1)


async def _through_a_drop(
    client: AsyncStreamClient | AlpacaStreamClient, sim: MassiveSimulator | AlpacaSimulator, kind: type[Event]
) -> list[Event]:
    """Events until 3 of ``kind`` came before and 3 after a dropped connection."""
    seen: list[Event] = []
    before = after = 0
    dropped = reconnected = False
    async with asyncio.timeout(15):
        async for ev in client:
            seen.append(ev)
            if isinstance(ev, Reconnected):
                reconnected = True
            elif isinstance(ev, kind):
                if reconnected:
                    after += 1
                else:
                    before += 1
            if before >= 3 and not dropped:
                dropped = sim.drop() > 0
            if after >= 3:
                return seen
    raise AssertionError("stream ended")


def test_massive_on_uvloop() -> None:
    async def main() -> None:
        assert "uvloop" in type(asyncio.get_running_loop()).__module__
        async with MassiveSimulator(seed=11, tick_interval=0.02, rate=20.0) as sim:
            client = AsyncStreamClient(
                api_key="test-key-0000", market="stocks", url=sim.url, backoff=BACKOFF, dotenv_path=None
            )
            async with client:
                await client.subscribe("T.*")
                seen = await _through_a_drop(client, sim, EquityTrade)
            assert client.metrics().reconnects == 1
            assert any(isinstance(e, EquityTrade) and e.price for e in seen)

    uvloop.run(main())


def test_alpaca_msgpack_on_uvloop() -> None:
    async def main() -> None:
        async with AlpacaSimulator(
            seed=5, tick_interval=0.02, rate=20.0, reap_window=0.0, news_interval=None
        ) as sim:
            client = AlpacaStreamClient(
                market="test",
                key_id=SIM_KEY_ID,
                secret_key=SIM_SECRET_KEY,
                url=sim.url,
                backoff=BACKOFF,
                dotenv_path=None,
                connection_limit_cooldown=0.3,
                encoding="msgpack",
            )
            async with client:
                await client.subscribe_trades("FAKEPACA")
                seen = await _through_a_drop(client, sim, Trade)
            trades = [e for e in seen if isinstance(e, Trade)]
            assert all(type(e.timestamp) is int and e.timestamp > 0 for e in trades)

    uvloop.run(main())
