"""A minimal NATS client for the JetStream sink: one connection, the client protocol spoken directly.

Why not nats-py for the publish path (measured, ``benchmarks/nats_sink.py``, nats-py 2.16, medians
on the shared 2 vCPU machine, ``benchmarks/results/nats_sink.md``): with one event per message
(the sink's first layout) nats-py's ``js.publish_async`` reached 18-27 % of this client, its plain
``nc.publish`` with counted acks 47-64 %: nats-py pays per message in Python (header dict encoding
and validation, a NUID token and a Future per publish, and per ack a ``Msg``, a callback,
``json.loads`` and a ``PubAck``). With the sink's batched messages (hundreds of events each) that
cost is spread thin: ``publish_async`` measured 67-104 % of this client over three runs, so speed
is no longer the reason to keep it. The failure behavior is, and batching does not change it: its
pending ``publish_async`` futures are never failed when the connection drops (a caller learns it
only from its own timeout), and its reconnect loop, on by default, is what made ``record`` hang on
a NATS that was down; even ``allow_reconnect=False, max_reconnect_attempts=0`` retries a dead server
for ever on the first connect (0 means no limit there: nats.py#645, open),
``max_reconnect_attempts=1`` is what fails fast (``consume_nats`` uses it). ``consume_nats``, the HA
lease (:mod:`tickwire.ha`) and the tests use nats-py.

Here a batch is written as one buffer of ``HPUB`` frames, each with its own reply subject
``<inbox>.<generation>.<i>``; the acknowledgements are counted as they arrive (a JetStream ack is a
small JSON; only one holding ``"error"`` is decoded), with at most ``max_in_flight`` unacknowledged
messages. Everything is bounded: the connect (``connect_timeout``), every wait for an ack or a
reply (``timeout``, reset by progress), and a connection lost fails the batch at once instead of
reconnecting behind the caller's back (the caller retries the batch; ``Nats-Msg-Id`` de-duplicates).
Text the server sends (``-ERR`` lines, JetStream error descriptions) has its control characters
escaped before it goes into an exception.

Supported URLs: ``nats://`` or ``tls://`` (TLS, also when the server requires it), several
comma-separated (tried in order), credentials as ``user:password@`` or ``token@``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import ssl
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

import msgspec

from tickwire.errors import NatsRefused, NatsUnavailable, PublishError
from tickwire.redact import escape_terminal
from tickwire.sinks.base import mask_url

__all__ = ["NatsRefused", "NatsUnavailable", "NatsWire", "PublishError", "headers"]

_JSON = msgspec.json.Encoder()
_DECODE = msgspec.json.Decoder()
_MAX_LINE = 1 << 16
_NO_MESSAGE = 10037  # JetStream: no message found (a key never written)


class _Acks:
    """The acknowledgements of one batch: how many came, which were refusals."""

    __slots__ = ("acked", "failed", "prefix", "progress", "target")

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix
        self.acked = 0
        self.target = 0
        self.failed: dict[int, NatsRefused] = {}
        self.progress = asyncio.Event()


def _refusal(payload: bytes, status: int, description: str) -> NatsRefused | None:
    """The error an ack or API reply carries, or None when it is a success."""
    if status == 503:
        return NatsRefused("no stream takes this subject (503 no responders)", status)
    if status >= 300:
        return NatsRefused(escape_terminal(f"status {status} {description}".strip()), status)
    if b'"error"' not in payload:
        return None
    try:
        err = _DECODE.decode(payload).get("error") or {}
    except (msgspec.DecodeError, AttributeError):
        return NatsRefused("an unreadable JetStream reply")
    text = escape_terminal(str(err.get("description", "unknown error")))
    return NatsRefused(text, int(err.get("code", 0) or 0), int(err.get("err_code", 0) or 0))


def _status(headers: bytes) -> tuple[int, str]:
    """``NATS/1.0 503 No Responders`` → ``(503, "No Responders")``; ``(0, "")`` for plain headers."""
    first = headers.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(first) >= 2 and first[1].isdigit():
        return int(first[1]), (first[2].decode(errors="replace") if len(first) > 2 else "")
    return 0, ""


class NatsWire:
    """One connection to NATS (see the module doc); ``max_payload`` from the server's ``INFO``."""

    def __init__(
        self, url: str, *, connect_timeout: float = 5.0, timeout: float = 10.0, max_in_flight: int = 4096
    ) -> None:
        self.urls = [u.strip() for u in url.split(",") if u.strip()]
        self.shown = mask_url(url)
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.max_in_flight = max_in_flight
        self.max_payload = 1 << 20
        self.info: dict[str, Any] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._error: NatsUnavailable | None = None
        self._inbox = b"_INBOX.tw" + base64.b32encode(os.urandom(10)).rstrip(b"=")
        self._gen = 0
        self._acks: _Acks | None = None
        self._replies: dict[bytes, asyncio.Future[tuple[int, str, bytes]]] = {}
        self._pongs: list[asyncio.Future[None]] = []

    @property
    def connected(self) -> bool:
        return self._writer is not None and self._error is None

    # ------------------------------------------------------------------ connection

    async def connect(self) -> None:
        """Connect to the first server that answers (each attempt bounded by ``connect_timeout``)."""
        await self.close()
        last: BaseException | None = None
        for url in self.urls:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await self._connect(url)
                return
            except (OSError, TimeoutError, NatsUnavailable, ssl.SSLError) as exc:
                last = exc
                await self.close()
            except NatsRefused:
                await self.close()
                raise
        what = f"{type(last).__name__}: {last}" if last is not None else "no server given"
        if isinstance(last, TimeoutError):
            what = f"no answer within {self.connect_timeout:g} s"
        raise NatsUnavailable(f"NATS {self.shown} is not reachable ({mask_url(what)})")

    async def _connect(self, url: str) -> None:
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        host, port = parts.hostname or "127.0.0.1", parts.port or 4222
        reader, writer = await asyncio.open_connection(host, port, limit=_MAX_LINE)
        self._reader, self._writer = reader, writer
        line = await reader.readline()
        if not line.startswith(b"INFO "):
            raise NatsUnavailable(f"{host}:{port} is not a NATS server")
        self.info = _DECODE.decode(line[5:])
        self.max_payload = int(self.info.get("max_payload", self.max_payload))
        if not self.info.get("headers", False):
            raise NatsRefused("the NATS server does not support headers (NATS 2.2 or later is needed)")
        if parts.scheme == "tls" or self.info.get("tls_required"):
            await writer.start_tls(ssl.create_default_context(), server_hostname=host)
        opts: dict[str, Any] = {
            "verbose": False,
            "pedantic": False,
            "headers": True,
            "no_responders": True,
            "echo": False,
            "protocol": 1,
            "lang": "python-tickwire",
            "version": "1",
            "name": "tickwire-sink",
        }
        if parts.username and parts.password is not None:
            opts["user"], opts["pass"] = unquote(parts.username), unquote(parts.password)
        elif parts.username:
            opts["auth_token"] = unquote(parts.username)
        writer.write(b"CONNECT " + _JSON.encode(opts) + b"\r\nPING\r\n")
        await writer.drain()
        while True:  # +OK / INFO may come first; -ERR is an auth failure
            line = await reader.readline()
            if not line:
                raise NatsUnavailable("the server closed the connection while connecting")
            if line.startswith(b"PONG"):
                break
            if line.startswith(b"-ERR"):
                why = escape_terminal(line[5:].strip().decode(errors="replace"))
                raise NatsRefused(f"NATS {self.shown} refused the connection: {why}")
        writer.write(b"SUB " + self._inbox + b".> 1\r\n")
        self._error = None
        self._task = asyncio.create_task(self._read_loop(reader, writer))

    async def close(self) -> None:
        """Close the connection (waiters fail with :class:`NatsUnavailable`); safe to repeat."""
        task, self._task = self._task, None
        writer, self._writer = self._writer, None
        self._reader = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
        self._fail(NatsUnavailable(f"the connection to NATS {self.shown} was closed"))

    def _fail(self, error: NatsUnavailable) -> None:
        if self._error is None:
            self._error = error
        for fut in self._replies.values():
            if not fut.done():
                fut.set_exception(error)
        self._replies.clear()
        for pong in self._pongs:
            if not pong.done():
                pong.set_exception(error)
        self._pongs.clear()
        if self._acks is not None:
            self._acks.progress.set()

    def _check(self) -> asyncio.StreamWriter:
        if self._error is not None:
            raise self._error
        if self._writer is None:
            raise NatsUnavailable(f"not connected to NATS {self.shown}")
        return self._writer

    # ------------------------------------------------------------------ reading

    async def _read_loop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = bytearray()
        try:
            while True:
                data = await reader.read(1 << 18)
                if not data:
                    raise NatsUnavailable(f"NATS {self.shown} closed the connection")
                buf += data
                used = self._parse(buf, writer)
                if used:
                    del buf[:used]
                if len(buf) > (64 << 20):
                    raise NatsUnavailable(f"NATS {self.shown} sent an oversized protocol message")
        except asyncio.CancelledError:
            raise
        except NatsUnavailable as exc:
            self._fail(exc)
        except (OSError, ValueError, ssl.SSLError) as exc:
            self._fail(
                NatsUnavailable(f"the connection to NATS {self.shown} failed: {type(exc).__name__}: {exc}")
            )

    def _parse(self, buf: bytearray, writer: asyncio.StreamWriter) -> int:
        """Handle every complete protocol message in ``buf``; how many bytes were used."""
        acks = self._acks
        if acks is not None:
            used = _only_acks(buf, acks.prefix)
            if used is not None:  # the common case: nothing but successful acks of this batch
                count, pos = used
                acks.acked += count
                if acks.acked >= acks.target:
                    acks.progress.set()
                return pos
        pos = 0
        size = len(buf)
        while pos < size:
            nl = buf.find(b"\r\n", pos)
            if nl < 0:
                break
            op = buf[pos : pos + 4]
            if op == b"MSG " or op == b"HMSG":
                parts = buf[pos + 4 : nl].split()
                hdr_len = int(parts[-2]) if op == b"HMSG" else 0
                end = nl + 2 + int(parts[-1])
                if end + 2 > size:
                    break
                subject = bytes(parts[0])
                status, text = _status(bytes(buf[nl + 2 : nl + 2 + hdr_len])) if hdr_len else (0, "")
                body = bytes(buf[nl + 2 + hdr_len : end])
                pos = end + 2
                if acks is not None and subject.startswith(acks.prefix):
                    acks.acked += 1
                    why = _refusal(body, status, text)
                    if why is not None:
                        acks.failed[int(subject[len(acks.prefix) :])] = why
                    if acks.acked >= acks.target:
                        acks.progress.set()
                else:
                    self._reply(subject, status, text, body)
                continue
            line = bytes(buf[pos:nl])
            pos = nl + 2
            if line == b"PING":
                writer.write(b"PONG\r\n")
            elif line == b"PONG":
                if self._pongs:
                    pong = self._pongs.pop(0)
                    if not pong.done():
                        pong.set_result(None)
            elif line.startswith(b"-ERR"):
                text = escape_terminal(line[5:].strip().decode(errors="replace"))
                raise NatsUnavailable(f"NATS {self.shown} reported an error: {text}")
            elif line.startswith(b"INFO "):
                with contextlib.suppress(msgspec.DecodeError):
                    self.info = _DECODE.decode(line[5:])
                    self.max_payload = int(self.info.get("max_payload", self.max_payload))
        return pos

    def _reply(self, subject: bytes, status: int, text: str, body: bytes) -> None:
        fut = self._replies.pop(subject, None)
        if fut is not None and not fut.done():
            fut.set_result((status, text, body))

    # ------------------------------------------------------------------ requests

    async def request(self, subject: str, payload: bytes = b"", headers: bytes = b"") -> bytes:
        """Send one message and wait (``timeout``) for its reply: the reply's payload, or
        :class:`NatsRefused` when it is an error (a JetStream ``error`` or a status such as 503)."""
        writer = self._check()
        self._gen += 1
        reply = self._inbox + b".r%d" % self._gen
        fut: asyncio.Future[tuple[int, str, bytes]] = asyncio.get_running_loop().create_future()
        self._replies[reply] = fut
        writer.write(_frame(subject.encode(), reply, headers, payload))
        try:
            async with asyncio.timeout(self.timeout):
                status, text, body = await fut
        except TimeoutError:
            self._replies.pop(reply, None)
            raise NatsUnavailable(
                f"NATS {self.shown} did not answer {subject} within {self.timeout:g} s"
            ) from None
        if status == 503:
            raise NatsRefused(
                f"no responder for {subject} (is JetStream enabled, does the stream exist?)", 503
            )
        why = _refusal(body, status, text)
        if why is not None:
            raise why
        return body

    async def api(self, what: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """A JetStream API call, ``$JS.API.<what>``: the decoded reply (errors raised)."""
        raw = await self.request(f"$JS.API.{what}", b"" if body is None else _JSON.encode(body))
        reply: dict[str, Any] = _DECODE.decode(raw)
        return reply

    async def last_value(self, stream: str, subject: str) -> bytes | None:
        """The payload of the last message on ``subject`` in ``stream`` (None when there is none)."""
        try:
            got = await self.api(f"STREAM.MSG.GET.{stream}", {"last_by_subj": subject})
        except NatsRefused as exc:
            if exc.err_code == _NO_MESSAGE:
                return None
            raise
        data = got.get("message", {}).get("data")
        return base64.b64decode(data) if data else b""

    # ------------------------------------------------------------------ publishing

    async def publish_acked(self, messages: Sequence[tuple[bytes, bytes, bytes]], chunk: int = 512) -> None:
        """Publish ``(subject, headers, payload)`` messages (``headers``: a whole ``NATS/1.0``
        block, see :func:`headers`) and return once JetStream
        acknowledged every one, with at most ``max_in_flight`` outstanding. Raises
        :class:`PublishError` naming the refused ones (after every ack came), and
        :class:`NatsUnavailable` for a lost connection or no ack within ``timeout``."""
        writer = self._check()
        self._gen += 1
        prefix = self._inbox + b".%d." % self._gen
        acks = self._acks = _Acks(prefix)
        total = len(messages)
        window = max(chunk, self.max_in_flight)
        try:
            sent = 0
            while sent < total:
                if sent - acks.acked + chunk > window:
                    await self._wait(acks, sent + chunk - window)
                writer = self._check()  # a lost connection fails now, not after more writes into it
                if writer.is_closing():
                    raise NatsUnavailable(f"the connection to NATS {self.shown} is closing")
                stop = min(total, sent + chunk)
                writer.write(
                    b"".join(
                        [
                            b"HPUB %b %b%d %d %d\r\n%b%b\r\n"
                            % (subject, prefix, i, len(hdr), len(hdr) + len(payload), hdr, payload)
                            for i, (subject, hdr, payload) in enumerate(messages[sent:stop], sent)
                        ]
                    )
                )
                sent = stop
                if writer.transport.get_write_buffer_size() > (8 << 20):
                    async with asyncio.timeout(self.timeout):
                        await writer.drain()
            await self._wait(acks, total)
        except TimeoutError:
            raise NatsUnavailable(
                f"NATS {self.shown} did not take the messages within {self.timeout:g} s"
            ) from None
        finally:
            self._acks = None
        if acks.failed:
            raise PublishError(acks.failed)

    async def _wait(self, acks: _Acks, target: int) -> None:
        """Until ``target`` acks came; :class:`NatsUnavailable` when ``timeout`` passes without one."""
        acks.target = target
        while acks.acked < target:
            self._check()
            before = acks.acked
            acks.progress.clear()
            try:
                async with asyncio.timeout(self.timeout):
                    await acks.progress.wait()
            except TimeoutError:
                if acks.acked == before:
                    raise NatsUnavailable(
                        f"NATS {self.shown}: no acknowledgement within {self.timeout:g} s "
                        f"({target - acks.acked} outstanding)"
                    ) from None
        self._check()

    async def ping(self) -> None:
        """A round trip to the server (bounded by ``timeout``)."""
        writer = self._check()
        pong: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs.append(pong)
        writer.write(b"PING\r\n")
        try:
            async with asyncio.timeout(self.timeout):
                await pong
        except TimeoutError:
            raise NatsUnavailable(
                f"NATS {self.shown} did not answer a PING within {self.timeout:g} s"
            ) from None


def headers(*pairs: tuple[bytes, bytes]) -> bytes:
    """A ``NATS/1.0`` header block of ``(name, value)`` pairs (values must hold no CR/LF)."""
    return b"NATS/1.0\r\n" + b"".join(b"%b: %b\r\n" % kv for kv in pairs) + b"\r\n"


def _only_acks(buf: bytearray, prefix: bytes) -> tuple[int, int] | None:
    """``(acks, bytes used)`` when ``buf`` starts with nothing but complete, successful acks on
    ``prefix``, counted by C-speed scans (each such ack is exactly two lines, ``MSG ...`` and its
    JSON); None when anything else is among them (an error, a status, a PING, another reply): then
    the caller parses message by message. What follows the last complete ack stays in ``buf``."""
    tag = b"MSG " + prefix
    if not buf.startswith(tag):
        return None
    last = buf.rfind(tag)
    nl = buf.find(b"\r\n", last)
    end = last
    if nl > 0:
        full = nl + 2 + int(buf[buf.rfind(b" ", last, nl) + 1 : nl]) + 2
        if full <= len(buf):
            end = full
    if end == 0:
        return None
    count = buf.count(tag, 0, end)
    if (
        buf.count(b"MSG ", 0, end) != count
        or buf.count(b"\r\n", 0, end) != 2 * count
        or buf.find(b'"error"', 0, end) >= 0
        or buf.find(b"HMSG", 0, end) >= 0
    ):
        return None
    return count, end


def _frame(subject: bytes, reply: bytes, headers: bytes, payload: bytes) -> bytes:
    """One ``PUB`` (no headers) or ``HPUB`` protocol message."""
    if headers:
        return b"HPUB %b %b %d %d\r\n%b%b\r\n" % (
            subject,
            reply,
            len(headers),
            len(headers) + len(payload),
            headers,
            payload,
        )
    return b"PUB %b %b %d\r\n%b\r\n" % (subject, reply, len(payload), payload)
