"""Redis Streams: ``XADD`` per event, bounded by ``MAXLEN ~``, de-duplicated by event id.

Keys: ``<prefix>:<namespace>:<type>`` (one stream per event type, the default) or
``<prefix>:<namespace>:<type>:<symbol>`` (``per_symbol``), the namespace's dots made colons:
``md:massive:stocks:T``, ``md:polymarket_us:markets:trade:btc-100k-2026`` (see
:class:`~tickwire.tables.TableRegistry`). Each entry has the fields ``ev`` (the event as tickwire
encodes it: the wire JSON for Massive) and ``id`` (its content id). A Lua script adds an entry only if
``<prefix>:<provider>:seen:<id>`` could be set (kept ``dedupe_ttl`` seconds), atomically, so a
retried batch or a reconnect that re-delivers events adds nothing twice.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tickwire.events import Event
from tickwire.sinks.base import mask_url
from tickwire.tables import TableRegistry, event_id

__all__ = ["RedisStreamSink"]

_ENC = msgspec.json.Encoder()

_SCRIPT = """
local maxlen = ARGV[1]
local ttl = ARGV[2]
local seen = ARGV[3]
local added = 0
for i = 4, #ARGV, 3 do
  local id = ARGV[i + 1]
  if redis.call('SET', seen .. id, '1', 'NX', 'EX', ttl) then
    redis.call('XADD', ARGV[i], 'MAXLEN', '~', maxlen, '*', 'ev', ARGV[i + 2], 'id', id)
    added = added + 1
  end
end
return added
"""


class RedisStreamSink:
    """Adds every stored event to a Redis stream (see the module docstring for the keys)."""

    def __init__(
        self,
        url: str,
        tables: TableRegistry,
        *,
        prefix: str = "md",
        per_symbol: bool = False,
        maxlen: int = 1_000_000,
        dedupe_ttl: int = 86_400,
        chunk: int = 2_000,
    ) -> None:
        self.url = url
        self.tables = tables
        self.prefix = prefix
        self.per_symbol = per_symbol
        self.maxlen = maxlen
        self.dedupe_ttl = dedupe_ttl
        self.chunk = chunk
        self.name = f"redis:{mask_url(url)}"
        self.added = 0
        self._root = f"{prefix}:{tables.namespace.replace('.', ':')}"
        self._seen = f"{prefix}:{tables.namespace.split('.', 1)[0]}:seen:"
        self._client: Any = None
        self._script: Any = None

    def stream_key(self, ev: Event) -> str:
        kind, symbol = self.tables.route(ev)
        key = f"{self._root}:{kind}"
        return f"{key}:{symbol}" if self.per_symbol else key

    async def open(self) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.from_url(self.url)
        self._script = self._client.register_script(_SCRIPT)
        await self._client.ping()

    async def write(self, events: list[Event]) -> None:
        args: list[Any] = []
        stored = self.tables.table_for
        kinds: dict[type[Event], bool] = {}
        for ev in events:
            cls = type(ev)
            keep = kinds.get(cls)
            if keep is None:
                keep = kinds[cls] = stored(cls) is not None
            if keep:
                args += (self.stream_key(ev), event_id(ev), _ENC.encode(ev))
        step = 3 * self.chunk
        for i in range(0, len(args), step):
            added = await self._script(args=[self.maxlen, self.dedupe_ttl, self._seen, *args[i : i + step]])
            self.added += int(added)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
