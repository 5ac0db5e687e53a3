"""Fixtures for the callback ``StreamClient``: a simulator on its own thread and fast clients."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tickwire import Backoff
from tickwire.massive.callback import StreamClient
from tickwire.sim import MassiveSimulator
from tickwire.sim.thread import SimulatorThread


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with MassiveSimulator(
        seed=5, tick_interval=0.02, rate=40.0, auth_timeout=3.0, close_timeout=0.3, valid_keys={"good-key"}
    ).run_in_thread() as s:
        yield s


class Recorder:
    """Collects what the handlers get, with events to wait on instead of sleeping."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.errors: list[BaseException] = []
        self.closes: list[tuple[int | None, str]] = []
        self.statuses: list[Any] = []
        self._cond = threading.Condition()

    def _add(self, bucket: list[Any], item: Any) -> None:
        with self._cond:
            bucket.append(item)
            self._cond.notify_all()

    def on_message(self, ws: StreamClient, msg: Any) -> None:
        self._add(self.messages, msg)

    def on_error(self, ws: StreamClient, error: BaseException) -> None:
        self._add(self.errors, error)

    def on_close(self, ws: StreamClient, code: int | None, msg: str) -> None:
        self._add(self.closes, (code, msg))

    def on_status(self, ws: StreamClient, event: Any) -> None:
        self._add(self.statuses, event)

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 8.0, what: str = "a condition"
    ) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise AssertionError(
                    f"{what} not met within {timeout} s; messages={len(self.messages)} "
                    f"errors={[str(e) for e in self.errors[-5:]]} closes={self.closes}"
                )

    def wait_streaming(self) -> None:
        """Until the client has read ``auth_success`` (raw mode): the server having sent it is not
        enough, as calls made before the client reads it are batched into one request."""
        self.wait_for(
            lambda: any(isinstance(m, str) and "auth_success" in m for m in self.messages),
            what="auth_success read by the client",
        )

    def data_frames(self) -> list[str]:
        return [m for m in self.messages if isinstance(m, str) and '"status"' not in m]


def make_client(sim: SimulatorThread, rec: Recorder | None = None, **overrides: Any) -> StreamClient:
    """A client pointed at ``sim`` with short backoff; handlers from ``rec`` unless overridden."""
    options: dict[str, Any] = {
        "api_key": "good-key",
        "cluster": "stocks",
        "host": sim.url,
        "backoff": Backoff(base=0.02, cap=0.1, seed=3),
        "stable_after": 60.0,
        "auth_timeout": 2.0,
        "stale_timeout": None,
        "max_connections_cooldown": 1.0,
        "dotenv_path": None,
    }
    if rec is not None:
        options.update(on_message=rec.on_message, on_error=rec.on_error, on_close=rec.on_close)
    options.update(overrides)
    return StreamClient(**options)


@pytest.fixture
def clients() -> Iterator[list[StreamClient]]:
    """Clients a test made; each is closed afterwards (its threads must not outlive the test)."""
    made: list[StreamClient] = []
    yield made
    for c in made:
        c.close_stream(timeout=5)
        assert not c.is_alive, f"{c!r} still running after close_stream"
