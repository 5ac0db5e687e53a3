"""close_stream() right after a fatal error, many times: no task or coroutine is left behind.

The I/O loop must be closed (every task finished) before the runner reports the stream ended, and a
close requested while the loop winds down must not create a task the loop never runs."""

from __future__ import annotations

import gc
import logging
import threading
import warnings

import pytest

from tickwire import Backoff
from tickwire.massive.callback import StreamClient
from tickwire.sim import MassiveSimulator

LEAKS = ("never awaited", "Task was destroyed", "Task exception was never retrieved")


def _client(url: str, i: int, failed: threading.Event, closes: list[int | None]) -> StreamClient:
    """A client with a key the simulator refuses: its stream ends at once with a fatal error."""
    return StreamClient(
        "bad-key",
        "stocks",
        url,
        on_message=lambda ws, msg: None,
        on_error=lambda ws, err: failed.set(),
        on_close=lambda ws, code, msg: closes.append(code),
        backoff=Backoff(base=0.01, cap=0.02, seed=i),
        dotenv_path=None,
    )


def test_close_right_after_a_fatal_error_leaves_nothing_behind(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="asyncio")
    with MassiveSimulator(seed=1, valid_keys={"good"}).run_in_thread() as sim:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(50):
                closes: list[int | None] = []
                failed = threading.Event()
                client = _client(sim.url, i, failed, closes)
                client.start_stream_thread(daemon=True)
                if i % 2:  # right as the error is reported: races the loop's own shutdown
                    assert failed.wait(10), f"iteration {i}: no fatal error"
                    client.close_stream(timeout=5)
                else:  # once the stream has ended, its loop is closed
                    assert client.wait(10), f"iteration {i}: the fatal error did not end the stream"
                    alive = [t.name for t in threading.enumerate() if t.name == "tickwire-io"]
                    assert alive == [], f"iteration {i}: ended, but the I/O thread still runs"
                    client.close_stream(timeout=5)
                assert not client.is_alive and closes == [1008]
                io = [t.name for t in threading.enumerate() if t.name in ("tickwire-io", "tickwire-dispatch")]
                assert io == [], f"iteration {i}: threads still running after the stream ended: {io}"
                gc.collect()
        messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
        assert not [m for m in messages if any(leak in m for leak in LEAKS)], messages
