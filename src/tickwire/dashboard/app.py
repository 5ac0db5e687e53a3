"""``Dashboard``: a stream, its candles and alerts, served live on a local web page.

::

    massive = get_provider("massive")
    async with AsyncStreamClient(subscriptions=["T.AAPL", "Q.AAPL"]) as client:
        rules = [PriceCross(symbol="AAPL", level=190)]
        async with Dashboard(client, ticks=massive.ticks, rules=rules) as dash:
            print(dash.url)
            await dash.wait()

Any provider's client works: ``ticks`` (the provider's ``ticks``) turns its events into neutral
ticks, so a ``PolymarketClient`` with ``get_provider("polymarket").ticks`` shows its markets'
prices and books. The dashboard consumes the client's batches (one task), converts each event
once, feeds :class:`DashboardState` and the :class:`~tickwire.alerts.AlertEngine` the same ticks,
and runs a clock task that closes candles and evaluates ``stale`` rules even when the market is
quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from types import TracebackType
from typing import Protocol, Self

from tickwire.alerts import Alert, AlertEngine, AlertNotifier, Rule
from tickwire.dashboard.server import DashboardServer
from tickwire.dashboard.state import MAX_SYMBOLS, DashboardState
from tickwire.events import Event
from tickwire.prometheus import Metric
from tickwire.provider import Tick
from tickwire.redact import safe_text
from tickwire.stream.metrics import MetricsSnapshot

__all__ = ["Dashboard", "EventSource"]

log = logging.getLogger("tickwire.dashboard")


class EventSource(Protocol):
    """What the dashboard consumes: any provider's client (``AsyncStreamClient``, ``PolymarketClient``)
    or anything shaped like it."""

    async def start(self) -> None: ...

    def batches(self) -> AsyncIterator[list[Event]]: ...

    def metrics(self) -> MetricsSnapshot: ...


class Dashboard:
    """Serve a live page of ``source``: candles and books per symbol, a tape, alerts, the connection.

    :param ticks: the provider's event converter (``get_provider(name).ticks``).
    :param symbols: symbols to show from the start (others appear as they trade).
    :param interval: candle length in seconds.
    :param rules: alert rules; alerts go to ``notifier`` (log, terminal, webhook, NATS) and the page.
    :param clock: the stream's clock in Unix ns (the simulator's market clock when it runs fast).
    :param push_interval: seconds between pushes to each page (the bounded rate).
    :param ladder_depth: book levels shown per side.
    :param max_symbols: symbols tracked besides ``symbols`` (least recently updated evicted).
    :param allow_hosts: ``Host`` names served besides localhost and ``host`` (DNS-rebinding defence).
    :param token: when set, required on every request (``?token=`` or ``Authorization: Bearer``).
    """

    def __init__(
        self,
        source: EventSource,
        *,
        ticks: Callable[[Event], Sequence[Tick]],
        symbols: Iterable[str] = (),
        interval: float = 60.0,
        rules: Iterable[Rule] = (),
        notifier: AlertNotifier | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        push_interval: float = 0.25,
        clock: Callable[[], int] = time.time_ns,
        clock_interval: float = 0.5,
        title: str = "tickwire",
        ladder_depth: int = 10,
        max_symbols: int = MAX_SYMBOLS,
        allow_hosts: Iterable[str] = (),
        token: str | None = None,
    ) -> None:
        self.source = source
        self.state = DashboardState(
            symbols,
            ticks=ticks,
            interval=interval,
            ladder_depth=ladder_depth,
            max_symbols=max_symbols,
            metrics=source.metrics,
            clock=clock,
        )
        self.engine = AlertEngine(rules, ticks=ticks, max_symbols=max_symbols)
        self.notifier = notifier if notifier is not None else AlertNotifier()
        self.notifier.callbacks.append(self._to_page)
        self.server = DashboardServer(
            self.state,
            host=host,
            port=port,
            push_interval=push_interval,
            title=title,
            metrics=self.metrics,
            allow_hosts=allow_hosts,
            token=token,
        )
        self.clock = clock
        self.clock_interval = clock_interval
        self._tasks: list[asyncio.Task[None]] = []
        self._done = asyncio.Event()
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self) -> str:
        """Serve the page and start consuming; returns the page's URL."""
        url = await self.server.start()
        await self.source.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._consume(), name="tickwire-dashboard-consume"),
            loop.create_task(self._clock(), name="tickwire-dashboard-clock"),
        ]
        return url

    async def wait(self) -> None:
        """Until the stream ends (re-raises its fatal error, if any)."""
        await self._done.wait()
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.server.aclose()
        await self.notifier.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ work

    async def _consume(self) -> None:
        state, engine, publish = self.state, self.engine, self.notifier.publish
        try:
            async for batch in self.source.batches():
                ticks = state.on_events(batch)
                if engine.rules and ticks:
                    for alert in engine.on_ticks(ticks):
                        publish(alert)
        except Exception as exc:
            self.error = exc
            log.error("the stream ended: %s", safe_text(str(exc)))
        finally:
            self._done.set()

    async def _clock(self) -> None:
        while True:
            await asyncio.sleep(self.clock_interval)
            now = self.clock()
            self.state.advance(now)
            for alert in self.engine.check(now):
                self.notifier.publish(alert)

    def _to_page(self, alert: Alert) -> None:
        self.state.add_alert(
            {
                "rule": alert.rule,
                "kind": alert.kind,
                "symbol": alert.symbol,
                "message": alert.message,
                "value": alert.value,
                "t": alert.at_ns // 1_000_000,
            }
        )

    def metrics(self) -> list[Metric]:
        """The Prometheus families of ``/metrics``: stream, connection and alerts."""
        m = self.source.metrics()
        p = self.state.panel
        return [
            Metric.single("tickwire_events_total", "counter", "Events received from the stream.", m.events),
            Metric.single("tickwire_frames_total", "counter", "Frames received from the stream.", m.frames),
            Metric.single("tickwire_bytes_total", "counter", "Bytes received from the stream.", m.bytes),
            Metric.single(
                "tickwire_lag_seconds",
                "gauge",
                "Now minus the newest event's time, on the stream's clock (the simulator's may run fast).",
                None if p.lag_seconds is None else max(0.0, p.lag_seconds),
            ),
            Metric.single("tickwire_connected", "gauge", "1 while streaming.", 1 if m.connected else 0),
            Metric.single(
                "tickwire_reconnects_total", "counter", "Reconnections (resumed streams).", p.reconnects
            ),
            Metric.single("tickwire_disconnects_total", "counter", "Disconnections.", m.disconnects),
            Metric.single("tickwire_gaps_total", "counter", "Gaps (reconnect windows) reported.", p.gaps),
            Metric.single(
                "tickwire_gap_seconds_total", "counter", "Seconds of stream lost in gaps.", p.gap_seconds
            ),
            Metric.single(
                "tickwire_dropped_total", "counter", "Events dropped by the bounded queue.", m.dropped
            ),
            Metric.single(
                "tickwire_decode_errors_total", "counter", "Frames that failed to decode.", m.decode_errors
            ),
            Metric.single("tickwire_queue_depth", "gauge", "Events waiting in the queue.", m.queue_depth),
            Metric.single(
                "tickwire_late_trades_total",
                "counter",
                "Trades too late for their candle.",
                self.state.aggregator.late,
            ),
            Metric.labelled(
                "tickwire_alerts_total", "counter", "Alerts fired, per rule.", "rule", dict(self.engine.fired)
            ),
            Metric.labelled(
                "tickwire_alerts_suppressed_total",
                "counter",
                "Alerts held back by the de-bounce, per rule.",
                "rule",
                dict(self.engine.suppressed),
            ),
            Metric.single(
                "tickwire_alert_sink_errors_total",
                "counter",
                "Alert deliveries that failed.",
                self.notifier.errors,
            ),
            Metric.single(
                "tickwire_alert_sink_dropped_total",
                "counter",
                "Alerts the sinks could not keep up with.",
                self.notifier.dropped,
            ),
        ]
