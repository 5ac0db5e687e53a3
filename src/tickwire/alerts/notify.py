"""Where alerts go: the log (always), callbacks (terminal, page), and async sinks (webhook, NATS).

:meth:`AlertNotifier.publish` never blocks the stream: callbacks run inline (they must be
quick), async sinks are fed through a bounded queue drained by one task; an alert that does
not fit is counted in ``dropped`` and logged, a sink that fails is counted in ``errors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import msgspec

from tickwire.alerts.engine import Alert
from tickwire.credentials import redact
from tickwire.redact import safe_text

__all__ = ["AlertNotifier", "AlertSink", "NatsSink", "WebhookSink"]

log = logging.getLogger("tickwire.alerts")
_ENC = msgspec.json.Encoder()


class AlertSink(Protocol):
    """An asynchronous destination of alerts."""

    name: str

    async def send(self, alert: Alert) -> None: ...

    async def aclose(self) -> None: ...


class WebhookSink:
    """POST each alert as JSON to ``url`` (httpx); a non-2xx answer is an error."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        import httpx

        if not url.startswith(("http://", "https://")):
            raise ValueError("webhook url must start with http:// or https://")
        self.name = "webhook"
        self.url = url
        self._client = httpx.AsyncClient(timeout=timeout)

    async def send(self, alert: Alert) -> None:
        resp = await self._client.post(
            self.url, content=_ENC.encode(alert), headers={"content-type": "application/json"}
        )
        resp.raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()


class NatsSink:
    """Publish each alert as JSON on a NATS ``subject`` (core NATS; connected lazily)."""

    def __init__(self, url: str, subject: str = "tickwire.alerts") -> None:
        if not subject or " " in subject:
            raise ValueError(f"invalid NATS subject {subject!r}")
        self.name = "nats"
        self.url = url
        self.subject = subject
        self._nc: object | None = None

    async def send(self, alert: Alert) -> None:
        import nats

        if self._nc is None:
            self._nc = await nats.connect(
                self.url, connect_timeout=5, max_reconnect_attempts=3, reconnect_time_wait=0.5
            )
        await self._nc.publish(self.subject, _ENC.encode(alert))  # type: ignore[attr-defined]

    async def aclose(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.drain()  # type: ignore[attr-defined]


class AlertNotifier:
    """Log every alert, call the callbacks, and deliver to the async sinks in the background."""

    def __init__(
        self,
        callbacks: list[Callable[[Alert], None]] | None = None,
        sinks: list[AlertSink] | None = None,
        *,
        queue_size: int = 1000,
    ) -> None:
        self.callbacks = list(callbacks or [])
        self.sinks = list(sinks or [])
        self.published = 0
        self.delivered = 0
        self.dropped = 0
        self.errors = 0
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(queue_size)
        self._task: asyncio.Task[None] | None = None

    def publish(self, alert: Alert) -> None:
        """Record and dispatch one alert; never blocks."""
        self.published += 1
        # the message names a symbol from the network: escaped for the log (webhook/NATS get raw JSON)
        log.warning("ALERT %s: %s", safe_text(alert.rule), safe_text(alert.message))
        for fn in self.callbacks:
            try:
                fn(alert)
            except Exception:
                log.exception("alert callback %s failed", safe_text(repr(fn)))
        if not self.sinks:
            return
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error(
                "alert sinks are behind: dropped alert %s (%d dropped so far)",
                safe_text(alert.rule),
                self.dropped,
            )
            return
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._deliver(), name="tickwire-alert-sinks")

    async def _deliver(self) -> None:
        while True:
            alert = await self._queue.get()
            for sink in self.sinks:
                try:
                    await sink.send(alert)
                    self.delivered += 1
                except Exception as exc:
                    self.errors += 1
                    # a webhook URL may carry a token: never log it
                    log.error(
                        "alert sink %s failed: %s",
                        sink.name,
                        safe_text(redact(str(exc), getattr(sink, "url", None))),
                    )
            self._queue.task_done()

    async def drain(self, within: float = 5.0) -> None:
        """Wait until queued alerts have been handed to the sinks (at most ``within`` seconds)."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), within)

    async def aclose(self) -> None:
        """Deliver what is queued (briefly), then stop and close the sinks."""
        await self.drain(2.0)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sink in self.sinks:
            with contextlib.suppress(Exception):
                await sink.aclose()
