"""The stream an HA recorder publishes, as a gateway's upstream: ``tickwire gateway --upstream nats://...``.

Any number of gateways, on any hosts, serve the one upstream connection the HA lease holder has
(``tickwire record --ha ... --provider massive``): each reads the JetStream stream that recorder's
:class:`~tickwire.sinks.nats_jetstream.NatsJetStreamSink` fills (``<prefix>.massive.<market>.<ev>.<symbol>``,
stream ``MD_MASSIVE_<MARKET>``) and turns its messages back into the typed Massive events
(:func:`~tickwire.sinks.nats_jetstream.message_decoder`), so the gateway routes and encodes them
exactly as it does a websocket upstream's.

Theory of operation
-------------------
Live, like the vendor: a channel's data flows from the moment it is subscribed. There are two
ephemeral ordered push consumers: one on ``<prefix>.<namespace>.failover._`` (the HA leader's
:class:`~tickwire.ha.events.FailoverGap`, passed to every client as the status
``{"ev":"status","status":"failover_gap","message":...}``) and one for the data, whose filter is the
union of the subscribed channels (``T.AAPL`` → ``....T.AAPL``, ``T.*`` → ``....T.*``; forex and
crypto spell a ticker several ways, so an exact channel there filters on its prefix). nats-server
2.10+ takes the list (``filter_subjects``); 2.9 takes one subject, so the filter is the narrowest
one that covers the union (``....T.*``, or ``....*.*`` across prefixes) and each message's subject
is checked here before it is decoded.

A change of the union recreates the data consumer between two batches. Nothing is lost or
repeated across it: the new consumer starts after the last stream sequence taken (``last``; moved
up to what the old consumer had examined when every message it delivered was taken, so a rarely
traded subject does not make it start far back), and a message at or before the stream head at
the change (``cut``) is kept only when the previous union wanted it too: a channel just added
starts at the head, a channel kept continues where it was. A NATS reconnect recreates both
consumers after ``last`` the same way (the reconnected server may have lost them), so a
restart or a failover of the NATS servers loses nothing of what the stream holds. The connection
yields :class:`~tickwire.events.Disconnected` when it drops and :class:`~tickwire.events.Connected`
once the consumers are back, so the gateway's statuses and ``/metrics`` follow it.

Stale leaders: a message whose ``Tickwire-Epoch`` is below an epoch of which a message was stored
before it (a frozen leader's late output) is skipped and counted (``stale_skipped``). JetStream
already drops repeats by ``Nats-Msg-Id``; nothing else is de-duplicated here.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tickwire.errors import ConfigError, NatsUnavailable
from tickwire.events import Connected, DecodeError, Disconnected, Event, Status
from tickwire.gateway.routing import WILDCARD, split
from tickwire.gateway.session import key_for
from tickwire.ha.events import FailoverGap
from tickwire.massive.enums import Market, parse_market
from tickwire.massive.tables import massive_tables
from tickwire.redact import escape_terminal, mask_secrets
from tickwire.sinks.nats_jetstream import EPOCH_HEADER, default_stream, message_decoder, subject_token

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

__all__ = ["FAILOVER_STATUS", "NatsUpstream"]

log = logging.getLogger("tickwire.gateway")

FAILOVER_STATUS = "failover_gap"
"""The status clients get for an HA failover (its message says where the stream has no live data)."""
MAX_FILTERS = 256
"""At most this many ``filter_subjects`` (nats-server 2.10+); a larger union filters on one subject."""


@dataclass(frozen=True, slots=True)
class _Want:
    """Channels as the subjects' ``(type, symbol)`` tokens: prefixes held whole, exact ``(type, key)``."""

    wild: frozenset[str] = frozenset()
    exact: frozenset[tuple[str, str]] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.wild or self.exact)

    def accepts(self, prefix: str, key: str) -> bool:
        return prefix in self.wild or (prefix, key) in self.exact

    def overlaps(self, other: _Want) -> bool:
        """Whether a subject is wanted by both."""
        if self.wild & other.wild or self.exact & other.exact:
            return True
        return any(p in other.wild for p, _ in self.exact) or any(p in self.wild for p, _ in other.exact)


@dataclass(eq=False)
class _Feed:
    """One ordered consumer and where it is in the stream."""

    name: str
    want: _Want = field(default_factory=_Want)
    subjects: list[str] = field(default_factory=list)
    sub: Any = None  # nats.js.client.JetStreamContext.PushSubscription
    gen: int = 0
    """Bumped when the consumer is dropped: queued messages of an older one are ignored."""
    started: bool = False
    broken: bool = True
    """To be (re)created: never made yet, or the connection dropped."""
    last: int = 0
    """The stream sequence of the last message taken."""
    cseq: int = 0
    """Its consumer sequence (every delivered message taken when it equals the consumer's)."""
    consumer: str | None = None
    """The consumer's name when made (nats-py renames it when it recreates it after a gap)."""
    cuts: list[tuple[int, _Want]] = field(default_factory=list)
    """``(head, wanted)``: a message at or before ``head`` is kept only if ``wanted`` accepts it."""


_WAKE = object()


async def _quiet(_exc: Exception) -> None:
    """nats-py logs a traceback per failed attempt; the state is reported as events instead."""


class NatsUpstream:
    """The JetStream stream of an HA recorder (provider ``massive``) as a gateway's upstream.

    :param url: the NATS servers, ``nats://a:4222,nats://b:4222`` (the ones of ``record --ha``).
    :param market: the Massive market the recorder records (``stocks``, ``crypto``...).
    :param prefix: the subject prefix (``record --ha-prefix``).
    :param stream: the stream name (default: the recorder's, ``MD_MASSIVE_<MARKET>`` for ``md``).
    :param connect_timeout: seconds per connection attempt; :meth:`start` fails after a few.
    :param timeout: seconds a JetStream request (consumer create, stream info) may take.
    :param reconnect_wait: seconds between reconnect attempts (for ever) once connected.
    :param heartbeat: the consumers' idle heartbeat (nats-py recreates one whose beats stop).
    :param queue_size: messages buffered before the consumers are held back (flow control).
    :param max_batch: messages decoded into one batch at most.
    """

    def __init__(
        self,
        url: str,
        market: Market | str = "stocks",
        *,
        prefix: str = "md",
        stream: str | None = None,
        connect_timeout: float = 3.0,
        timeout: float = 3.0,
        reconnect_wait: float = 0.5,
        heartbeat: float = 2.0,
        queue_size: int = 10_000,
        max_batch: int = 1000,
    ) -> None:
        self._servers = [u.strip() for u in url.split(",") if u.strip()]
        if not self._servers:
            raise ConfigError("no NATS server given")
        if not prefix or any(c in prefix for c in " *>") or prefix.startswith(".") or prefix.endswith("."):
            raise ConfigError(f"invalid subject prefix {escape_terminal(prefix[:80])!r}")
        self._market = parse_market(market)
        self.tables = massive_tables(self._market)
        self.root = f"{prefix}.{self.tables.namespace}"
        self.stream = stream or default_stream(prefix, self.tables.namespace)
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.reconnect_wait = reconnect_wait
        self.heartbeat = heartbeat
        self.max_batch = max(1, max_batch)
        self._url = mask_secrets(",".join(self._servers))
        self._key = key_for(self._market)
        self._fold = self._market.base in ("forex", "crypto")
        self._decode = message_decoder(self.tables)
        self._queue: asyncio.Queue[Any] = asyncio.Queue(max(1, queue_size))
        self._out: list[Event] = []
        self._channels: set[str] = set()
        self._data = _Feed("data")
        self._gaps = _Feed("failover", want=_Want(exact=frozenset({("failover", "_")})))
        self._gap_subject = f"{self.root}.failover._"
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._multi = False
        self._up = False
        self._closed = False
        self._dirty = False
        self._retry_at = 0.0
        self._retry = 0.1
        self._epoch_first: dict[int, int] = {}  # epoch → the lowest stream sequence seen with it
        self._top = 0
        self._connects = 0
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "events",
                "messages",
                "bytes",
                "filtered",
                "stale_skipped",
                "decode_errors",
                "failover_gaps",
                "reconnects",
                "disconnects",
                "consumers",
            ),
            0,
        )

    # ------------------------------------------------------------------ the Upstream interface

    @property
    def market(self) -> Market:
        return self._market

    @property
    def connected(self) -> bool:
        nc = self._nc
        return self._up and nc is not None and nc.is_connected

    @property
    def description(self) -> str:
        return f"{self._url} stream {self.stream}"

    @property
    def filter_subjects(self) -> list[str]:
        """The data consumer's filter now (empty: no consumer, nothing is subscribed)."""
        return list(self._data.subjects) if self._data.sub is not None else []

    @property
    def last_sequence(self) -> int:
        """The stream sequence of the last data message taken."""
        return self._data.last

    async def start(self) -> None:
        """Connect (a few attempts; :class:`~tickwire.errors.NatsUnavailable` when none answers) and
        check the stream exists (:class:`~tickwire.errors.ConfigError` when not)."""
        if self._nc is not None:
            return
        from nats.aio.client import Client as NATS
        from nats.errors import Error as NatsPyError
        from nats.js.errors import NotFoundError

        nc = NATS()
        options: dict[str, Any] = {  # seconds as floats (nats-py annotates them int)
            "reconnect_time_wait": self.reconnect_wait,
            "connect_timeout": self.connect_timeout,
        }
        try:
            async with asyncio.timeout(2 * len(self._servers) * self.connect_timeout + 1):
                await nc.connect(
                    self._servers,
                    allow_reconnect=True,
                    max_reconnect_attempts=1,  # the first connect: each server twice at most
                    error_cb=_quiet,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    **options,
                )
            nc.options["max_reconnect_attempts"] = -1  # once connected: reconnect for ever
            js = nc.jetstream(timeout=self.timeout)
            await js.stream_info(self.stream)
        except NotFoundError:
            await nc.close()
            raise ConfigError(
                f"NATS {self._url} has no stream {self.stream}: is an HA recorder "
                "(tickwire record --ha ... --provider massive) publishing there, with this prefix?"
            ) from None
        except (OSError, TimeoutError, NatsPyError) as exc:
            with contextlib.suppress(Exception):
                await nc.close()
            detail = escape_terminal(mask_secrets(str(exc)))[:200]
            raise NatsUnavailable(
                f"NATS {self._url} is not reachable ({type(exc).__name__}{': ' + detail if detail else ''})"
            ) from None
        version = nc.connected_server_version
        self._multi = (version.major, version.minor) >= (2, 10)
        self._nc, self._js = nc, js
        self._dirty = True
        self._poke()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._up = False
        self._poke()
        for feed in (self._data, self._gaps):
            await self._drop(feed)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()

    def subscribe(self, channels: Iterable[str]) -> None:
        self._change(self._channels.union(channels))

    def unsubscribe(self, channels: Iterable[str]) -> None:
        self._change(self._channels.difference(channels))

    def _change(self, channels: set[str]) -> None:
        if channels != self._channels:
            self._channels = channels
            self._dirty = True
            self._poke()

    async def batches(self) -> AsyncIterator[list[Event]]:
        loop = asyncio.get_running_loop()
        queue = self._queue
        while not self._closed:
            nc = self._nc
            if self._dirty and nc is not None and nc.is_connected and loop.time() >= self._retry_at:
                await self._sync()
            if self._out:
                out, self._out = self._out, []
                yield out
                continue
            item = await queue.get()
            out = []
            self._take(item, out)
            for _ in range(self.max_batch - 1):
                if queue.empty():
                    break
                self._take(queue.get_nowait(), out)
            if out:
                yield out

    def stats(self) -> dict[str, float]:
        return {**{k: float(v) for k, v in self.counts.items()}, "queue_depth": float(self._queue.qsize())}

    def __repr__(self) -> str:
        return f"NatsUpstream({self.description!r}, market={self._market.value!r})"

    # ------------------------------------------------------------------ messages

    def _poke(self) -> None:
        if self._queue.empty():
            self._queue.put_nowait(_WAKE)

    def _take(self, item: Any, out: list[Event]) -> None:
        if type(item) is tuple:
            feed, gen, msg = item
            self._message(feed, gen, msg, out)
        elif isinstance(item, Event):
            out.append(item)

    def _message(self, feed: _Feed, gen: int, msg: Msg, out: list[Event]) -> None:
        if gen != feed.gen:
            return  # a dropped consumer's: the next one delivers it again when it is wanted
        meta = msg.metadata
        seq = meta.sequence.stream
        if seq <= feed.last:
            return  # already taken (nats-py recreated its consumer from an earlier sequence)
        feed.last, feed.cseq = seq, meta.sequence.consumer
        counts = self.counts
        counts["messages"] += 1
        counts["bytes"] += len(msg.data)
        hdrs = msg.headers
        raw = hdrs.get(EPOCH_HEADER) if hdrs else None
        if self._stale(int(raw) if raw and raw.isdigit() else 0, seq):
            counts["stale_skipped"] += 1
            return
        if feed is self._data and not self._wanted(feed, msg.subject, seq):
            counts["filtered"] += 1
            return
        decoded = self._decode(msg.subject, hdrs, msg.data)
        for ev in decoded.events:
            if isinstance(ev, FailoverGap):
                counts["failover_gaps"] += 1
                out.append(_gap_status(ev))
            elif isinstance(ev, DecodeError):
                counts["decode_errors"] += 1
                log.warning("gateway: a message on %s does not decode", escape_terminal(msg.subject[:200]))
            else:
                counts["events"] += 1
                out.append(ev)

    def _wanted(self, feed: _Feed, subject: str, seq: int) -> bool:
        prefix, _, symbol = subject[len(self.root) + 1 :].partition(".")
        key = self._key(symbol)
        if not feed.want.accepts(prefix, key):
            return False
        if feed.cuts:
            feed.cuts = [c for c in feed.cuts if seq <= c[0]]
            return all(want.accepts(prefix, key) for _, want in feed.cuts)
        return True

    def _stale(self, epoch: int, seq: int) -> bool:
        """Whether a message of a newer epoch was stored before this one (HA fencing, module doc)."""
        first = self._epoch_first
        if epoch < self._top and any(s < seq for e, s in first.items() if e > epoch):
            return True
        self._top = max(self._top, epoch)
        if seq < first.get(epoch, seq + 1):
            first[epoch] = seq
        return False

    # ------------------------------------------------------------------ consumers

    def _target(self) -> _Want:
        wild: set[str] = set()
        exact: set[tuple[str, str]] = set()
        for channel in self._channels:
            prefix, ticker = split(channel)
            if ticker == WILDCARD:
                wild.add(prefix)
            else:
                exact.add((prefix, self._key(subject_token(ticker))))
        return _Want(frozenset(wild), frozenset((p, k) for p, k in exact if p not in wild))

    def _filters(self, want: _Want) -> list[str]:
        """The data consumer's filter subjects: exact ones on 2.10+, else one covering them all."""
        root = self.root
        exact = {f"{root}.{p}.*" if self._fold else f"{root}.{p}.{k}" for p, k in want.exact}
        subjects = sorted({f"{root}.{p}.*" for p in want.wild} | exact)
        if len(subjects) == 1 or (self._multi and len(subjects) <= MAX_FILTERS):
            return subjects
        prefixes = want.wild | {p for p, _ in want.exact}
        return [f"{root}.{next(iter(prefixes))}.*" if len(prefixes) == 1 else f"{root}.*.*"]

    async def _sync(self) -> None:
        """Make both consumers match what is wanted; on a failure, try again a bit later."""
        from nats.errors import Error as NatsPyError

        self._dirty = False
        try:
            await self._sync_feed(self._gaps, self._gaps.want)
            await self._sync_feed(self._data, self._target())
        except (NatsPyError, OSError, TimeoutError) as exc:
            if self._closed:
                return
            self._dirty = True
            self._retry_at = asyncio.get_running_loop().time() + self._retry
            asyncio.get_running_loop().call_later(self._retry, self._poke)
            self._retry = min(2 * self._retry, 2.0)
            log.warning("gateway: cannot create the JetStream consumers yet (%s)", type(exc).__name__)
            return
        self._retry = 0.1
        if not self._up:
            self._up = True
            self._connects += 1
            self._out.append(Connected(url=self.description, epoch=self._connects, at=time.time()))

    async def _sync_feed(self, feed: _Feed, want: _Want) -> None:
        if not feed.broken and want == feed.want and (feed.sub is not None or not want):
            return
        assert self._js is not None
        old = feed.want if feed.started else _Want()
        if feed.sub is not None and not feed.broken:
            with contextlib.suppress(Exception):
                info = await feed.sub.consumer_info()
                same = info.name == feed.consumer  # the consumer whose sequence ``cseq`` is
                if same and info.num_pending == 0 and info.delivered.consumer_seq == feed.cseq:
                    feed.last = max(feed.last, info.delivered.stream_seq or 0)  # skipped, not missed
        await self._drop(feed)
        if not want:
            feed.want, feed.cuts, feed.broken = want, [], False
            return
        head = (await self._js.stream_info(self.stream)).state.last_seq
        if not feed.started or not old.overlaps(want):
            start, feed.cuts = head + 1, []
            feed.last = max(feed.last, head)
        else:
            start = feed.last + 1
            if want != old and start <= head:
                feed.cuts.append((head, old))
        subjects = [self._gap_subject] if feed is self._gaps else self._filters(want)
        await self._create(feed, subjects, start)
        feed.want, feed.subjects, feed.started, feed.broken = want, subjects, True, False

    async def _create(self, feed: _Feed, subjects: list[str], start: int) -> None:
        from nats.js.api import ConsumerConfig, DeliverPolicy

        assert self._js is not None
        gen = feed.gen
        queue = self._queue

        async def deliver(msg: Msg) -> None:
            await queue.put((feed, gen, msg))

        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            filter_subjects=subjects if len(subjects) > 1 else None,
        )
        feed.cseq = 0
        feed.sub = await self._js.subscribe(
            subjects[0],
            stream=self.stream,
            cb=deliver,
            ordered_consumer=True,
            idle_heartbeat=self.heartbeat,
            config=config,
        )
        feed.consumer = getattr(feed.sub, "_consumer", None)
        self.counts["consumers"] += 1

    async def _drop(self, feed: _Feed) -> None:
        sub, feed.sub = feed.sub, None
        feed.gen += 1
        if sub is None:
            return
        name = getattr(sub, "_consumer", None)
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        if name and self._js is not None and self._nc is not None and self._nc.is_connected:
            with contextlib.suppress(Exception):  # else the server drops it after its inactivity threshold
                await self._js.delete_consumer(self.stream, name)

    # ------------------------------------------------------------------ the connection

    async def _on_disconnected(self) -> None:
        if self._closed:
            return
        for feed in (self._data, self._gaps):
            feed.broken = True
        if self._up:
            self._up = False
            self.counts["disconnects"] += 1
            self._out.append(
                Disconnected(
                    reason="nats_disconnected",
                    at=time.time(),
                    epoch=self._connects,
                    message=f"lost the connection to NATS {self._url}; reconnecting",
                )
            )
            self._poke()

    async def _on_reconnected(self) -> None:
        if self._closed:
            return
        self.counts["reconnects"] += 1
        for feed in (self._data, self._gaps):
            feed.broken = True
        self._dirty = True
        self._retry_at = 0.0
        self._poke()


def _gap_status(ev: FailoverGap) -> Status:
    """A :class:`FailoverGap` as the status clients get (no holder names: they name hosts)."""

    def at(t: float) -> str:
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    text = (
        f"HA failover from epoch {ev.previous_epoch} to {ev.epoch}: no live data was recorded from "
        f"{at(ev.gap_start)} to {at(ev.gap_end)} ({ev.gap_seconds:.1f} s); {ev.backfilled} bars backfilled"
    )
    if ev.error:
        text += f"; backfill error: {escape_terminal(ev.error)[:200]}"
    return Status(status=FAILOVER_STATUS, message=text)
