"""NATS JetStream: one subject per event type and symbol, ``Nats-Msg-Id`` from the journal position,
a durable watermark per journal in a key-value bucket.

Subjects are ``<prefix>.<namespace>.<type>.<symbol>`` (``md.massive.stocks.T.AAPL``,
``md.polymarket_us.markets.trade.btc-100k-2026``; characters NATS reserves in a token, ``.`` ``*``
``>`` and spaces, become ``_``), the payload is the event as tickwire encodes it (the wire JSON for
Massive). The stream (default ``<PREFIX>_<NAMESPACE>``: ``MD_MASSIVE_STOCKS``, subjects
``<prefix>.<namespace>.>``) is created when missing. Read it back with :func:`consume_nats` (or
``tickwire consume nats``), from any machine.

Exactly once
------------
Every message has ``Nats-Msg-Id: <journal>:<position>``: the same event always has the same id, and
two distinct events never share one (the old content hash merged genuinely repeated ticks). A batch
is published as a pipeline (:class:`~tickwire.sinks.nats_wire.NatsWire`: at most
``max_in_flight`` unacknowledged messages, every ack counted, nothing awaited one by one; not
nats-py's ``publish_async``, which reached under a quarter of its rate: numbers in that module); once
*every* message of the batch is acknowledged the sink stores the watermark ``batch.end`` under key
``<stream>.<journal>`` of the KV bucket ``tickwire_watermarks`` (``bucket=``), and a restarted sink
resumes from it, so a backfill days later publishes nothing twice. The value also holds the stream's
creation time: a stream deleted and created again (emptied) is filled from the journal's start
again instead of being skipped. (A *purged* stream keeps its creation time: delete the bucket's key
``<stream>.<journal>`` too, or the stream, to re-publish.)

Why a KV bucket and not a watermark subject in the event stream: the bucket is a stream of its own
(``KV_tickwire_watermarks``, one message per key kept), so consumers of ``<prefix>.<namespace>.>``
see only events, a stream the user created with their own subjects needs no extra subject, and the
same bucket serves every stream and journal (and the HA lease of issue 17 lives in KV too).

The residual window, honestly: the watermark is a second write after the acks, not one
transaction with them. A crash between the last ack and the watermark write leaves that batch
published but the watermark before it; the next run publishes it again, and JetStream drops every
message as a duplicate **if the restart comes within the stream's duplicate window**
(``duplicate_window``, default 10 minutes, set when the sink creates the stream; an existing stream
keeps its own and a shorter one is logged). A restart later than that duplicates at most that one
batch. Nothing is ever lost: the watermark is never ahead of what JetStream acknowledged. The cost
of the window is memory in the server: it keeps every message id of the window (about rate times
window ids: 6 M at 10 k events/s and 10 minutes), so a much longer window is not free.

Errors: an event larger than the server's ``max_payload`` (or the stream's ``max_msg_size``) is
refused before anything is published (:class:`~tickwire.sinks.base.DataRefused`, a data error),
as is a message JetStream refuses for its size; a server down, a lost connection or an ack that
does not come raise :class:`~tickwire.sinks.nats_wire.NatsUnavailable` within ``timeout`` (the
runner backs off and retries; no reconnect loop hides it).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import msgspec

from tickwire.events import Event
from tickwire.redact import escape_terminal
from tickwire.sinks.base import DataRefused, SinkBatch, mask_url, unwritten
from tickwire.sinks.nats_wire import NatsRefused, NatsUnavailable, NatsWire
from tickwire.tables import TableRegistry, event_decoder

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["WATERMARK_BUCKET", "NatsJetStreamSink", "consume_nats", "default_stream", "subject_token"]

log = logging.getLogger("tickwire.sinks")

WATERMARK_BUCKET = "tickwire_watermarks"
"""The default KV bucket of the sinks' watermarks (key ``<stream>.<journal>``)."""

_ENC = msgspec.json.Encoder()
_BAD = re.compile(r"[.\s*>]")
_KEY_BAD = re.compile(r"[^-/_=.a-zA-Z0-9]")
_STREAM_NOT_FOUND = 10059
_MSG_TOO_BIG = 10054  # JetStream: message size exceeds maximum allowed
_NS = 1_000_000_000
_HEADER_BYTES = 27  # len(b"NATS/1.0\r\nNats-Msg-Id: \r\n\r\n"): the headers around the id


def subject_token(text: str) -> str:
    return _BAD.sub("_", text) or "_"


def default_stream(prefix: str, namespace: str) -> str:
    """``("md", "massive.stocks")`` → ``MD_MASSIVE_STOCKS``."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{prefix}_{namespace}").upper()


class NatsJetStreamSink:
    """Publishes every stored event to JetStream (see the module docstring)."""

    def __init__(
        self,
        url: str,
        tables: TableRegistry,
        *,
        prefix: str = "md",
        stream: str | None = None,
        duplicate_window: float = 600.0,
        max_age: float | None = None,
        bucket: str = WATERMARK_BUCKET,
        max_in_flight: int = 4096,
        connect_timeout: float = 5.0,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.tables = tables
        self.prefix = prefix
        self.stream = stream or default_stream(prefix, tables.namespace)
        self.duplicate_window = duplicate_window
        self.max_age = max_age
        self.bucket = bucket
        self.name = f"nats:{mask_url(url)}"
        self.published = 0
        self.max_message = 0
        """The largest message (headers and payload) the server and stream take; set by ``open``."""
        self._root = f"{prefix}.{tables.namespace}"
        self._wire = NatsWire(
            url, connect_timeout=connect_timeout, timeout=timeout, max_in_flight=max_in_flight
        )
        self._subjects: dict[tuple[str, str], bytes] = {}
        self._created = ""
        self._marks: dict[str, int] = {}

    def subject(self, ev: Event) -> str:
        kind, symbol = self.tables.route(ev)
        return f"{self._root}.{subject_token(kind)}.{subject_token(symbol)}"

    async def open(self) -> None:
        """Connect, create the stream and the watermark bucket when missing."""
        self._marks.clear()
        wire = self._wire
        await wire.connect()
        info = await self._ensure_stream(
            self.stream,
            {
                "subjects": [f"{self._root}.>"],
                "duplicate_window": int(self.duplicate_window * _NS),
                "max_age": int((self.max_age or 0) * _NS),
            },
        )
        config = info.get("config", {})
        self._created = str(info.get("created", ""))
        window = config.get("duplicate_window", 0) / _NS
        if window < self.duplicate_window:
            log.warning(
                "sink %s: stream %s de-duplicates within %g s only (wanted %g s): a restart later "
                "than that after a crash between the acks and the watermark may duplicate one batch",
                self.name,
                self.stream,
                window,
                self.duplicate_window,
            )
        limit = int(config.get("max_msg_size", -1))
        self.max_message = min(wire.max_payload, limit) if limit > 0 else wire.max_payload
        await self._ensure_stream(
            f"KV_{self.bucket}",
            {
                "subjects": [f"$KV.{self.bucket}.>"],
                "max_msgs_per_subject": 1,
                "discard": "new",
                "allow_rollup_hdrs": True,
                "deny_delete": True,
                "allow_direct": True,
            },
        )

    async def _ensure_stream(self, name: str, config: dict[str, Any]) -> dict[str, Any]:
        """The stream's info (``config``, ``created``...), creating it with ``config`` when missing."""
        try:
            info = await self._wire.api(f"STREAM.INFO.{name}")
        except NatsRefused as exc:
            if exc.err_code != _STREAM_NOT_FOUND:
                raise
            info = await self._wire.api(
                f"STREAM.CREATE.{name}",
                {"name": name, "retention": "limits", "storage": "file", "num_replicas": 1, **config},
            )
        return info

    def _key(self, journal: str) -> str:
        return f"$KV.{self.bucket}." + _KEY_BAD.sub("_", f"{self.stream}.{journal}")

    async def watermark(self, journal: str) -> int:
        """The stored watermark (this sink's own last write when it made one)."""
        mark = self._marks.get(journal)
        if mark is None:
            raw = await self._wire.last_value(f"KV_{self.bucket}", self._key(journal))
            mark = self._marks[journal] = self._parse_mark(journal, raw)
        return mark

    def _parse_mark(self, journal: str, raw: bytes | None) -> int:
        """A stored ``"<position> <stream created>"``; 0 when it belongs to an earlier stream of the
        same name (deleted and created again: what it held is gone, so the journal is published again)."""
        if not raw:
            return 0
        pos, _, created = raw.decode().partition(" ")
        if created and self._created and created != self._created:
            log.warning(
                "sink %s: stream %s was created again since journal %s was published to it: publishing "
                "it again from the start",
                self.name,
                self.stream,
                journal,
            )
            return 0
        return int(pos)

    async def write(self, batch: SinkBatch) -> None:
        """Publish the events from the watermark on, then store the watermark (module doc)."""
        mark = await self.watermark(batch.journal)
        if batch.end <= mark:
            return
        todo = unwritten(batch, mark)
        messages = self._messages(todo)
        if messages:
            await self._wire.publish_acked(messages)
        await self._wire.request(self._key(batch.journal), f"{todo.end} {self._created}".encode())
        self._marks[batch.journal] = todo.end
        self.published += len(messages)

    def _messages(self, batch: SinkBatch) -> list[tuple[bytes, bytes, bytes]]:
        """``(subject, Nats-Msg-Id, payload)`` of the stored events; :class:`DataRefused` for one
        over :attr:`max_message` (nothing of the batch is published then)."""
        stored = self.tables.table_for
        route = self.tables.route
        subjects = self._subjects
        kinds: dict[type[Event], bool] = {}
        journal = batch.journal.encode()
        limit = self.max_message or self._wire.max_payload
        out: list[tuple[bytes, bytes, bytes]] = []
        for ev, pos in zip(batch.events, batch.positions, strict=True):
            cls = type(ev)
            keep = kinds.get(cls)
            if keep is None:
                keep = kinds[cls] = stored(cls) is not None
            if not keep:
                continue
            where = route(ev)
            subject = subjects.get(where)
            if subject is None:
                subject = subjects[where] = (
                    f"{self._root}.{subject_token(where[0])}.{subject_token(where[1])}".encode()
                )
            payload = _ENC.encode(ev)
            mid = b"%b:%d" % (journal, pos)
            if len(payload) + len(mid) + _HEADER_BYTES > limit:
                raise DataRefused(
                    f"{subject.decode()[:120]}: an event of {len(payload):,} bytes is over the NATS "
                    f"server's max_payload of {limit:,} bytes (headers included)"
                )
            out.append((subject, mid, payload))
        return out

    async def flush(self) -> None:
        """Nothing is buffered: a write returns once JetStream acknowledged it."""

    async def close(self) -> None:
        await self._wire.close()

    def is_data_error(self, exc: BaseException) -> bool:
        """An event over the size limit (found before publishing, or JetStream's own refusal of a
        message for its size) or one that cannot be encoded; a server down, a lost connection, a
        timeout or any other refusal (no stream, storage full) is not."""
        if isinstance(exc, (DataRefused, msgspec.EncodeError, OverflowError)):
            return True
        if isinstance(exc, NatsUnavailable):
            return False
        if isinstance(exc, NatsRefused):
            return exc.err_code == _MSG_TOO_BIG
        return False


async def consume_nats(
    url: str,
    tables: TableRegistry,
    subject: str | None = None,
    *,
    prefix: str = "md",
    stream: str | None = None,
    deliver: str = "all",
    connect_timeout: float = 5.0,
) -> AsyncIterator[Event]:
    """Typed events from a JetStream stream written by :class:`NatsJetStreamSink` with the same
    ``tables`` (``Provider.tables(market)``), through an ephemeral ordered consumer: ``deliver``
    ``all`` from the start, or ``new`` from now. Payloads are read back into the registry's event
    classes (:func:`~tickwire.tables.event_decoder`); one that does not fit is a ``DecodeError``.

    A server that is down or silent raises :class:`NatsUnavailable` within about
    ``connect_timeout``, and so does a connection lost while reading (no reconnect loop: nats-py's
    own, even with ``max_reconnect_attempts=0``, retries a dead server for ever, nats.py#645)."""
    from nats.js.api import DeliverPolicy

    decode = event_decoder(tables)
    nc = await _connect_nats_py(url, connect_timeout)
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
        if nc.is_closed:  # the iteration ends quietly when the connection is lost
            why = type(nc.last_error).__name__ if nc.last_error is not None else "closed"
            raise NatsUnavailable(f"the connection to NATS {mask_url(url)} was lost ({why})")
    finally:
        await nc.close()


async def _quiet(_exc: Exception) -> None:
    """nats-py's default error callback logs a traceback per failed attempt; the caller gets the error."""


async def _connect_nats_py(url: str, connect_timeout: float) -> Client:
    """A nats-py connection that fails fast: one server list pass (each server at most twice),
    every attempt bounded by ``connect_timeout``; :class:`NatsUnavailable` (masked) when none answers."""
    import nats
    from nats.errors import Error as NatsPyError

    servers = [u.strip() for u in url.split(",") if u.strip()]
    try:
        async with asyncio.timeout(2 * len(servers) * connect_timeout + 1):
            return await nats.connect(
                servers,
                allow_reconnect=False,
                max_reconnect_attempts=1,  # 0 means "for ever" to nats-py's initial connect
                reconnect_time_wait=0.05,
                connect_timeout=connect_timeout,
                error_cb=_quiet,
            )
    except (OSError, TimeoutError, NatsPyError) as exc:
        what = escape_terminal(mask_url(str(exc)))
        detail = f"{type(exc).__name__}: {what}" if what else type(exc).__name__
        raise NatsUnavailable(f"NATS {mask_url(url)} is not reachable ({detail})") from None
