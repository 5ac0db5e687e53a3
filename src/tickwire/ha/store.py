"""The lease key's I/O: one key of a JetStream KV bucket, read and compare-and-set with nats-py.

nats-py's KV API is used as it is (``create``, ``update(last=...)``, ``get``): the lease makes a
few requests per second, so the hand-written publish client of the sink (:mod:`tickwire.sinks.
nats_wire`, kept for its rate) has nothing to win here. The connection reconnects to the other
servers of ``urls`` on its own (a leader whose server dies renews through another one within the
ttl); every request is bounded by ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import msgspec

from tickwire.errors import NatsUnavailable
from tickwire.ha.lease import Entry, LeaseValue
from tickwire.redact import escape_terminal, mask_secrets

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js.kv import KeyValue

__all__ = ["LEASE_BUCKET", "LeaseStore"]

LEASE_BUCKET = "tickwire_ha"
"""The default KV bucket of the HA leases (one key per ``--ha-name``)."""

_DECODE = msgspec.json.Decoder(LeaseValue)
_ENCODE = msgspec.json.Encoder()


class LeaseStore:
    """The lease key ``name`` in bucket ``bucket`` (created with ``replicas`` when missing)."""

    def __init__(
        self,
        urls: str,
        name: str,
        *,
        bucket: str = LEASE_BUCKET,
        replicas: int = 1,
        connect_timeout: float = 2.0,
        timeout: float = 2.0,
    ) -> None:
        self.servers = [u.strip() for u in urls.split(",") if u.strip()]
        self.shown = mask_secrets(urls)
        self.name = name
        self.bucket = bucket
        self.replicas = replicas
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._nc: Client | None = None
        self._kv: KeyValue | None = None

    async def connect(self) -> None:
        """Connect (bounded) and open or create the bucket; :class:`NatsUnavailable` otherwise."""
        import nats
        from nats.errors import Error as NatsPyError
        from nats.js.errors import BucketNotFoundError

        async def _quiet(_exc: Exception) -> None:
            """nats-py logs a traceback per failed attempt by default; the caller gets the error."""

        try:
            async with asyncio.timeout(2 * len(self.servers) * self.connect_timeout + 1):
                self._nc = await nats.connect(
                    self.servers,
                    connect_timeout=self.connect_timeout,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.1,
                    error_cb=_quiet,
                )
            js = self._nc.jetstream(timeout=self.timeout)
            try:
                self._kv = await js.key_value(self.bucket)
            except BucketNotFoundError:
                from nats.js.api import KeyValueConfig

                self._kv = await js.create_key_value(
                    KeyValueConfig(bucket=self.bucket, history=1, replicas=self.replicas)
                )
        except (OSError, TimeoutError, NatsPyError) as exc:
            await self.close()
            raise NatsUnavailable(f"HA: NATS {self.shown} is not usable ({_said(exc)})") from None

    async def close(self) -> None:
        nc, self._nc, self._kv = self._nc, None, None
        if nc is not None:
            with contextlib.suppress(Exception):
                await nc.close()

    def _bucket(self) -> KeyValue:
        if self._kv is None:
            raise NatsUnavailable(f"HA: not connected to NATS {self.shown}")
        return self._kv

    async def read(self) -> Entry | None:
        """The key's revision and value; None when it does not exist (or was deleted)."""
        from nats.js.errors import KeyNotFoundError

        try:
            async with asyncio.timeout(self.timeout):
                got = await self._bucket().get(self.name)
        except KeyNotFoundError:
            return None
        except Exception as exc:
            raise _unavailable(self.shown, exc) from None
        try:
            value: LeaseValue | None = _DECODE.decode(got.value or b"")
        except msgspec.DecodeError:
            value = None
        return Entry(int(got.revision or 0), value)

    async def write(self, kind: str, revision: int, value: LeaseValue) -> int | None:
        """``create`` or ``update`` (expecting ``revision``): the new revision; None when the
        compare-and-set lost (the key exists, or has another revision)."""
        from nats.js.errors import APIError, KeyWrongLastSequenceError

        data = _ENCODE.encode(value)
        kv = self._bucket()
        try:
            async with asyncio.timeout(self.timeout):
                if kind == "create":
                    return int(await kv.create(self.name, data))
                return int(await kv.update(self.name, data, last=revision))
        except KeyWrongLastSequenceError:
            return None
        except APIError as exc:
            if getattr(exc, "err_code", None) == 10071:  # wrong last sequence, as a plain APIError
                return None
            raise _unavailable(self.shown, exc) from None
        except Exception as exc:
            raise _unavailable(self.shown, exc) from None


def _said(exc: BaseException) -> str:
    text = escape_terminal(mask_secrets(str(exc)))[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _unavailable(shown: str, exc: BaseException) -> NatsUnavailable:
    return NatsUnavailable(f"HA: NATS {shown} failed ({_said(exc)})")
