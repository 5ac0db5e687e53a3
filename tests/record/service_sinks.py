"""The PostgreSQL, Redis and NATS sinks of one test (own schema, prefix, stream and watermark
bucket, all derived from a tag), checked reachable first, and their cleanup."""

from __future__ import annotations

from tests.services import service_url, unavailable
from tickwire.sinks import NatsJetStreamSink, PostgresSink, RedisStreamSink
from tickwire.tables import TableRegistry


def service_sinks(tables: TableRegistry, tag: str) -> tuple[PostgresSink, RedisStreamSink, NatsJetStreamSink]:
    """New sink objects for ``tag`` (call again for a second set over the same data)."""
    return (
        PostgresSink(service_url("TICKWIRE_POSTGRES_URL"), tables, schema=f"tw_{tag}"),
        RedisStreamSink(service_url("TICKWIRE_REDIS_URL"), tables, prefix=f"tw{tag}", per_symbol=True),
        NatsJetStreamSink(
            service_url("TICKWIRE_NATS_URL"),
            tables,
            prefix=f"tw{tag}",
            stream=f"TW_{tag.upper()}",
            bucket=f"tw_{tag}",
        ),
    )


async def reachable_sinks(
    tables: TableRegistry, tag: str
) -> tuple[PostgresSink, RedisStreamSink, NatsJetStreamSink]:
    """:func:`service_sinks`, each opened once (a service that is down fails or skips the test)."""
    sinks = service_sinks(tables, tag)
    for name, sink in zip(("PostgreSQL", "Redis", "NATS"), sinks, strict=True):
        try:
            await sink.open()
            await sink.close()
        except Exception as exc:
            unavailable(name, exc)
    return sinks


async def cleanup_sinks(pg: PostgresSink, rs: RedisStreamSink, nt: NatsJetStreamSink) -> None:
    """Drop what the test's sinks created: the schema, the Redis keys, the stream and the bucket."""
    import nats
    import psycopg
    import redis.asyncio as aioredis

    async with await psycopg.AsyncConnection.connect(pg.url, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{pg.schema}" CASCADE')
    client = aioredis.from_url(rs.url)
    keys = [k async for k in client.scan_iter(f"{rs.prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    nc = await nats.connect(nt.url, allow_reconnect=False, max_reconnect_attempts=1, connect_timeout=5)
    js = nc.jetstream()
    await js.delete_stream(nt.stream)
    await js.delete_key_value(nt.bucket)
    await nc.close()
