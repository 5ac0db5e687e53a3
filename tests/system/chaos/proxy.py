"""A TCP proxy the chaos tests put in front of a service, to take it away and give it back.

Every :class:`ChaosProxy` listens on ``127.0.0.1`` (an ephemeral port) and forwards each accepted
connection to its upstream (PostgreSQL, Redis, NATS). The test switches its :attr:`mode` at any
moment, from any thread:

* ``pass``: forward (the default);
* ``refuse``: new connections are reset at once (what a stopped server looks like to a client);
  connections already open keep working until :meth:`cut`;
* ``blackhole``: new connections are accepted and never answered, open ones stop moving bytes
  (a hung server, a dead route: the case that hangs clients without timeouts);
* ``deaf``: requests still reach the server, its answers never come back (a one-way partition:
  the server runs the client's ``BEGIN ... FOR UPDATE`` and then waits for it forever).

:meth:`abandon` lets new connections through while the open ones stay black-holed for good (the
server's view of a client whose machine vanished: its sessions, and their locks, linger).
:meth:`cut` resets every open connection (a server crash, a firewall flush). The proxies run on one
:class:`ProxyLoop`, an event loop on a daemon thread, so they keep working while a test blocks on
a subprocess.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

__all__ = ["ChaosProxy", "Mode", "ProxyLoop"]

Mode = Literal["pass", "refuse", "blackhole", "deaf"]
T = TypeVar("T")
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, not FIN


class ProxyLoop:
    """An asyncio loop on a daemon thread that runs every proxy of a test session."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="chaos-proxies", daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` on the loop and wait for its result."""
        fut: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class _Pipe:
    """One proxied connection: the client's and the upstream's streams, the copy tasks, and whether
    bytes may flow each way (cleared while black-holed or deaf; for good once abandoned)."""

    def __init__(self, client: asyncio.StreamWriter, mode: Mode) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.to_server = asyncio.Event()
        self.to_client = asyncio.Event()
        self.abandoned = False
        self.apply(mode)

    def apply(self, mode: Mode) -> None:
        if self.abandoned:
            return
        for flow, on in ((self.to_server, mode in ("pass", "deaf")), (self.to_client, mode == "pass")):
            if on:
                flow.set()
            else:
                flow.clear()

    def reset(self) -> None:
        for task in self.tasks:
            task.cancel()
        for writer in (self.client, self.upstream):
            if writer is not None:
                _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (the peer sees ``ECONNRESET``, not an orderly end)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.transport.abort()


class ChaosProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream`` (host, port), under the test's control."""

    def __init__(self, runner: ProxyLoop, upstream: tuple[str, int], name: str = "") -> None:
        self.runner = runner
        self.upstream = upstream
        self.name = name or f"{upstream[0]}:{upstream[1]}"
        self.mode: Mode = "pass"
        self.accepted = 0
        """Connections accepted so far, in every mode (a client's attempts)."""
        self.to_server_bytes = 0
        """Bytes forwarded to the server so far."""
        self.trip: bytes | None = None
        """When set, the first request holding these bytes makes its connection vanish (see
        :meth:`vanish_after`)."""
        self.tripped = threading.Event()
        self._pipes: set[_Pipe] = set()
        self._server: asyncio.Server | None = None
        self.port = runner.call(self._start())

    def __repr__(self) -> str:
        return f"<ChaosProxy {self.name} :{self.port} {self.mode}>"

    # -- control (any thread) -----------------------------------------------------------------

    def set_mode(self, mode: Mode) -> None:
        """Switch to ``pass``, ``refuse`` or ``blackhole`` (see the module doc)."""
        self.runner.call(self._set_mode(mode))

    def cut(self) -> int:
        """Reset every open connection; how many there were."""
        return self.runner.call(self._cut())

    def down(self, mode: Literal["refuse", "blackhole", "deaf"] = "refuse") -> int:
        """The service is gone: new connections fail as ``mode`` says and open ones are cut (how
        many were open)."""
        self.set_mode(mode)
        return self.cut()

    def up(self) -> None:
        self.set_mode("pass")

    def vanish_after(self, marker: bytes) -> None:
        """The next request holding ``marker`` (``b"FOR UPDATE"``) reaches the server, and then its
        connection vanishes (nothing more either way, never closed): the server is left inside the
        client's transaction, as when the client's machine dies."""
        self.tripped.clear()
        self.trip = marker

    def abandon(self) -> int:
        """New connections pass again, but the open ones stay black-holed for good, never closed:
        what a server sees of a client whose host vanished (power cut, partition). How many."""
        return self.runner.call(self._abandon())

    @property
    def open_connections(self) -> int:
        return len(self._pipes)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.runner.call(self._close())

    # -- the loop's side -------------------------------------------------------------------------

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _set_mode(self, mode: Mode) -> None:
        self.mode = mode
        for pipe in self._pipes:
            pipe.apply(mode)

    async def _abandon(self) -> int:
        for pipe in self._pipes:
            pipe.apply("blackhole")
            pipe.abandoned = True
        self.mode = "pass"
        return len(self._pipes)

    async def _cut(self) -> int:
        pipes = list(self._pipes)
        self._pipes.clear()
        for pipe in pipes:
            pipe.reset()
        return len(pipes)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._cut()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "refuse":
            _reset(writer)
            return
        pipe = _Pipe(writer, self.mode)
        self._pipes.add(pipe)
        try:
            await pipe.to_server.wait()  # a black-holed connection waits here, unanswered
            if pipe not in self._pipes:  # cut while waiting
                return
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            pipe.upstream = up_writer
            if pipe not in self._pipes:
                pipe.reset()
                return
            pipe.tasks = [
                asyncio.ensure_future(self._copy(pipe.to_server, reader, up_writer, pipe=pipe)),
                asyncio.ensure_future(self._copy(pipe.to_client, up_reader, writer)),
            ]
            # One side gone ends the pipe, as it would end a direct connection: a client killed
            # with unread data (a reset) must not leave its server session open (and its locks).
            done, _ = await asyncio.wait(pipe.tasks, return_when=asyncio.FIRST_COMPLETED)
            if all(not t.cancelled() and t.exception() is None for t in done):
                for task in pipe.tasks:
                    task.cancel()
                for w in (writer, up_writer):
                    w.close()
                self._pipes.discard(pipe)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            if pipe in self._pipes:
                self._pipes.discard(pipe)
                pipe.reset()

    async def _copy(
        self,
        flowing: asyncio.Event,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        pipe: _Pipe | None = None,
    ) -> None:
        """Copy bytes while this direction may flow; an end of stream ends the pipe."""
        while True:
            await flowing.wait()  # held: nothing read, so nothing (not even an end of stream) passes
            data = await src.read(65536)
            if not data:
                break
            await flowing.wait()  # held meanwhile: the bytes read are kept, never sent
            if pipe is not None:  # the client-to-server direction
                self.to_server_bytes += len(data)
                if self.trip is not None and self.trip in data:
                    self.trip = None
                    dst.write(data)  # this request arrives; then the connection vanishes for good
                    pipe.apply("blackhole")
                    pipe.abandoned = True
                    self.tripped.set()
                    continue
            dst.write(data)
            await dst.drain()
