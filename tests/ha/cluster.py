"""A 3-node JetStream cluster of ``nats-server`` processes on loopback, a counting TCP proxy, and
HA recorder processes (``python3 -m tickwire record --ha ...``) for the HA tests and benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.waiting import poll

M = TypeVar("M")


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@dataclass
class Cluster:
    """Three JetStream servers routed to each other; ``url`` lists all of them."""

    root: Path
    ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return ",".join(f"nats://127.0.0.1:{p}" for p in self.ports)

    def start(self, n: int = 3) -> None:
        exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
        ports = free_ports(2 * n)
        self.ports, routes = ports[:n], ports[n:]
        for i in range(n):
            others = ",".join(f"nats://127.0.0.1:{r}" for j, r in enumerate(routes) if j != i)
            cmd = [
                exe, "-a", "127.0.0.1", "-p", str(self.ports[i]), "-n", f"tw{i}",
                "-js", "-sd", str(self.root / f"n{i}"),
                "--cluster_name", "twha", "--cluster", f"nats://127.0.0.1:{routes[i]}", "--routes", others,
                "--no_advertise",  # a client knows only the URLs it was given (a proxy can cut it off)
            ]  # fmt: skip
            self.procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    async def ready(self, within: float = 20.0) -> None:
        """Until JetStream answers on every node (a meta leader is elected)."""
        import nats

        deadline = time.monotonic() + within
        for port in self.ports:
            while True:
                try:
                    nc = await nats.connect(
                        f"nats://127.0.0.1:{port}", connect_timeout=1, allow_reconnect=False,
                        max_reconnect_attempts=1, error_cb=_quiet,
                    )  # fmt: skip
                    try:
                        await nc.jetstream().account_info()
                        break
                    finally:
                        await nc.close()
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.1)

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


async def _quiet(_exc: Exception) -> None:
    """nats-py logs a traceback per refused attempt while the servers start."""


@contextlib.contextmanager
def cluster(root: Path) -> Iterator[Cluster]:
    c = Cluster(root)
    try:
        c.start()
        yield c
    finally:
        c.stop()


class CountingProxy:
    """TCP proxy to ``target`` that knows how many connections are open at every moment: ``opened``
    (total), ``open`` (now), ``max_open`` and ``log`` of ``(monotonic, open)`` at each change."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.opened = 0
        self.open = 0
        self.max_open = 0
        self.log: list[tuple[float, int]] = []
        self.changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def _note(self, delta: int) -> None:
        self.open += delta
        self.opened += max(0, delta)
        self.max_open = max(self.max_open, self.open)
        self.log.append((time.monotonic(), self.open))
        self.changed.set()

    async def wait(self, cond: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within):
            while not cond():
                self.changed.clear()
                await self.changed.wait()

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self._note(+1)
        try:
            ur, uw = await asyncio.open_connection(*self.target)
        except OSError:
            w.close()
            self._note(-1)
            return
        self._writers += [w, uw]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(1 << 16):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError):
                dst.close()

        try:
            await asyncio.gather(pipe(r, uw), pipe(ur, w))
        finally:
            self._note(-1)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self._server = None

    async def cut(self) -> None:
        """Close every connection and stop accepting (the network to ``target`` is gone)."""
        await self.close()
        for w in list(self._writers):
            w.close()
        self._writers.clear()


@dataclass
class HaRecorder:
    """One ``tickwire record --ha`` process (its stderr in ``log``)."""

    args: Sequence[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment (keys a provider reads there)."""

    def start(self) -> HaRecorder:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("MASSIVE_API_KEY", None)
        env.update(self.env)
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tickwire", "record", *self.args],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def astop(self) -> int | None:
        """:meth:`stop` from a test's event loop, without blocking it: the simulator, the proxy and
        the REST server a stopping recorder still talks to (its close handshake, a backfill in
        flight) run on that loop, and a blocking wait starved them until the kill."""
        return await asyncio.to_thread(self.stop)

    def stop(self) -> int | None:
        """SIGTERM (after SIGCONT), then SIGKILL after 15 s; the exit code. Blocks: from a
        coroutine use :meth:`astop`."""
        p = self.proc
        if p is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
        try:
            return p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait(5)


def wait_listening(port: int, timeout: float = 10.0) -> None:
    def up() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    poll(up, bool, timeout, 0.05)


async def eventually(check: Callable[[], Awaitable[Any]], within: float, what: str) -> Any:
    """Poll an async check (other processes: nothing to await) until it returns a truthy value."""
    deadline = time.monotonic() + within
    error: BaseException | None = None
    while True:
        try:  # a stream just created answers only once its replicas elected a leader
            got = await check()
        except Exception as exc:
            got, error = None, exc
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what} (last error: {error!r})")
        await asyncio.sleep(0.1)


async def stream_messages(url: str, stream: str, decode: Callable[[str, Any, bytes], M]) -> list[M]:
    """Every message of ``stream``, decoded, oldest first (none when it does not exist yet)."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url.split(","), allow_reconnect=False, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            return []
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            m = await js.get_msg(stream, seq)
            out.append(decode(m.subject or "", m.headers, m.data or b""))
        return out
    finally:
        await nc.close()
