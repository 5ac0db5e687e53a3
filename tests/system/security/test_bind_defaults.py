"""Every server tickwire starts listens on 127.0.0.1 unless told otherwise: the simulators (WebSocket and
REST), the journal replayer, the dashboard, and the CLI commands that start them. Checked on the sockets
the process actually listens on, not only on the declared defaults."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from tickwire.cli.dashboard_cmd import dashboard as dashboard_cmd
from tickwire.cli.sim_cmd import sim as sim_cmd
from tickwire.dashboard import Dashboard
from tickwire.dashboard.server import DashboardServer
from tickwire.dashboard.state import DashboardState
from tickwire.sim import MassiveSimulator
from tickwire.sim.polymarket import PolymarketSimulator
from tickwire.sim.replay import JournalReplayer
from tickwire.sim.run import run_sim, serve

LOOPBACK = "127.0.0.1"


def listening(pid: int | None = None) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on."""
    conns = psutil.Process(pid).net_connections(kind="inet")
    return {(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}


async def test_servers_listen_on_loopback_by_default(tmp_path: Path) -> None:
    before = listening()
    async with (
        MassiveSimulator(rest=True) as massive,
        PolymarketSimulator() as polymarket,
        JournalReplayer(tmp_path) as replayer,
    ):
        dash = DashboardServer(DashboardState())
        await dash.start()
        try:
            opened = listening() - before
        finally:
            await dash.aclose()
    assert len(opened) == 5, opened  # stream + REST, Polymarket, replayer, dashboard
    assert {address for address, _ in opened} == {LOOPBACK}
    ports = {port for _, port in opened}
    assert {massive.port, polymarket.port, replayer.port, dash.port} <= ports
    assert massive.url.startswith(f"ws://{LOOPBACK}:") and massive.rest_url.startswith(f"http://{LOOPBACK}:")


def _default(fn: Callable[..., Any], name: str) -> object:
    return inspect.signature(fn).parameters[name].default


@pytest.mark.parametrize(
    "fn",
    [MassiveSimulator, PolymarketSimulator, JournalReplayer, DashboardServer, Dashboard, serve, run_sim],
)
def test_declared_host_defaults_are_loopback(fn: Callable[..., Any]) -> None:
    assert _default(fn, "host") == LOOPBACK


@pytest.mark.parametrize("command", [sim_cmd, dashboard_cmd])
def test_cli_host_options_default_to_loopback(command: Callable[..., Any]) -> None:
    assert _default(command, "host") == LOOPBACK
