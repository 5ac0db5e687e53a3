"""Where recorded events go: embedded DuckDB, Parquet, CSV/JSONL, PostgreSQL, Redis Streams, NATS.

:func:`sink_from_url` builds a sink from a URL (what ``tickwire record --sink`` takes)::

    duckdb:PATH  parquet:DIR  csv:DIR  jsonl:DIR
    postgresql://user@host/db?schema=tickwire
    redis://host:6379/0?per=symbol&maxlen=1000000&prefix=md
    nats://host:4222?stream=MD_MASSIVE_STOCKS&prefix=md

Every URL also takes ``policy=drop_oldest|block`` (what the sink's queue does when full). Tables,
keys and subjects come from the provider's :class:`~tickwire.tables.TableRegistry`
(``Provider.tables(market)``).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tickwire.errors import ConfigError
from tickwire.sinks.base import Sink, SinkHealth, SinkPolicy, SinkRunner, mask_url
from tickwire.sinks.duckdb import DuckDBSink
from tickwire.sinks.files import FileSink
from tickwire.sinks.nats_jetstream import NatsJetStreamSink, consume_nats
from tickwire.sinks.parquet import ParquetSink
from tickwire.sinks.postgres import PostgresSink
from tickwire.sinks.redis_streams import RedisStreamSink
from tickwire.tables import TableRegistry

__all__ = [
    "DuckDBSink",
    "FileSink",
    "NatsJetStreamSink",
    "ParquetSink",
    "PostgresSink",
    "RedisStreamSink",
    "Sink",
    "SinkHealth",
    "SinkPolicy",
    "SinkRunner",
    "consume_nats",
    "sink_from_url",
]


def _split_params(url: str, ours: set[str]) -> tuple[str, dict[str, str]]:
    """Take tickwire's own query parameters out of a URL; the rest stays for the driver."""
    parts = urlsplit(url)
    mine: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        (mine.__setitem__(k, v) if k in ours else rest.append((k, v)))
    return urlunsplit(parts._replace(query=urlencode(rest))), mine


def sink_from_url(url: str, tables: TableRegistry) -> tuple[Sink, SinkPolicy]:
    """A sink (and its queue policy) from a sink URL; :class:`ConfigError` says what is accepted."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    base, params = _split_params(url, {"policy", "schema", "per", "maxlen", "stream", "prefix"})
    policy = params.get("policy", "drop_oldest")
    if policy not in ("drop_oldest", "block"):
        raise ConfigError(f"policy must be drop_oldest or block, not {policy!r}")
    sink: Sink
    if scheme in ("duckdb", "parquet", "csv", "jsonl"):
        path = base.split(":", 1)[1].split("?", 1)[0]
        if not path:
            raise ConfigError(f"{scheme}: needs a path, e.g. {scheme}:./tickwire-data/{scheme}")
        if scheme == "duckdb":
            sink = DuckDBSink(path, tables)
        elif scheme == "parquet":
            sink = ParquetSink(path, tables)
        else:
            sink = FileSink(path, tables, "csv" if scheme == "csv" else "jsonl")
    elif scheme in ("postgres", "postgresql"):
        sink = PostgresSink(base, tables, schema=params.get("schema", "tickwire"))
    elif scheme in ("redis", "rediss"):
        try:
            maxlen = int(params.get("maxlen", "1000000"))
        except ValueError:
            raise ConfigError("redis maxlen must be an integer") from None
        sink = RedisStreamSink(
            base,
            tables,
            prefix=params.get("prefix", "md"),
            per_symbol=params.get("per") == "symbol",
            maxlen=maxlen,
        )
    elif scheme in ("nats", "tls"):
        sink = NatsJetStreamSink(
            base.split("?", 1)[0],
            tables,
            prefix=params.get("prefix", "md"),
            stream=params.get("stream"),
        )
    else:
        raise ConfigError(
            f"unknown sink {mask_url(url)!r}: use duckdb:PATH, parquet:DIR, csv:DIR, jsonl:DIR, "
            "postgresql://..., redis://... or nats://..."
        )
    return sink, policy  # type: ignore[return-value]
