"""Where recorded events go: embedded DuckDB, Parquet, CSV/JSONL, PostgreSQL, Redis Streams, NATS.

Every sink keeps a watermark per journal (see :mod:`tickwire.sinks.base`), so it is fed from the
journal and a replay never writes an event twice. :func:`sink_from_url` builds one from a URL (what
``tickwire record --sink`` takes)::

    duckdb:PATH
    parquet:DIR  csv:DIR  jsonl:DIR      ?rows=1000000&bytes=64MiB&seconds=60 (when a file is rolled)
    jsonl:DIR?wire=1  redis://...?wire=1 (the provider's wire JSON instead of the normalized rows)
    postgresql://user@host/db?schema=tickwire
    redis://host:6379/0?per=symbol&maxlen=1000000&prefix=md
    nats://host:4222?stream=MD_MASSIVE_STOCKS&prefix=md&window=600&bucket=tickwire_watermarks

``policy=`` (the old per-sink queue policy) is accepted and ignored with a warning: sinks are fed
from the journal and never drop anything. Tables, keys and subjects come from the provider's
:class:`~tickwire.tables.TableRegistry` (``Provider.tables(market)``).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tickwire.errors import ConfigError
from tickwire.sinks.base import Sink, SinkBatch, mask_url
from tickwire.sinks.duckdb import DuckDBSink
from tickwire.sinks.files import FileSink, RollPolicy
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
    "RollPolicy",
    "Sink",
    "SinkBatch",
    "consume_nats",
    "sink_from_url",
]

log = logging.getLogger("tickwire.sinks")

_OURS = {
    "policy",
    "schema",
    "per",
    "maxlen",
    "stream",
    "prefix",
    "rows",
    "bytes",
    "seconds",
    "window",
    "bucket",
    "wire",
}
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _split_params(url: str, ours: set[str]) -> tuple[str, dict[str, str]]:
    """Take tickwire's own query parameters out of a URL; the rest stays for the driver."""
    parts = urlsplit(url)
    mine: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        (mine.__setitem__(k, v) if k in ours else rest.append((k, v)))
    return urlunsplit(parts._replace(query=urlencode(rest))), mine


def _positive(params: dict[str, str], key: str, parse: type[int] | type[float]) -> int | float | None:
    raw = params.get(key)
    if raw is None:
        return None
    try:
        if key == "bytes":
            m = _SIZE.match(raw)
            if m is None:
                raise ValueError(raw)
            value: int | float = int(m[1]) * _UNITS[(m[2] or "")[:1].lower()]
        else:
            value = parse(raw)
    except ValueError:
        raise ConfigError(f"{key}= must be a positive number, not {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{key}= must be a positive number, not {raw!r}")
    return value


def _roll_policy(params: dict[str, str]) -> RollPolicy:
    default = RollPolicy()
    rows = _positive(params, "rows", int)
    size = _positive(params, "bytes", int)
    seconds = _positive(params, "seconds", float)
    return RollPolicy(
        rows=int(rows) if rows is not None else default.rows,
        bytes=int(size) if size is not None else default.bytes,
        seconds=float(seconds) if seconds is not None else default.seconds,
    )


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{what} must be a number, not {text!r}") from None
    if value <= 0:
        raise ConfigError(f"{what} must be positive")
    return value


def _flag(params: dict[str, str], name: str) -> bool:
    """``?wire=1`` (or ``true``/``yes``/``on``; ``0``/``false``/``no``/``off`` or absent: off)."""
    if name not in params:
        return False
    value = params[name].strip().lower()
    if value in ("", "1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}= must be 1 or 0, not {value!r}")


def sink_from_url(url: str, tables: TableRegistry) -> Sink:
    """A sink from a sink URL (see the module doc); :class:`ConfigError` says what is accepted."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    base, params = _split_params(url, _OURS)
    if "policy" in params:
        log.warning(
            "sink %s: policy= is ignored (sinks are fed from the journal and drop nothing)", mask_url(base)
        )
    sink: Sink
    if scheme in ("duckdb", "parquet", "csv", "jsonl"):
        path = base.split(":", 1)[1].split("?", 1)[0]
        if not path:
            raise ConfigError(f"{scheme}: needs a path, e.g. {scheme}:./tickwire-data/{scheme}")
        if scheme == "duckdb":
            sink = DuckDBSink(path, tables)
        elif scheme == "parquet":
            sink = ParquetSink(path, tables, roll=_roll_policy(params))
        else:
            fmt: Literal["csv", "jsonl"] = "csv" if scheme == "csv" else "jsonl"
            sink = FileSink(path, tables, fmt, roll=_roll_policy(params), wire=_flag(params, "wire"))
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
            wire=_flag(params, "wire"),
        )
    elif scheme in ("nats", "tls"):
        nats_options: dict[str, Any] = {}
        if "window" in params:
            nats_options["duplicate_window"] = _number(params["window"], "nats window (seconds)")
        if "bucket" in params:
            nats_options["bucket"] = params["bucket"]
        sink = NatsJetStreamSink(
            base.split("?", 1)[0],
            tables,
            prefix=params.get("prefix", "md"),
            stream=params.get("stream"),
            **nats_options,
        )
    else:
        raise ConfigError(
            f"unknown sink {mask_url(url)!r}: use duckdb:PATH, parquet:DIR, csv:DIR, jsonl:DIR, "
            "postgresql://..., redis://... or nats://..."
        )
    return sink
