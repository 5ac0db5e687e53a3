"""A blocking facade over :class:`~.server.PolymarketSimulator`, for synchronous code and tests.

The shared part (fault API, lifecycle) is :class:`~tickwire.sim.thread.ThreadFacade`'s; this adds
the Polymarket observations, each evaluated on the simulator's own thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tickwire.sim.polymarket.account import Activity
from tickwire.sim.polymarket.observe import HandshakeRecord, PmConnectionInfo, PmCounters
from tickwire.sim.polymarket.server import SIM_KEY_ID, PolymarketSimulator
from tickwire.sim.thread import ThreadFacade

__all__ = ["PolymarketThread"]


class PolymarketThread(ThreadFacade[PolymarketSimulator]):
    """Run a :class:`PolymarketSimulator` on a background thread; ``with ... as pm:`` starts and stops it."""

    def url_for(self, socket: str) -> str:
        return self.simulator.url_for(socket)

    @property
    def key_id(self) -> str:
        return self.simulator.key_id

    @property
    def secret_key(self) -> str:
        return self.simulator.secret_key

    @property
    def markets(self) -> list[str]:
        return self.simulator.markets

    def fail_next_snapshot(self, message: str = "deadline exceeded") -> None:
        self._call(self.simulator.fail_next_snapshot, message)

    def step_account(self, key_id: str = SIM_KEY_ID) -> list[Activity]:
        return self._call(self.simulator.step_account, key_id)

    # ------------------------------------------------------------------ observation

    @property
    def counters(self) -> PmCounters:
        return self._call(lambda: self.simulator.counters)

    @property
    def handshakes(self) -> list[HandshakeRecord]:
        return self._call(lambda: self.simulator.handshakes)

    def connections(self, socket: str | None = None) -> list[PmConnectionInfo]:
        return self._call(self.simulator.connections, socket)

    def requests(self, socket: str | None = None, *, conn_id: int | None = None) -> list[dict[str, Any]]:
        return self._call(self.simulator.requests, socket, conn_id=conn_id)

    # ------------------------------------------------------------------ waits (blocking)

    def wait_connections(
        self, n: int, socket: str | None = None, *, timeout: float = 5.0
    ) -> list[PmConnectionInfo]:
        return self._run(self.simulator.wait_connections(n, socket, timeout=timeout))

    def wait_subscribed(
        self, socket: str, request_ids: Iterable[str], timeout: float = 5.0
    ) -> PmConnectionInfo:
        return self._run(self.simulator.wait_subscribed(socket, list(request_ids), timeout))

    def wait_counter(self, name: str, n: int, *, timeout: float = 5.0) -> PmCounters:
        return self._run(self.simulator.wait_counter(name, n, timeout=timeout))
