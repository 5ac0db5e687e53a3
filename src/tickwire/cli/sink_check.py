"""One try at opening each sink before a command starts, so a mistake is one line, not a retry loop.

A URL the server refuses for good (an unknown parameter, a database that does not exist, a wrong
password) is a usage error: exit 2 at once. A server that cannot be reached is reported in one line
too; ``record`` goes on (the sink catches up from its watermark when it is back), ``replay --into``
stops, since it has nothing else to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tickwire.errors import ConfigError
from tickwire.redact import safe_text
from tickwire.sinks.base import Sink, mask_url

__all__ = ["SinkProblem", "probe_sinks"]

_FOR_GOOD = (
    ("does not exist", "create it first (PostgreSQL: createdb NAME) or name another in the URL"),
    ("invalid uri", "remove or fix that parameter in the URL"),
    ("invalid connection option", "remove or fix that parameter in the URL"),
    ("authentication failed", "check the user and password in the URL"),
    ("password", "check the user and password in the URL"),
    ("invalid", "check the URL"),
)


@dataclass(frozen=True)
class SinkProblem:
    """A sink that could not be opened: ``usage`` when retrying cannot help."""

    sink: str
    reason: str
    hint: str
    usage: bool

    def line(self) -> str:
        return f"error: sink {self.sink}: {self.reason}; {self.hint}"


def _classify(sink: Sink, exc: BaseException) -> SinkProblem:
    lines = [safe_text(mask_url(line)).strip() for line in str(exc).splitlines() if line.strip()]
    text = "\n".join(lines)
    first = lines[0] if lines else type(exc).__name__
    lower = text.lower()
    unknown = re.search(r"unexpected keyword argument '(\w+)'", text)
    if unknown:  # redis-py passes URL parameters on as keywords
        return SinkProblem(
            sink.name, f"unknown URL parameter {unknown[1]!r}", "remove or fix it in the URL", usage=True
        )
    if isinstance(exc, ConfigError | ValueError | TypeError):
        return SinkProblem(sink.name, first, "check the URL", usage=True)
    if type(exc).__name__ == "ProgrammingError":  # psycopg's class for a malformed conninfo
        return SinkProblem(sink.name, first, "remove or fix that parameter in the URL", usage=True)
    for needle, hint in _FOR_GOOD:
        if needle in lower:
            return SinkProblem(sink.name, _reason(text, needle), hint, usage=True)
    if isinstance(exc, TimeoutError):
        first = "no answer in time"
    return SinkProblem(sink.name, f"cannot be reached ({first})", "is the server running?", usage=False)


def _reason(text: str, needle: str) -> str:
    """The line of the server's message that holds ``needle`` (psycopg puts it after ``FATAL:``)."""
    for line in text.splitlines():
        if needle in line.lower():
            return line.split("FATAL:", 1)[-1].strip()
    return text.splitlines()[0]


async def _probe(sink: Sink, seconds: float) -> SinkProblem | None:
    try:
        await asyncio.wait_for(sink.open(), seconds)
    except Exception as exc:
        return _classify(sink, exc)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sink.close(), seconds)
    return None


async def probe_sinks(sinks: Sequence[Sink], seconds: float = 5.0) -> list[SinkProblem]:
    """Open and close each sink once, in parallel: the problems found (empty when all opened)."""
    found = await asyncio.gather(*(_probe(s, seconds) for s in sinks))
    return [p for p in found if p is not None]
