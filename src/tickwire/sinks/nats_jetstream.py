"""NATS JetStream: one subject per channel and symbol, a stream created if missing, de-duplicated.

Subjects are ``<prefix>.<market>.<ev>.<symbol>`` (``md.massive.stocks.T.AAPL``; characters NATS
reserves in a token, ``.`` ``*`` ``>`` and spaces, become ``_``), the payload is the event as wire
JSON, and ``Nats-Msg-Id`` is its content id, so JetStream drops a re-delivered event within the
stream's duplicate window. The stream (default ``MD_MASSIVE_<MARKET>``, subjects
``<prefix>.<market>.>``) is created when missing. Publishing is pipelined (``publish_async``) and
a batch counts as written only once every message is acknowledged.

Read it back with :func:`consume_nats` (or ``tickwire consume nats``), from any machine.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from tickwire.events import Event
from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.models import MassiveEvent
from tickwire.sinks.base import mask_url
from tickwire.sinks.redis_streams import symbol_of
from tickwire.sinks.schema import event_id

__all__ = ["NatsJetStreamSink", "consume_nats", "subject_token"]

_ENC = msgspec.json.Encoder()
_BAD = re.compile(r"[.\s*>]")


def subject_token(text: str) -> str:
    return _BAD.sub("_", text) or "_"


def default_stream(prefix: str, market: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{prefix}_{market}").upper()


class NatsJetStreamSink:
    def __init__(
        self,
        url: str,
        market: str,
        *,
        prefix: str = "md.massive",
        stream: str | None = None,
        duplicate_window: float = 120.0,
        max_age: float | None = None,
    ) -> None:
        self.url = url
        self.market = market
        self.prefix = prefix
        self.stream = stream or default_stream(prefix, market)
        self.duplicate_window = duplicate_window
        self.max_age = max_age
        self.name = f"nats:{mask_url(url)}"
        self._nc: Any = None
        self._js: Any = None

    def subject(self, ev: Event) -> str:
        return f"{self.prefix}.{self.market}.{ev.event_type}.{subject_token(symbol_of(ev))}"

    async def open(self) -> None:
        import nats
        from nats.js.api import StreamConfig
        from nats.js.errors import NotFoundError

        self._nc = await nats.connect(self.url, allow_reconnect=True, max_reconnect_attempts=-1)
        self._js = self._nc.jetstream()
        try:
            await self._js.stream_info(self.stream)
        except NotFoundError:
            await self._js.add_stream(
                StreamConfig(
                    name=self.stream,
                    subjects=[f"{self.prefix}.{self.market}.>"],
                    duplicate_window=self.duplicate_window,
                    max_age=self.max_age,
                )
            )

    async def write(self, events: list[Event]) -> None:
        js = self._js
        futures = []
        for ev in events:
            if isinstance(ev, MassiveEvent):
                fut = await js.publish_async(
                    self.subject(ev), _ENC.encode(ev), headers={"Nats-Msg-Id": event_id(ev)}, wait_stall=30.0
                )
                futures.append(fut)
        if futures:
            await asyncio.wait_for(asyncio.gather(*futures), 60.0)

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None:
            await nc.drain()


async def consume_nats(
    url: str,
    market: str = "stocks",
    subject: str | None = None,
    *,
    prefix: str = "md.massive",
    stream: str | None = None,
    deliver: str = "all",
) -> AsyncIterator[Event]:
    """Typed events from a JetStream stream written by :class:`NatsJetStreamSink` (an ephemeral
    ordered consumer: ``deliver`` ``all`` from the start, or ``new`` from now)."""
    import nats
    from nats.js.api import DeliverPolicy

    decoder = MassiveDecoder(market)
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        subj = subject or f"{prefix}.{market}.>"
        policy = DeliverPolicy.ALL if deliver == "all" else DeliverPolicy.NEW
        sub = await js.subscribe(
            subj,
            stream=stream or default_stream(prefix, market),
            ordered_consumer=True,
            deliver_policy=policy,
        )
        async for msg in sub.messages:
            for ev in decoder.decode(b"[" + msg.data + b"]"):
                yield ev
    finally:
        await nc.close()
