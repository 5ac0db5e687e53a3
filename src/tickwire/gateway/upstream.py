"""Where the gateway's events come from: the :class:`Upstream` interface, and a Massive stream behind it.

The gateway needs four things of an upstream: start/close, ``subscribe``/``unsubscribe`` with the
reduced union of its clients' channels, and an async iterator of event batches (typed market data
events, whose msgspec field names are the wire keys, plus the control events
:class:`~tickwire.events.Connected`, :class:`~tickwire.events.Disconnected`,
:class:`~tickwire.events.Status`, :class:`~tickwire.events.SubscriptionRejected`...).
:class:`MassiveUpstream` is one connection to a Massive-protocol server (the real one, another
gateway, the simulator) through the tickwire client, so reconnects, resubscription and statuses
are the engine's, not a second loop. :class:`~tickwire.gateway.nats_upstream.NatsUpstream` (the
stream an HA recorder publishes) fits the same interface: ``batches`` yields the decoded events of
its JetStream messages and ``subscribe`` narrows the consumer's subjects
(``md.massive.<market>.<ev>.<ticker>``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol, runtime_checkable

from tickwire.credentials import Secret
from tickwire.events import Event
from tickwire.massive.client import AsyncStreamClient
from tickwire.massive.enums import Market, parse_market

__all__ = ["MassiveUpstream", "Upstream"]


@runtime_checkable
class Upstream(Protocol):
    """One source of events for a gateway."""

    @property
    def market(self) -> Market: ...

    @property
    def connected(self) -> bool:
        """Whether events are flowing now (authenticated and streaming)."""
        ...

    @property
    def description(self) -> str:
        """Where the events come from, safe to print (no key, no query string)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def subscribe(self, channels: Iterable[str]) -> None:
        """Add channels (already validated and normalised) to what is received; sent now if connected."""
        ...

    def unsubscribe(self, channels: Iterable[str]) -> None: ...

    def batches(self) -> AsyncIterator[list[Event]]:
        """Event batches (one per received frame, plus control events) until closed; a fatal error raises."""
        ...

    def stats(self) -> dict[str, float]:
        """Counters for ``/metrics``: ``events``, ``frames``, ``reconnects``, ``disconnects``..."""
        ...


class MassiveUpstream:
    """A Massive-protocol stream (``ws[s]://host/<market>``) as a gateway's upstream.

    :param url: the stream URL (``/<market>`` is appended to a URL without a path).
    :param api_key: the vendor key (a loopback simulator takes any value).
    :param options: further :class:`~tickwire.massive.client.AsyncStreamClient` options
        (``backoff``, ``ping_interval``, ``queue_size``...).
    """

    def __init__(
        self, url: str, api_key: str | Secret, market: Market | str = "stocks", **options: Any
    ) -> None:
        self._market = parse_market(market)
        settings: dict[str, Any] = {"queue_size": 100_000, "stale_timeout": None, "dotenv_path": None}
        settings.update(options)
        self.client = AsyncStreamClient(api_key, self._market, url=url, **settings)

    @property
    def market(self) -> Market:
        return self._market

    @property
    def connected(self) -> bool:
        return self.client.driver.connected and self.client.session.streaming

    @property
    def description(self) -> str:
        return self.client.safe_url or "(not connected yet)"

    async def start(self) -> None:
        await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    def subscribe(self, channels: Iterable[str]) -> None:
        chans = list(channels)
        if chans:
            self.client.session.subscribe(*chans, uppercase=False)
            self.client.flush()

    def unsubscribe(self, channels: Iterable[str]) -> None:
        chans = list(channels)
        if chans:
            self.client.session.unsubscribe(*chans, uppercase=False)
            self.client.flush()

    def batches(self) -> AsyncIterator[list[Event]]:
        return self.client.batches()

    def stats(self) -> dict[str, float]:
        m = self.client.metrics()
        return {
            "events": m.events,
            "frames": m.frames,
            "bytes": m.bytes,
            "reconnects": m.reconnects,
            "disconnects": m.disconnects,
            "queue_depth": m.queue_depth,
            "decode_errors": m.decode_errors,
        }

    def __repr__(self) -> str:
        return f"MassiveUpstream({self.description!r}, market={self._market.value!r})"
