"""``AlpacaCallbackClient``: callbacks on background threads, an adapter over the engine's thread runner.

It wraps one :class:`~tickwire.alpaca.client.AlpacaStreamClient` (the same session, driver and
bounded queue) and runs it with a :class:`~tickwire.stream.thread_runner.ThreadRunner`:
``tickwire-alpaca-io`` runs the connection on a private asyncio loop (so it works inside
Jupyter's running loop, and a slow callback never delays a ping), ``tickwire-alpaca-dispatch``
decodes each frame and calls the handlers, in order. ``on(tag, fn)`` registers a handler for an
event tag (``"t"`` trades, ``"q"`` quotes, ``"b"`` bars, ``"reconnected"``, ``"alpaca_error"``...)
or ``"*"``; a handler that raises goes to ``on_error(exc, event)`` (or the log) and the stream goes
on. ``on_close()`` runs once when the stream has ended for good; :attr:`error` says why if it failed.

Subscribing works from any thread, before or after :meth:`start`: calls run on the loop's thread,
where the session lives, and raise their errors to the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from tickwire.alpaca.client import AlpacaStreamClient
from tickwire.errors import ConfigError, TickwireError
from tickwire.events import Event
from tickwire.stream.metrics import MetricsSnapshot
from tickwire.stream.queue import Item
from tickwire.stream.thread_runner import THREADED_QUEUE_BYTES, ThreadRunner

__all__ = ["AlpacaCallbackClient"]

log = logging.getLogger("tickwire.alpaca.callback")

EventHandler = Callable[[Event], Any]


class AlpacaCallbackClient:
    """Alpaca stream with callbacks on a dispatch thread (see the module docstring). ``options``
    are :class:`~tickwire.alpaca.client.AlpacaStreamClient`'s."""

    def __init__(
        self,
        key_id: str | None = None,
        secret_key: str | None = None,
        market: str = "iex",
        *,
        on_error: Callable[[Exception, Event], Any] | None = None,
        on_close: Callable[[], Any] | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("queue_bytes", THREADED_QUEUE_BYTES)
        self.client = AlpacaStreamClient(key_id, secret_key, market, **options)
        self._handlers: dict[str, list[EventHandler]] = {}
        self._on_error = on_error
        self._on_close = on_close
        self.runner = ThreadRunner(self.client, self._deliver, self._finished, name="tickwire-alpaca")

    def __repr__(self) -> str:
        return f"AlpacaCallbackClient({self.runner.state}, {self.client.session!r})"

    # -- handlers ---------------------------------------------------------------------

    def on(self, event_type: str, handler: EventHandler) -> EventHandler:
        """Call ``handler(event)`` for events tagged ``event_type`` (``"*"``: all); before :meth:`start`."""
        if not callable(handler):
            raise ConfigError("handler must be callable")
        self._handlers.setdefault(event_type, []).append(handler)
        return handler

    def _deliver(self, item: Item) -> None:
        handlers = self._handlers
        every = handlers.get("*", ())
        for ev in self.client.decode_item(item):
            for fn in (*handlers.get(ev.event_type, ()), *every):
                try:
                    fn(ev)
                except Exception as exc:
                    if self._on_error is not None:
                        self._on_error(exc, ev)
                    else:
                        log.error("handler %r failed on a %s event", fn, ev.event_type, exc_info=exc)

    def _finished(self) -> None:
        if self._on_close is not None:
            self._on_close()

    # -- lifecycle --------------------------------------------------------------------

    def start(self, *, daemon: bool = False) -> None:
        """Connect in the background and start calling handlers; returns at once."""
        self.runner.start(daemon=daemon)

    def stop(self, timeout: float = 10.0) -> None:
        """Close the stream and end both threads (idempotent; callable from a handler)."""
        self.runner.stop(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the stream has ended; False on timeout."""
        return self.runner.wait(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def error(self) -> TickwireError | None:
        """The fatal error that ended the stream (a refused key, 409...), if any."""
        return self.client.error

    def metrics(self) -> MetricsSnapshot:
        return self.client.metrics()

    # -- subscriptions (any thread) ---------------------------------------------------

    def subscribe(self, channel: str, *symbols: str) -> None:
        """Subscribe ``symbols`` on ``channel`` (``trades``, ``bars``...); kept across reconnects."""
        self.runner.call(lambda: self._apply(self.client.session.subscribe, channel, symbols))

    def unsubscribe(self, channel: str, *symbols: str) -> None:
        self.runner.call(lambda: self._apply(self.client.session.unsubscribe, channel, symbols))

    def _apply(self, fn: Callable[..., list[str]], channel: str, symbols: tuple[str, ...]) -> None:
        fn(channel, *symbols)
        if self.runner.is_alive:
            self.client.flush()

    @property
    def subscriptions(self) -> dict[str, list[str]]:
        return self.runner.call(lambda: self.client.subscriptions) if not self.runner.stopping else {}
