"""NATS JetStream: one subject per event type and symbol, a stream created if missing, de-duplicated.

Subjects are ``<prefix>.<namespace>.<type>.<symbol>`` (``md.massive.stocks.T.AAPL``,
``md.polymarket_us.markets.trade.btc-100k-2026``; characters NATS reserves in a token, ``.`` ``*``
``>`` and spaces, become ``_``), the payload is the event as tickwire encodes it (the wire JSON for
Massive), and ``Nats-Msg-Id`` is its content id, so JetStream drops a re-delivered event within the
stream's duplicate window. The stream (default ``<PREFIX>_<NAMESPACE>``: ``MD_MASSIVE_STOCKS``,
subjects ``<prefix>.<namespace>.>``) is created when missing. Publishing is pipelined
(``publish_async``) and a batch counts as written only once every message is acknowledged.

Read it back with :func:`consume_nats` (or ``tickwire consume nats``), from any machine.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from tickwire.events import Event
from tickwire.sinks.base import mask_url
from tickwire.tables import TableRegistry, event_decoder, event_id

__all__ = ["NatsJetStreamSink", "consume_nats", "default_stream", "subject_token"]

_ENC = msgspec.json.Encoder()
_BAD = re.compile(r"[.\s*>]")


def subject_token(text: str) -> str:
    return _BAD.sub("_", text) or "_"


def default_stream(prefix: str, namespace: str) -> str:
    """``("md", "massive.stocks")`` → ``MD_MASSIVE_STOCKS``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{prefix}_{namespace}").upper()


class NatsJetStreamSink:
    """Publishes every stored event to JetStream (see the module docstring for the subjects)."""

    def __init__(
        self,
        url: str,
        tables: TableRegistry,
        *,
        prefix: str = "md",
        stream: str | None = None,
        duplicate_window: float = 120.0,
        max_age: float | None = None,
    ) -> None:
        self.url = url
        self.tables = tables
        self.prefix = prefix
        self.stream = stream or default_stream(prefix, tables.namespace)
        self.duplicate_window = duplicate_window
        self.max_age = max_age
        self.name = f"nats:{mask_url(url)}"
        self._root = f"{prefix}.{tables.namespace}"
        self._nc: Any = None
        self._js: Any = None

    def subject(self, ev: Event) -> str:
        kind, symbol = self.tables.route(ev)
        return f"{self._root}.{subject_token(kind)}.{subject_token(symbol)}"

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
                    subjects=[f"{self._root}.>"],
                    duplicate_window=self.duplicate_window,
                    max_age=self.max_age,
                )
            )

    async def write(self, events: list[Event]) -> None:
        js = self._js
        stored = self.tables.table_for
        kinds: dict[type[Event], bool] = {}
        futures = []
        for ev in events:
            cls = type(ev)
            keep = kinds.get(cls)
            if keep is None:
                keep = kinds[cls] = stored(cls) is not None
            if keep:
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
    tables: TableRegistry,
    subject: str | None = None,
    *,
    prefix: str = "md",
    stream: str | None = None,
    deliver: str = "all",
) -> AsyncIterator[Event]:
    """Typed events from a JetStream stream written by :class:`NatsJetStreamSink` with the same
    ``tables`` (``Provider.tables(market)``), through an ephemeral ordered consumer: ``deliver``
    ``all`` from the start, or ``new`` from now. Payloads are read back into the registry's event
    classes (:func:`~tickwire.tables.event_decoder`); one that does not fit is a ``DecodeError``."""
    import nats
    from nats.js.api import DeliverPolicy

    decode = event_decoder(tables)
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        subj = subject or f"{prefix}.{tables.namespace}.>"
        policy = DeliverPolicy.ALL if deliver == "all" else DeliverPolicy.NEW
        sub = await js.subscribe(
            subj,
            stream=stream or default_stream(prefix, tables.namespace),
            ordered_consumer=True,
            deliver_policy=policy,
        )
        async for msg in sub.messages:
            yield decode(msg.data)
    finally:
        await nc.close()
