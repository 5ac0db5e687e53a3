"""Redis Streams: ``XADD`` per event, bounded by ``MAXLEN ~``, de-duplicated by event id.

Keys: ``<prefix>:<market>:<ev>`` (one stream per channel, the default) or
``<prefix>:<market>:<ev>:<symbol>`` (``per_symbol``). Each entry has the fields ``ev`` (the
event as wire JSON) and ``id`` (its content id). A Lua script adds an entry only if
``<prefix>:seen:<id>`` could be set (kept ``dedupe_ttl`` seconds), atomically, so a retried
batch or a reconnect that re-delivers events adds nothing twice.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tickwire.events import Event
from tickwire.massive.models import MassiveEvent
from tickwire.sinks.base import mask_url
from tickwire.sinks.schema import event_id

__all__ = ["RedisStreamSink"]

_ENC = msgspec.json.Encoder()

_SCRIPT = """
local maxlen = ARGV[1]
local ttl = ARGV[2]
local prefix = ARGV[3]
local added = 0
for i = 4, #ARGV, 3 do
  local id = ARGV[i + 1]
  if redis.call('SET', prefix .. ':seen:' .. id, '1', 'NX', 'EX', ttl) then
    redis.call('XADD', ARGV[i], 'MAXLEN', '~', maxlen, '*', 'ev', ARGV[i + 2], 'id', id)
    added = added + 1
  end
end
return added
"""


def symbol_of(ev: Event) -> str:
    sym = getattr(ev, "symbol", None) or getattr(ev, "pair", None) or getattr(ev, "ticker", None)
    return str(sym) if sym else "_"


class RedisStreamSink:
    def __init__(
        self,
        url: str,
        market: str,
        *,
        prefix: str = "md:massive",
        per_symbol: bool = False,
        maxlen: int = 1_000_000,
        dedupe_ttl: int = 86_400,
        chunk: int = 2_000,
    ) -> None:
        self.url = url
        self.market = market
        self.prefix = prefix
        self.per_symbol = per_symbol
        self.maxlen = maxlen
        self.dedupe_ttl = dedupe_ttl
        self.chunk = chunk
        self.name = f"redis:{mask_url(url)}"
        self.added = 0
        self._client: Any = None
        self._script: Any = None

    def stream_key(self, ev: Event) -> str:
        key = f"{self.prefix}:{self.market}:{ev.event_type}"
        return f"{key}:{symbol_of(ev)}" if self.per_symbol else key

    async def open(self) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.from_url(self.url)
        self._script = self._client.register_script(_SCRIPT)
        await self._client.ping()

    async def write(self, events: list[Event]) -> None:
        args: list[Any] = []
        for ev in events:
            if isinstance(ev, MassiveEvent):
                args += (self.stream_key(ev), event_id(ev), _ENC.encode(ev))
        step = 3 * self.chunk
        for i in range(0, len(args), step):
            added = await self._script(args=[self.maxlen, self.dedupe_ttl, self.prefix, *args[i : i + step]])
            self.added += int(added)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
