"""NATS JetStream: one subject per event type and symbol, several events per message, de-dup ids
and a durable watermark per journal in a key-value bucket.

Subjects are ``<prefix>.<namespace>.<type>.<symbol>`` (``md.massive.stocks.T.AAPL``,
``md.polymarket_us.markets.trade.btc-100k-2026``; characters NATS reserves in a token, ``.`` ``*``
``>`` and spaces, become ``_``). The stream (default ``<PREFIX>_<NAMESPACE>``: ``MD_MASSIVE_STOCKS``,
subjects ``<prefix>.<namespace>.>``) is created when missing. Read it back with :func:`consume_nats`
(or ``tickwire consume nats``), from any machine, or turn single messages back into events with
:func:`message_decoder` (what a gateway consuming the stream uses).

Message layout
--------------
JetStream's cost is per message (about 60-70 k messages/s on this machine, whatever their size), so
a batch is published as **one message per subject per chunk**: the batch's events grouped by
subject (journal order kept within a subject), cut into messages of at most ``max_events`` events
and at most the server's ``max_payload`` (``max_bytes`` when smaller). Each message has

* headers ``Nats-Msg-Id: <journal>:<first position>-<last position>`` (the journal positions of its
  first and last event: the same events always give the same id, two messages never share one) and,
  when the sink is fenced by an HA lease (``epoch=``), ``Tickwire-Epoch: <lease revision>``;
* the payload, JSON (:func:`encode_payload`, the one place that defines it): the events of one
  table as the normalized rows every sink writes (:mod:`tickwire.sinks.rows`: readable column
  names as in the SQL tables, ``ts`` in integer ns, decimals as strings), columnar, with one
  journal position per event (strictly increasing)::

      {"pos": [<position>, ...], "table": "stocks_trades",
       "columns": ["ev", "symbol", "price", ..., "ts"], "rows": [["T", "AAPL", 101.5, ..., 1700...], ...]}

  For a table whose rows cannot be rebuilt into typed events (``rows.invertible`` is false: the
  ``*_unknown`` tables, Polymarket's flattened books and private tables) the events go as tickwire
  encodes them instead, ``{"pos": [...], "table": "...", "events": [{...}, ...]}``, so every
  message reads back into typed events (:func:`message_decoder`).

Across subjects the messages of one batch come subject by subject: order is kept per subject, and
every event's position restores the journal order when it matters.

Exactly once
------------
Before publishing, the sink stores its *intent* (``"<watermark> <created> <end>"``) under key
``<stream>.<journal>`` of the KV bucket ``tickwire_watermarks`` (``bucket=``); the batch goes out as
a pipeline (:class:`~tickwire.sinks.nats_wire.NatsWire`: at most ``max_in_flight`` unacknowledged
messages, every ack counted); once *every* message is acknowledged it stores the watermark
(``"<end> <created>"``). A restarted sink resumes from the watermark, and when it finds an intent,
it publishes exactly that range first, chunked the same way, so every message has the id it had
before the crash and JetStream drops them as duplicates (within the stream's ``duplicate_window``,
default 10 minutes, set when the sink creates the stream; a shorter one of an existing stream is
logged). ``created`` is the stream's creation time: a stream deleted and created again (emptied)
is filled from the journal's start again. (A *purged* stream keeps its creation time: delete the
bucket's key too to re-publish.) Consumers add a second guard: :class:`StreamFilter` (used by
:func:`consume_nats`) drops an event whose position is not above the last one seen for its journal
and subject, so even a restart after the duplicate window, or a retry chunked differently (a batch
split to isolate a poison event), shows each event once.

Why a KV bucket and not a watermark subject in the event stream: the bucket is a stream of its own
(``KV_tickwire_watermarks``, one message per key kept), so consumers of ``<prefix>.<namespace>.>``
see only events, and the same bucket serves every stream and journal.

HA fencing: ``epoch`` is a callable returning the lease revision to stamp, called before every
batch; it raises (:class:`~tickwire.errors.NatsUnavailable`'s kin, not a data error) when this
process no longer holds the lease, so a stale leader publishes nothing more.

Errors: an event larger than the message limit is refused before anything is published
(:class:`~tickwire.sinks.base.DataRefused`, a data error), as is a message JetStream refuses for its
size; a server down, a lost connection or an ack that does not come raise
:class:`~tickwire.sinks.nats_wire.NatsUnavailable` within ``timeout`` (the runner backs off and
retries; no reconnect loop hides it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import typing
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from tickwire.events import DecodeError, Event
from tickwire.redact import escape_terminal
from tickwire.sinks.base import DataRefused, SinkBatch, mask_url, unwritten
from tickwire.sinks.nats_wire import NatsRefused, NatsUnavailable, NatsWire, headers
from tickwire.sinks.rows import event_from_row, invertible, rows_payload
from tickwire.tables import TableRegistry, TableSpec, tagged_decoder

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = [
    "EPOCH_HEADER",
    "WATERMARK_BUCKET",
    "NatsJetStreamSink",
    "NatsMessage",
    "StreamFilter",
    "consume_nats",
    "default_stream",
    "encode_payload",
    "message_decoder",
    "subject_token",
]

log = logging.getLogger("tickwire.sinks")

WATERMARK_BUCKET = "tickwire_watermarks"
"""The default KV bucket of the sinks' watermarks (key ``<stream>.<journal>``)."""
EPOCH_HEADER = "Tickwire-Epoch"
"""The header holding the HA lease revision a message was published under (absent: epoch 0)."""

_BAD = re.compile(r"[.\s*>]")
_KEY_BAD = re.compile(r"[^-/_=.a-zA-Z0-9]")
_STREAM_NOT_FOUND = 10059
_MSG_TOO_BIG = 10054  # JetStream: message size exceeds maximum allowed
_NS = 1_000_000_000


class _Events(msgspec.Struct):
    pos: Sequence[int]
    table: str
    events: Sequence[Any]


_ENC = msgspec.json.Encoder()


def encode_payload(spec: TableSpec | None, events: Sequence[Event], positions: Sequence[int]) -> bytes:
    """One message's payload (module doc): the events of one table as normalized rows, the block
    of :func:`tickwire.sinks.rows.rows_payload` with ``"pos"`` (their journal positions) put in
    front; the events as tickwire encodes them when the table's rows cannot be turned back into
    events (or there is no table)."""
    if spec is not None and invertible(spec):
        return b'{"pos":' + _ENC.encode(positions) + b"," + rows_payload(spec, events)[1:]
    return _ENC.encode(_Events(positions, spec.name if spec is not None else "", events))


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
        max_in_flight: int = 1024,
        max_events: int = 1000,
        max_bytes: int = 1 << 20,
        connect_timeout: float = 5.0,
        timeout: float = 10.0,
        epoch: Callable[[], int] | None = None,
        replicas: int = 1,
        hold: asyncio.Event | None = None,
        hold_timeout: float = 15.0,
    ) -> None:
        self.url = url
        self.tables = tables
        self.prefix = prefix
        self.stream = stream or default_stream(prefix, tables.namespace)
        self.duplicate_window = duplicate_window
        self.max_age = max_age
        self.bucket = bucket
        self.max_events = max(1, max_events)
        self.max_bytes = max_bytes
        self.epoch = epoch
        self.replicas = replicas
        self.hold = hold
        """When given, the first write waits (at most ``hold_timeout`` s) until it is set: an HA
        leader publishes its failover backfill before its live data."""
        self.hold_timeout = hold_timeout
        self.floors: dict[str, int] = {}
        """Per journal, a position the watermark is raised to (an HA leader publishes only what it
        journaled in its own term: what it journaled before is covered by the other leader)."""
        self.name = f"nats:{mask_url(url)}"
        self.published = 0
        """Events published (not messages): what :attr:`messages` carried."""
        self.messages = 0
        self.max_message = 0
        """The largest message (headers and payload) the server and stream take; set by ``open``."""
        self._root = f"{prefix}.{tables.namespace}"
        self._wire = NatsWire(
            url, connect_timeout=connect_timeout, timeout=timeout, max_in_flight=max_in_flight
        )
        self._subjects: dict[tuple[str, str], bytes] = {}
        self._created = ""
        self._marks: dict[str, int] = {}
        self._intents: dict[str, int] = {}

    def subject(self, ev: Event) -> str:
        kind, symbol = self.tables.route(ev)
        return f"{self._root}.{subject_token(kind)}.{subject_token(symbol)}"

    async def open(self) -> None:
        """Connect, create the stream and the watermark bucket when missing."""
        self._marks.clear()
        self._intents.clear()
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
                "than that after a crash between the acks and the watermark may publish one batch "
                "twice (consume_nats drops the repeats by position)",
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
                {
                    "name": name,
                    "retention": "limits",
                    "storage": "file",
                    "num_replicas": self.replicas,
                    **config,
                },
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
        return max(mark, self.floors.get(journal, 0))

    def _parse_mark(self, journal: str, raw: bytes | None) -> int:
        """A stored ``"<position> <stream created> [<intent end>]"``; 0 when it belongs to an earlier
        stream of the same name (deleted and created again: what it held is gone)."""
        if not raw:
            return 0
        pos, created, *intent = raw.decode().split(" ")
        if created and self._created and created != self._created:
            log.warning(
                "sink %s: stream %s was created again since journal %s was published to it: publishing "
                "it again from the start",
                self.name,
                self.stream,
                journal,
            )
            return 0
        if intent and int(intent[0]) > int(pos):
            self._intents[journal] = int(intent[0])
        return int(pos)

    async def write(self, batch: SinkBatch) -> None:
        """Publish the events from the watermark on, then store the watermark (module doc)."""
        mark = await self.watermark(batch.journal)
        if batch.end <= mark:
            return
        todo = unwritten(batch, mark)
        if self.hold is not None and not self.hold.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.hold_timeout):
                    await self.hold.wait()
        intent = self._intents.pop(batch.journal, None)
        if intent is not None and todo.start < intent < todo.end:  # re-publish what a crash cut short
            i = next((k for k, p in enumerate(todo.positions) if p >= intent), len(todo))
            first = SinkBatch(todo.journal, todo.start, intent, todo.events[:i], todo.positions[:i])
            await self._publish(first)
            todo = SinkBatch(todo.journal, intent, todo.end, todo.events[i:], todo.positions[i:])
        await self._publish(todo)

    async def _publish(self, part: SinkBatch) -> None:
        stamp = None if self.epoch is None else self.epoch()  # a fenced-off leader raises here
        messages = self._messages(part, stamp)
        key = self._key(part.journal)
        if messages:
            await self._wire.request(key, f"{part.start} {self._created} {part.end}".encode())
            await self._wire.publish_acked(messages)
        await self._wire.request(key, f"{part.end} {self._created}".encode())
        self._marks[part.journal] = part.end
        self.published += len(part)
        self.messages += len(messages)

    def _messages(self, batch: SinkBatch, epoch: int | None) -> list[tuple[bytes, bytes, bytes]]:
        """``(subject, headers, payload)`` of the stored events, grouped by subject and chunked;
        :class:`DataRefused` for one event over the limit (nothing of the batch is published then)."""
        stored = self.tables.table_for
        route = self.tables.route
        subjects = self._subjects
        specs: dict[type[Event], TableSpec | None] = {}
        groups: dict[tuple[bytes, type[Event]], tuple[list[Event], list[int]]] = {}  # a class hashes fast
        for ev, pos in zip(batch.events, batch.positions, strict=True):
            cls = type(ev)
            spec = specs[cls] if cls in specs else specs.setdefault(cls, stored(cls))
            if spec is None:
                continue
            where = route(ev)
            subject = subjects.get(where)
            if subject is None:
                subject = subjects[where] = (
                    f"{self._root}.{subject_token(where[0])}.{subject_token(where[1])}".encode()
                )
            group = groups.get((subject, cls))
            if group is None:
                group = groups[(subject, cls)] = ([], [])
            group[0].append(ev)
            group[1].append(pos)
        journal = batch.journal.encode()
        extra = () if epoch is None else ((EPOCH_HEADER.encode(), b"%d" % epoch),)
        limit = min(self.max_message or self._wire.max_payload, self.max_bytes)
        step = self.max_events
        out: list[tuple[bytes, bytes, bytes]] = []
        for (subject, cls), (evs, poss) in groups.items():
            spec = specs[cls]
            assert spec is not None
            for i in range(0, len(evs), step):
                self._chunk(out, subject, spec, journal, extra, limit, evs[i : i + step], poss[i : i + step])
        return out

    def _chunk(
        self,
        out: list[tuple[bytes, bytes, bytes]],
        subject: bytes,
        spec: TableSpec,
        journal: bytes,
        extra: tuple[tuple[bytes, bytes], ...],
        limit: int,
        evs: list[Event],
        poss: list[int],
    ) -> None:
        """One message of ``evs``, or halves of it while it is over ``limit`` (deterministic)."""
        payload = encode_payload(spec, evs, poss)
        hdr = headers((b"Nats-Msg-Id", b"%b:%d-%d" % (journal, poss[0], poss[-1])), *extra)
        if len(payload) + len(hdr) <= limit:
            out.append((subject, hdr, payload))
            return
        if len(evs) == 1:
            raise DataRefused(
                f"{subject.decode()[:120]}: an event of {len(payload):,} bytes is over the NATS "
                f"server's max_payload of {limit:,} bytes (headers included)"
            )
        half = len(evs) // 2
        self._chunk(out, subject, spec, journal, extra, limit, evs[:half], poss[:half])
        self._chunk(out, subject, spec, journal, extra, limit, evs[half:], poss[half:])

    async def publish_one(self, tail: str, msg_id: str, events: list[Event], positions: list[int]) -> None:
        """One message on ``<prefix>.<namespace>.<tail>`` with ``Nats-Msg-Id: msg_id`` (and the
        epoch): how an HA leader publishes its failover-gap event."""
        stamp = None if self.epoch is None else self.epoch()
        extra = () if stamp is None else ((EPOCH_HEADER.encode(), b"%d" % stamp),)
        hdr = headers((b"Nats-Msg-Id", msg_id.encode()), *extra)
        subject = f"{self._root}.{tail}".encode()
        await self._wire.publish_acked([(subject, hdr, encode_payload(None, events, positions))])

    async def stream_info(self) -> dict[str, Any]:
        """The stream's ``STREAM.INFO`` reply (``state.last_ts``: when the last message was stored)."""
        return await self._wire.api(f"STREAM.INFO.{self.stream}")

    async def last_message(self, subject: str) -> bytes | None:
        """The payload of the stream's last message on ``subject`` (None when there is none)."""
        return await self._wire.last_value(self.stream, subject)

    async def flush(self) -> None:
        """Nothing is buffered: a write returns once JetStream acknowledged it."""

    async def close(self) -> None:
        await self._wire.close()

    def is_data_error(self, exc: BaseException) -> bool:
        """An event over the size limit (found before publishing, or JetStream's own refusal of a
        message for its size) or one that cannot be encoded; a server down, a lost connection, a
        timeout, a lost HA lease or any other refusal (no stream, storage full) is not."""
        if isinstance(exc, (DataRefused, msgspec.EncodeError, OverflowError)):
            return True
        if isinstance(exc, NatsUnavailable):
            return False
        if isinstance(exc, NatsRefused):
            return exc.err_code == _MSG_TOO_BIG
        return False


# ---------------------------------------------------------------------------- reading back


class NatsMessage(msgspec.Struct, frozen=True):
    """One message read back: its subject, the journal and epoch it was published from, and its
    events with their journal positions (one :class:`~tickwire.events.DecodeError` and no position
    when the payload does not fit)."""

    subject: str
    journal: str
    epoch: int
    positions: list[int]
    events: list[Event]


def message_decoder(
    tables: TableRegistry, extra: Sequence[type[Event]] = ()
) -> Callable[[str, Mapping[str, str] | None, bytes], NatsMessage]:
    """``decode(subject, headers, payload)``: one message of a stream written by
    :class:`NatsJetStreamSink` with the same ``tables`` back into typed events (never raises);
    ``extra`` event classes are read too (:class:`tickwire.ha.FailoverGap` always is)."""
    from tickwire.ha.events import FailoverGap

    classes: tuple[type[Event], ...] = tuple(
        dict.fromkeys([*(spec.cls for spec in tables.tables()), FailoverGap, *extra])
    )
    tags = {cls.__struct_config__.tag_field for cls in classes}
    # one union when every class is tagged alike (the fast path); else each event read by its tag
    one: Any = typing.Union[classes] if len(tags) == 1 else msgspec.Raw  # noqa: UP007
    event_of = tagged_decoder(classes)
    shape = msgspec.defstruct(
        "_Read",
        [
            ("pos", list[int]),
            ("table", str, ""),
            ("columns", list[str] | None, None),
            ("rows", list[list[Any]] | None, None),
            ("events", list[one] | None, None),
        ],
    )
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(shape)
    by_name = {spec.name: spec for spec in tables.tables()}

    def events_of(got: Any) -> list[Event]:
        if got.rows is None:
            if one is msgspec.Raw:
                return [event_of(r) for r in got.events or []]
            return list(got.events or [])
        spec = by_name.get(got.table)
        if spec is None:
            raise ValueError(f"rows of an unknown table {got.table[:80]!r}")
        names = got.columns or []
        fast = _rows_to_events(spec, names, got.rows)
        if fast is not None:
            return fast
        return [event_from_row(spec, dict(zip(names, r, strict=True))) for r in got.rows]

    def decode(subject: str, hdrs: Mapping[str, str] | None, payload: bytes) -> NatsMessage:
        hdrs = hdrs or {}
        journal = hdrs.get("Nats-Msg-Id", "").rpartition(":")[0]
        raw_epoch = hdrs.get(EPOCH_HEADER, "0")
        epoch = int(raw_epoch) if raw_epoch.isdigit() else 0
        try:
            got = decoder.decode(payload)
            events = events_of(got)
            if len(got.pos) != len(events):
                raise ValueError(f"{len(got.pos)} positions for {len(events)} events")
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError) as exc:
            bad: Event = DecodeError(error=str(exc), data=bytes(payload))
            return NatsMessage(subject, journal, epoch, [], [bad])
        return NatsMessage(subject, journal, epoch, got.pos, events)

    return decode


def _rows_to_events(spec: TableSpec, columns: list[str], rows: list[list[Any]]) -> list[Event] | None:
    """The rows as typed events in one ``msgspec.convert`` (10x the per-row
    :func:`~tickwire.sinks.rows.event_from_row`); None when a column holds JSON text or a row does
    not convert (then the caller takes the per-row path, which handles both)."""
    keys = _encode_names(spec)
    if keys is None:
        return None
    index = [(i, keys[c]) for i, c in enumerate(columns) if c in keys]
    target: Any = list[spec.cls]  # type: ignore[name-defined]
    try:
        events: list[Event] = msgspec.convert(
            [{k: r[i] for i, k in index} for r in rows], target, strict=False
        )
    except (msgspec.ValidationError, IndexError):
        return None
    return events


@functools.cache
def _encode_names(spec: TableSpec) -> dict[str, str] | None:
    """Column name → the event field's encoded name, for the columns between ``ev`` and ``ts``;
    None when one of them is JSON text (nested values: the per-row path decodes them)."""
    cols = spec.columns[1:-1]
    if any(c.type == "json" or not isinstance(c.source, str) for c in cols):
        return None
    enc = {f.name: f.encode_name for f in msgspec.structs.fields(spec.cls)}
    return {c.name: enc[str(c.source)] for c in cols if str(c.source) in enc}


class StreamFilter:
    """What a consumer keeps of the messages it reads (the module doc's second guard and HA's
    fence): a message whose epoch is below the highest seen is dropped whole (a fenced-off
    leader's late output), and an event whose position is not above the last one kept for its
    journal and subject is dropped (a repeat). ``dropped`` counts both."""

    def __init__(self) -> None:
        self.epoch = 0
        self.dropped = 0
        self._last: dict[tuple[str, str], int] = {}

    def keep(self, msg: NatsMessage) -> list[Event]:
        if msg.epoch < self.epoch:
            self.dropped += len(msg.events)
            return []
        self.epoch = msg.epoch
        if not msg.positions:
            return msg.events
        key = (msg.journal, msg.subject)
        last = self._last.get(key, -1)
        if msg.positions[0] > last:
            self._last[key] = msg.positions[-1]
            return msg.events
        kept = [e for e, p in zip(msg.events, msg.positions, strict=True) if p > last]
        self.dropped += len(msg.events) - len(kept)
        self._last[key] = max(last, msg.positions[-1])
        return kept


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
    ``all`` from the start, or ``new`` from now. Messages are read back with
    :func:`message_decoder` (a payload that does not fit is a ``DecodeError``) and filtered by a
    :class:`StreamFilter` (no repeats, no events of a fenced-off HA leader).

    A server that is down or silent raises :class:`NatsUnavailable` within about
    ``connect_timeout``, and so does a connection lost while reading (no reconnect loop: nats-py's
    own, even with ``max_reconnect_attempts=0``, retries a dead server for ever, nats.py#645)."""
    from nats.js.api import DeliverPolicy

    decode = message_decoder(tables)
    keep = StreamFilter().keep
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
            for ev in keep(decode(msg.subject, msg.headers, msg.data)):
                yield ev
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
