"""One port for every dialect: the Alpaca streams attached to the Massive simulator (what ``tickwire
sim`` does), with the same seeded market, and ``tickwire sim`` announcing the test key."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time

import msgspec
from websockets.asyncio.client import connect

from tickwire.sim import MassiveSimulator
from tickwire.sim.alpaca import FAKEPACA, SIM_KEY_ID, SIM_SECRET_KEY, attach_alpaca

from .raw_client import RawAlpaca


async def test_attached_to_massive_on_one_port_with_the_same_market() -> None:
    lines: list[str] = []
    async with MassiveSimulator(seed=11, rate=3.0, tick_interval=0.02, speed=60.0) as massive:
        alpaca = attach_alpaca(massive, announce=lines.append, reap_window=0.0)
        try:
            assert alpaca.port == massive.port and alpaca.url_for("test").startswith(massive.url)
            assert alpaca.seed == 11 and alpaca.model.rates == massive.model.rates and alpaca.speed == 60.0
            client = await RawAlpaca.open(alpaca.url_for("test"), "msgpack")
            assert await client.login(SIM_KEY_ID, SIM_SECRET_KEY) == [
                {"T": "success", "msg": "authenticated"}
            ]
            await client.send({"action": "subscribe", "trades": [FAKEPACA]})
            await client.recv()
            assert (await client.recv_until("t", timeout=10))["S"] == FAKEPACA
            async with connect(massive.url_for("stocks")) as ws:  # the Massive paths are still served
                assert msgspec.json.decode(await ws.recv())[0]["status"] == "connected"
            await client.close()
            now = massive.now_ms()
            assert alpaca.model.trades("stocks", "AAPL", now - 5_000, now) == massive.model.trades(
                "stocks", "AAPL", now - 5_000, now
            )
        finally:
            await alpaca.aclose()
    assert any(SIM_KEY_ID in line and SIM_SECRET_KEY in line for line in lines)
    assert any("/v1beta3/crypto/us" in line for line in lines)


def test_tickwire_sim_serves_alpaca_and_prints_the_test_key() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickwire", "sim", "--port", str(port), "--alpaca-reap-window", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as c:
                if c.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("tickwire sim did not start listening")

        async def login() -> list[dict[str, object]]:
            client = await RawAlpaca.open(f"ws://127.0.0.1:{port}/v2/iex")
            try:
                return await client.login(SIM_KEY_ID, SIM_SECRET_KEY)
            finally:
                await client.close()

        assert asyncio.run(login()) == [{"T": "success", "msg": "authenticated"}]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert f"key id {SIM_KEY_ID}" in out and f"secret {SIM_SECRET_KEY}" in out
    assert f"ws://127.0.0.1:{port}/v2/" in out
