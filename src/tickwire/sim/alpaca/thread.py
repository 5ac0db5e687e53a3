"""A blocking facade over :class:`~.server.AlpacaSimulator`, for synchronous code and tests.

The shared part (fault API, lifecycle) is :class:`~tickwire.sim.thread.ThreadFacade`'s; this adds
the Alpaca faults and observations, each run on the simulator's own thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tickwire.sim.alpaca import wire
from tickwire.sim.alpaca.observe import AlpacaAction, AlpacaConnectionInfo, AlpacaCounters, AlpacaHandshake
from tickwire.sim.alpaca.server import AlpacaSimulator
from tickwire.sim.thread import ThreadFacade

__all__ = ["AlpacaThread"]


class AlpacaThread(ThreadFacade[AlpacaSimulator]):
    """Run an :class:`AlpacaSimulator` on a background thread; ``with ... as sim:`` starts and stops it."""

    def url_for(self, feed: str = "iex") -> str:
        return self.simulator.url_for(feed)

    @property
    def key_id(self) -> str:
        return self.simulator.key_id

    @property
    def secret_key(self) -> str:
        return self.simulator.secret_key

    def now_ms(self) -> int:
        return self.simulator.now_ms()

    # ------------------------------------------------------------------ faults

    def send_error(self, code: int, endpoint: str | None = None, *, message: str | None = None) -> int:
        return self._call(self.simulator.send_error, code, endpoint, message=message)

    def reap(self) -> int:
        return self._call(self.simulator.reap)

    def halt(self, symbol: str, endpoint: str | None = "stocks") -> int:
        return self._call(self.simulator.halt, symbol, endpoint)

    def resume(self, symbol: str, endpoint: str | None = "stocks") -> int:
        return self._call(self.simulator.resume, symbol, endpoint)

    def correct_trade(self, symbol: str, feed: str = "sip") -> wire.Correction | None:
        return self._call(self.simulator.correct_trade, symbol, feed)

    def cancel_trade(self, symbol: str, feed: str = "sip", action: str = "C") -> wire.CancelError | None:
        return self._call(self.simulator.cancel_trade, symbol, feed, action)

    def publish_news(self, headline: str, symbols: Iterable[str]) -> wire.News:
        return self._call(self.simulator.publish_news, headline, list(symbols))

    # ------------------------------------------------------------------ observation

    @property
    def counters(self) -> AlpacaCounters:
        return self._call(lambda: self.simulator.counters)

    @property
    def handshakes(self) -> list[AlpacaHandshake]:
        return self._call(lambda: self.simulator.handshakes)

    def connections(self, feed: str | None = None) -> list[AlpacaConnectionInfo]:
        return self._call(self.simulator.connections, feed)

    def actions(
        self, feed: str | None = None, action: str | None = None, *, conn_id: int | None = None
    ) -> list[AlpacaAction]:
        return self._call(self.simulator.actions, feed, action, conn_id=conn_id)

    def errors_sent(self) -> list[tuple[int, int]]:
        return self._call(self.simulator.errors_sent)

    def held_slots(self, feed: str | None = None) -> int:
        return self._call(self.simulator.held_slots, feed)

    def subscriptions(self, feed: str = "iex") -> dict[str, tuple[str, ...]]:
        return self._call(self.simulator.subscriptions, feed)

    def trades(self, feed: str, symbol: str, start_ms: int, end_ms: int) -> list[wire.Item]:
        return self._call(self.simulator.trades, feed, symbol, start_ms, end_ms)

    def quotes(self, feed: str, symbol: str, start_ms: int, end_ms: int) -> list[wire.Item]:
        return self._call(self.simulator.quotes, feed, symbol, start_ms, end_ms)

    def bars(self, feed: str, symbol: str, start_ms: int, end_ms: int) -> list[wire.Bar]:
        return self._call(self.simulator.bars, feed, symbol, start_ms, end_ms)

    def book(self, symbol: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]] | None:
        return self._call(self.simulator.book, symbol)

    # ------------------------------------------------------------------ waits (blocking)

    def wait_connections(
        self, n: int, feed: str | None = None, *, authenticated: bool = False, timeout: float = 5.0
    ) -> list[AlpacaConnectionInfo]:
        return self._run(
            self.simulator.wait_connections(n, feed, authenticated=authenticated, timeout=timeout)
        )

    def wait_subscribed(
        self, feed: str, channels: Mapping[str, Iterable[str]], timeout: float = 5.0
    ) -> AlpacaConnectionInfo:
        chans = {c: list(s) for c, s in channels.items()}
        return self._run(self.simulator.wait_subscribed(feed, chans, timeout))

    def wait_actions(
        self, n: int, action: str | None = None, feed: str | None = None, *, timeout: float = 5.0
    ) -> list[AlpacaAction]:
        return self._run(self.simulator.wait_actions(n, action, feed, timeout=timeout))

    def wait_counter(self, name: str, n: int, *, timeout: float = 5.0) -> AlpacaCounters:
        return self._run(self.simulator.wait_counter(name, n, timeout=timeout))
