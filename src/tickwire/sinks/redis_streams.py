"""Redis Streams: one entry per event, its id derived from the journal position, a watermark per journal.

Keys: ``<prefix>:<namespace>:<type>`` (one stream per event type, the default) or
``<prefix>:<namespace>:<type>:<symbol>`` (``per_symbol``), the namespace's dots made colons:
``md:massive:stocks:T``, ``md:polymarket_us:markets:trade:btc-100k-2026`` (see
:class:`~tickwire.tables.TableRegistry`). Each entry has the fields ``row`` (the event's normalized
row as JSON: its table's columns, ``ts`` in int ns, see :mod:`tickwire.sinks.rows`) and ``_journal``
(the journal id); with ``wire=True`` the field is ``ev`` instead, the event as tickwire encodes it
(the wire JSON for Massive). Streams are trimmed with ``MAXLEN ~ maxlen``.

Exactly once, with no per-event keys
------------------------------------
The entry id of the event at position ``pos`` is ``f"{seq + 1}-{idx}"`` (``seq``/``idx`` of
:mod:`tickwire.journal.position`; ``+ 1`` because ``0-0`` is not a valid id; read it back with
:func:`entry_position`). Positions grow with the journal, so a stream's ids grow too, and Redis
refuses an ``XADD`` whose id is equal to or smaller than the stream's top entry: *that refusal is
the de-duplication*. A replayed or re-delivered event is refused and counted as already there,
never written twice, and nothing else has to be stored per event (the old sink kept a 24-hour
``seen:<id>`` key per event, ~80 GB a day at 10 k events/s; trimming does not matter either, since
Redis remembers a stream's last id when old entries go).

The watermark ``<prefix>:watermark:<journal>`` is set by the same server-side script as the
``XADD`` s of a batch's last chunk (a script runs atomically, like ``MULTI``/``EXEC``; unlike
``EXEC`` it can *not* set the watermark when an ``XADD`` fails, since Redis transactions do not roll
back). Earlier chunks of a big batch are added first; a crash between them leaves entries past the
watermark, which the next run's replay finds already there.

A refusal is "already there" only when the stream's top entry belongs to the same journal: a stream
holding another journal's entries (a new data directory writing under the same ``prefix``, or
entries of the old sink with time-based ids) would silently swallow every event, so the write fails
with :class:`StreamTaken`, naming the stream (use another ``prefix``, or delete the stream).
"""

from __future__ import annotations

from typing import Any

import msgspec

from tickwire.errors import StreamTaken
from tickwire.events import Event
from tickwire.journal.position import IDX_BITS, idx_of, seq_of
from tickwire.sinks.base import DataRefused, SinkBatch, mask_url, unwritten
from tickwire.sinks.rows import row_json
from tickwire.tables import TableRegistry, TableSpec

__all__ = ["RedisStreamSink", "StreamTaken", "entry_id", "entry_position"]

_ENC = msgspec.json.Encoder()
_TAKEN = "TWTAKEN"
_PIPELINE = "of pipeline caused error:"

# ARGV: maxlen, journal, watermark key ('' in a chunk that is not the batch's last), watermark,
# the entry's field name (row, or ev for the wire form), then (stream key, entry id, JSON) per
# event. Returns {added, already there}.
_SCRIPT = (
    """
local maxlen, journal, wmkey, field = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local added, dup = 0, 0
local checked = {}
for i = 6, #ARGV, 3 do
  local key = ARGV[i]
  local ok = redis.pcall('XADD', key, 'MAXLEN', '~', maxlen, ARGV[i + 1],
                         field, ARGV[i + 2], '_journal', journal)
  if type(ok) == 'table' and ok.err then
    if not string.find(ok.err, 'equal or smaller', 1, true) then
      return redis.error_reply(ok.err)
    end
    if not checked[key] then
      local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
      if #top > 0 then
        local fields, owner = top[1][2], ''
        for f = 1, #fields, 2 do
          if fields[f] == '_journal' then owner = fields[f + 1] end
        end
        if owner ~= journal then
          return redis.error_reply('"""
    + _TAKEN
    + """ ' .. key .. ' ' .. top[1][1] .. ' ' .. owner)
        end
      end
      checked[key] = true
    end
    dup = dup + 1
  else
    added = added + 1
  end
end
if wmkey ~= '' then
  redis.call('SET', wmkey, ARGV[4])
end
return {added, dup}
"""
)

# Server replies that say the server or the setup is not ready, not that a value was refused.
_NOT_DATA = {
    "OOM", "READONLY", "LOADING", "BUSY", "MASTERDOWN", "NOREPLICAS", "MISCONF", "TRYAGAIN",
    "CLUSTERDOWN", "MOVED", "ASK", "CROSSSLOT", "NOAUTH", "NOPERM", "WRONGPASS", "WRONGTYPE",
    "NOSCRIPT", "EXECABORT", _TAKEN,
}  # fmt: skip


def entry_id(pos: int) -> str:
    """The stream entry id of journal position ``pos``: ``"<seq + 1>-<idx>"``."""
    return f"{seq_of(pos) + 1}-{idx_of(pos)}"


def entry_position(entry: str | bytes) -> int:
    """The journal position of a stream entry id written by this sink (``entry_id`` reversed)."""
    text = entry.decode() if isinstance(entry, bytes) else entry
    ms, _, seq = text.partition("-")
    return ((int(ms) - 1) << IDX_BITS) | int(seq)


class RedisStreamSink:
    """Adds every stored event to a Redis stream (see the module docstring)."""

    def __init__(
        self,
        url: str,
        tables: TableRegistry,
        *,
        prefix: str = "md",
        per_symbol: bool = False,
        maxlen: int = 1_000_000,
        chunk: int = 5_000,
        max_entry_bytes: int = 64 << 20,
        connect_timeout: float = 5.0,
        timeout: float = 30.0,
        wire: bool = False,
    ) -> None:
        self.url = url
        self.wire = wire
        self.field = "ev" if wire else "row"
        self.tables = tables
        self.prefix = prefix
        self.per_symbol = per_symbol
        self.maxlen = maxlen
        self.chunk = chunk
        self.max_entry_bytes = max_entry_bytes
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.name = f"redis:{mask_url(url)}"
        self.added = 0
        self.already_there = 0
        self._root = f"{prefix}:{tables.namespace.replace('.', ':')}"
        self._client: Any = None
        self._script: Any = None
        self._keys: dict[tuple[str, str], str] = {}
        self._marks: dict[str, int] = {}

    def stream_key(self, ev: Event) -> str:
        kind, symbol = self.tables.route(ev)
        key = f"{self._root}:{kind}"
        return f"{key}:{symbol}" if self.per_symbol else key

    def watermark_key(self, journal: str) -> str:
        return f"{self.prefix}:watermark:{journal}"

    async def open(self) -> None:
        """Connect (bounded by ``connect_timeout``; no hidden retries: the runner backs off)."""
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        await self.close()
        self._marks.clear()
        self._client = aioredis.from_url(
            self.url,
            socket_connect_timeout=self.connect_timeout,
            socket_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._script = self._client.register_script(_SCRIPT)
        await self._client.ping()

    async def watermark(self, journal: str) -> int:
        """The stored watermark (this sink's own last write when it made one)."""
        mark = self._marks.get(journal)
        if mark is None:
            raw = await self._connected().get(self.watermark_key(journal))
            mark = self._marks[journal] = int(raw) if raw else 0
        return mark

    async def write(self, batch: SinkBatch) -> None:
        """``XADD`` the events from the watermark on; the last chunk's script sets the watermark."""
        mark = await self.watermark(batch.journal)
        if batch.end <= mark:
            return
        todo = unwritten(batch, mark)
        args = self._entries(todo)
        step = 3 * self.chunk
        chunks = [args[i : i + step] for i in range(0, len(args), step)] or [[]]
        head = [self.maxlen, batch.journal]
        try:
            if len(chunks) > 1:
                pipe = self._connected().pipeline(transaction=False)
                for part in chunks[:-1]:
                    await self._script(args=[*head, "", 0, self.field, *part], client=pipe)
                for got in await pipe.execute():
                    self._count(got)
            wm = self.watermark_key(batch.journal)
            last = [*head, wm, todo.end, self.field, *chunks[-1]]
            self._count(await self._script(args=last, client=self._connected()))
        except Exception as exc:
            taken = _taken(exc)
            if taken is None:
                raise
            raise taken from exc
        self._marks[batch.journal] = todo.end

    def _entries(self, batch: SinkBatch) -> list[Any]:
        """``(stream key, entry id, JSON)`` flattened, for the stored events: each event's normalized
        row (converted per table, columnar), or its wire JSON with ``wire``."""
        route = self.tables.route
        keys = self._keys
        specs: dict[type[Event], TableSpec | None] = {}
        groups: dict[TableSpec, list[Event]] = {}
        kept: list[tuple[str, str, list[Event], int]] = []
        for ev, pos in zip(batch.events, batch.positions, strict=True):
            cls = type(ev)
            if cls in specs:
                spec = specs[cls]
            else:
                spec = specs[cls] = self.tables.table_for(cls)
            if spec is None:
                continue
            where = route(ev)
            key = keys.get(where)
            if key is None:
                key = keys[where] = f"{self._root}:{where[0]}" + (f":{where[1]}" if self.per_symbol else "")
            group = groups.setdefault(spec, [])
            kept.append((key, f"{(pos >> IDX_BITS) + 1}-{pos & ((1 << IDX_BITS) - 1)}", group, len(group)))
            group.append(ev)
        rows: dict[int, list[bytes]] = {}
        if not self.wire:
            rows = {id(evs): row_json(spec, evs) for spec, evs in groups.items()}
        out: list[Any] = []
        for key, eid, group, i in kept:
            data = _ENC.encode(group[i]) if self.wire else rows[id(group)][i]
            if len(data) > self.max_entry_bytes:
                raise DataRefused(
                    f"{key[:120]}: an event of {len(data):,} bytes is over the sink's limit of "
                    f"{self.max_entry_bytes:,} bytes (max_entry_bytes)"
                )
            out += (key, eid, data)
        return out

    def _count(self, got: Any) -> None:
        if isinstance(got, BaseException):
            raise got
        self.added += int(got[0])
        self.already_there += int(got[1])

    def _connected(self) -> Any:
        if self._client is None:
            raise ConnectionError(f"{self.name} is not open")
        return self._client

    async def flush(self) -> None:
        """Nothing is buffered: a write returns once Redis holds it."""

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def is_data_error(self, exc: BaseException) -> bool:
        """A value Redis (or the sink, for ``max_entry_bytes``) refuses, or one that cannot be
        encoded. Connection errors, timeouts and replies about the server's state (``OOM``,
        ``READONLY``, ``LOADING``...), a key of another type or a stream taken by another journal
        (:class:`StreamTaken`) are not: the same batch is retried later."""
        from redis import exceptions as rex

        if isinstance(exc, (DataRefused, msgspec.EncodeError, OverflowError, rex.DataError)):
            return True
        if isinstance(exc, StreamTaken) or not isinstance(exc, rex.ResponseError):
            return False
        if isinstance(exc, (rex.ConnectionError, rex.TimeoutError)):
            return False
        first = _reply_text(exc).split(" ", 1)[0]
        return first not in _NOT_DATA


def _reply_text(exc: BaseException) -> str:
    """The server's error reply, without what redis-py adds for a pipeline (``Command # 1 (...)
    of pipeline caused error: ...``)."""
    text = str(exc)
    cut = text.find(_PIPELINE)
    if cut >= 0:
        text = text[cut + len(_PIPELINE) :].lstrip("('\" ")
    return text


def _taken(exc: Exception) -> StreamTaken | None:
    """The script's ``TWTAKEN <key> <top id> <owner>`` as a :class:`StreamTaken` saying what to do."""
    text = _reply_text(exc)
    if not text.startswith(_TAKEN):
        return None
    parts = text.split()
    key, top = (parts[1], parts[2]) if len(parts) >= 3 else ("?", "?")
    owner = parts[3].strip("'\",)") if len(parts) >= 4 and parts[3] != "script:" else ""
    whose = f"journal {owner}" if owner else "no journal (the old sink's time-based ids?)"
    return StreamTaken(
        f"Redis stream {key} ends at entry {top} of {whose}: this journal's entries would all be "
        "refused; use another prefix= or delete that stream"
    )
