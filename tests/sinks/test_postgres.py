"""PostgreSQL specifics: two writers, repeated events that are not duplicates, old tables."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.services import service_url, unavailable
from tests.sinks.feed import STOCKS, batch, batches, journal_id, market
from tests.sinks.stores import Store, store
from tickwire.errors import ConfigError
from tickwire.sinks import PostgresSink


@pytest.fixture
async def st(tmp_path: Path) -> AsyncIterator[Store]:
    async for s in store("postgres", tmp_path):
        yield s


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"tw_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(service_url("TICKWIRE_POSTGRES_URL"), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", exc)
    yield name
    admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    admin.close()


async def test_two_writers_take_turns_on_the_watermark(st: Store) -> None:
    j = journal_id()
    todo = batches(j, 60, 6)
    a, b = st.make(), st.make()
    await asyncio.gather(a.open(), b.open())

    async def feed(sink: PostgresSink | object, order: list[int]) -> None:
        for i in order:
            await sink.write(todo[i])  # type: ignore[attr-defined]

    await asyncio.gather(feed(a, list(range(10))), feed(b, list(range(10))))
    assert await a.watermark(j) == todo[-1].end
    await asyncio.gather(a.close(), b.close())
    assert len(st.all_rows()) == 60 and len(set(st.all_rows())) == 60


async def test_equal_events_at_two_positions_are_two_rows(st: Store) -> None:
    """The old content-hash key merged genuinely repeated events (two equal price ticks)."""
    j = journal_id()
    tick = market(1)[0]
    sink = st.make()
    await sink.open()
    await sink.write(batch(j, 0, [tick, tick, tick]))
    await sink.close()
    assert len(st.rows("stocks_trades")) == 3


async def test_a_table_of_an_older_tickwire_is_a_clear_error(schema: str) -> None:
    url = service_url("TICKWIRE_POSTGRES_URL")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        admin.execute(f'CREATE TABLE "{schema}".stocks_trades (event_id BIGINT PRIMARY KEY, ev TEXT)')
    sink = PostgresSink(url, STOCKS, schema=schema)
    with pytest.raises(ConfigError, match="older tickwire"):
        await sink.open()
    await sink.close()
