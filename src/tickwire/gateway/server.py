"""The gateway: one upstream, the Massive protocol served at ``ws://H:P/<market>`` to any number of clients.

Theory of operation
-------------------
A picows server (the one the simulator uses) accepts clients at ``/<market>``; each gets a
:class:`~tickwire.gateway.session.ClientSession` (token auth, channels) and joins the
:class:`~tickwire.gateway.routing.Router`, whose reference counts decide what is subscribed
upstream. One pump task reads the :class:`~tickwire.gateway.upstream.Upstream`'s event batches
and fans each out synchronously, without awaiting any client:

* an event is routed by ``(ev, ticker)`` to the groups of clients with equal channels, and its
  wire JSON is encoded once (the msgspec field names are the wire keys), only if someone wants it;
* each group's frame (``[`` + its events' JSON + ``]``) is built once and the same bytes are
  written to each member's transport;
* a client whose send buffer would pass ``buffer_bytes`` is sent the real server's
  ``slow_consumer`` status and closed (1000; aborted after ``close_timeout``), and leaves the
  router at once: it never slows the others, and the fan-out never waits for a socket.

Upstream control events: a rejected subscription is passed to the clients holding the channel as
the upstream's ``error`` status (and they no longer hold it); informational statuses go to every
client; the lifecycle statuses (``connected``, ``auth_*``, ``success``, ``max_connections``,
``slow_consumer``...) concern the gateway's own connection and stay there (the upstream client
reconnects and resubscribes by itself). When the upstream fails for good (a rejected key), every
client gets ``force_disconnect`` and :meth:`Gateway.run` raises the error.

``GET /metrics`` on the same port (or ``metrics_port``) is Prometheus text (:mod:`.observe`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Self

import msgspec
from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from tickwire.errors import ConfigError, TickwireError
from tickwire.events import (
    Connected,
    Disconnected,
    Event,
    RawEvent,
    Status,
    SubscriptionRejected,
)
from tickwire.gateway.connection import Client, status_frame
from tickwire.gateway.observe import ClientInfo, GatewayCounters, render_metrics
from tickwire.gateway.routing import Group, Router, UpstreamChange
from tickwire.gateway.session import AUTH_CLOSE_CODE, AUTH_TIMEOUT, CONNECTED, key_for
from tickwire.gateway.upstream import Upstream
from tickwire.massive.catalog import event_map
from tickwire.redact import safe_text

__all__ = ["Gateway", "is_loopback"]

log = logging.getLogger("tickwire.gateway")

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SLOW_CONSUMER_CLOSE_CODE = 1000
"""As the real server: the official client treats the close after ``slow_consumer`` as normal."""
_LIFECYCLE = frozenset(
    {
        "connected",
        "auth_success",
        "auth_failed",
        "auth_timeout",
        "auth_required",
        "success",
        "error",
        "max_connections",
        "slow_consumer",
        "force_disconnect",
    }
)


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: an address only this machine reaches."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Gateway:
    """Serve one upstream's Massive stream to many clients. See the module docstring.

    ``async with Gateway(upstream, port=0) as gw:`` starts it (:attr:`url`, :attr:`port`);
    :meth:`run` serves until :meth:`aclose` or a fatal upstream error.

    :param upstream: where events come from (:class:`~tickwire.gateway.upstream.MassiveUpstream`...).
    :param host: the interface to bind; ``127.0.0.1`` unless you mean it (then give ``tokens``).
    :param port: the TCP port, ``0`` for a free one.
    :param tokens: the auth ``params`` clients must send; ``None`` (or empty) accepts any value.
    :param buffer_bytes: per-client send-buffer bound; a client over it is cut with ``slow_consumer``.
    :param auth_timeout: seconds a client may stay unauthenticated (``auth_timeout`` and 1008).
    :param close_timeout: seconds to wait for a client's close handshake before aborting.
    :param metrics_port: serve ``/metrics`` on this port too (``0``: a free one), besides the main port.
    :param socket_send_buffer: ``SO_SNDBUF`` of client sockets (small values make a slow client show
        up sooner, e.g. in tests); ``None`` keeps the OS default.
    :param max_frame_size: the largest client frame accepted (subscribe params are up to ~1 MB).
    :param ping_interval: ping idle clients every this many seconds (``None``: never).
    """

    def __init__(
        self,
        upstream: Upstream,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: Iterable[str] | None = None,
        buffer_bytes: int = 8 * 1024 * 1024,
        auth_timeout: float = 10.0,
        close_timeout: float = 2.0,
        metrics_port: int | None = None,
        socket_send_buffer: int | None = None,
        max_frame_size: int = 4 * 1024 * 1024,
        ping_interval: float | None = 20.0,
    ) -> None:
        if buffer_bytes < 1:
            raise ConfigError("buffer_bytes must be >= 1")
        given = tuple(t for t in tokens or () if t)
        if not given and not is_loopback(host):
            raise ConfigError(f"host {host!r} is not loopback: give at least one token for clients")
        self.upstream = upstream
        self.market = upstream.market
        self.host = host
        self._port = port
        self.tokens: tuple[str, ...] | None = given or None
        self.buffer_bytes = buffer_bytes
        self.auth_timeout = auth_timeout
        self.close_timeout = close_timeout
        self.metrics_port_wanted = metrics_port
        self.socket_send_buffer = socket_send_buffer
        self.max_frame_size = max_frame_size
        self.ping_interval = ping_interval
        self.path = "/" + self.market.value
        self.router = Router(key_for(self.market))
        self._key = self.router.key
        self._counters = GatewayCounters()
        self._disconnect_reasons: dict[str, int] = {}
        self._clients: dict[int, Client] = {}
        self._next_id = 0
        self._classes: dict[type[Event], tuple[str, str | None]] = {}
        for prefix, cls in event_map(self.market).items():
            names = cls.__struct_fields__
            attr = next((a for a in ("symbol", "pair", "ticker") if a in names), None)
            self._classes[cls] = (prefix, attr)
        self._encode = msgspec.json.Encoder().encode
        self._servers: list[asyncio.Server] = []
        self._pump: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._closed = False
        self.error: BaseException | None = None
        self.metrics_port: int | None = None

    def __repr__(self) -> str:
        state = f"serving {self.url}" if self._servers else "stopped"
        return f"<Gateway {state} clients={len(self._clients)} upstream={self.upstream!r}>"

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        if not self._servers:
            return self._port
        sock = self._servers[0].sockets[0]
        return int(sock.getsockname()[1])

    @property
    def url(self) -> str:
        """``ws://host:port/<market>``: what clients connect to."""
        return f"ws://{self.host}:{self.port}{self.path}"

    @property
    def feed(self) -> str:
        """``host:port``: the ``feed`` of clients that build ``ws://{feed}/{market}`` themselves."""
        return f"{self.host}:{self.port}"

    async def start(self) -> Self:
        """Listen, start the upstream and the pump. Returns ``self``."""
        if self._servers:
            return self
        common: dict[str, Any] = {
            "websocket_handshake_timeout": 5,
            "max_frame_size": self.max_frame_size,
            "enable_auto_ping": self.ping_interval is not None,
            "auto_ping_idle_timeout": self.ping_interval or 20.0,
            "auto_ping_reply_timeout": self.ping_interval or 20.0,
        }
        self._servers.append(await ws_create_server(self._route, self.host, self._port, **common))
        if self.metrics_port_wanted is not None:
            server = await ws_create_server(self._metrics_only, self.host, self.metrics_port_wanted, **common)
            self._servers.append(server)
            self.metrics_port = int(server.sockets[0].getsockname()[1])
        await self.upstream.start()
        self._pump = asyncio.get_running_loop().create_task(self._pump_loop(), name="tickwire-gateway-pump")
        return self

    async def run(self) -> None:
        """Serve until :meth:`aclose` (returns) or the upstream fails for good (raises its error)."""
        await self.start()
        assert self._pump is not None
        await asyncio.shield(self._pump)
        if self.error is not None:
            raise self.error

    async def aclose(self) -> None:
        """Close every client (1001), the listening sockets and the upstream."""
        if self._closed:
            return
        self._closed = True
        for client in list(self._clients.values()):
            self._close(client, 1001, "going_away")
        for server in self._servers:
            server.close()
        await self.upstream.close()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
        for client in list(self._clients.values()):
            self._abort(client)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ observation

    @property
    def counters(self) -> GatewayCounters:
        """A snapshot of the running totals."""
        return self._counters.copy()

    @property
    def disconnect_reasons(self) -> dict[str, int]:
        """Client connections ended, by reason (``slow_consumer``, ``auth_failed``, ``client_closed``...)."""
        return dict(self._disconnect_reasons)

    def clients(self) -> list[ClientInfo]:
        """The open client connections, oldest first."""
        return [c.info() for c in self._clients.values() if c.open]

    def metrics_text(self) -> str:
        """The ``/metrics`` page (Prometheus text)."""
        return render_metrics(
            self._counters,
            self.clients(),
            self._disconnect_reasons,
            buffer_limit=self.buffer_bytes,
            upstream_connected=self.upstream.connected,
            upstream_channels=len(self.router.upstream),
            upstream=self.upstream.stats(),
        )

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "a condition",
    ) -> None:
        """Wait until ``predicate()`` holds, re-checked whenever the gateway's state changes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"gateway: timed out after {timeout:g}s waiting for {what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.25))

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # ------------------------------------------------------------------ upgrades and /metrics

    def _metrics_response(self) -> WSUpgradeResponseWithListener:
        body = self.metrics_text().encode()
        response = WSUpgradeResponse.create_ok_response(body, {"Content-Type": METRICS_CONTENT_TYPE})
        return WSUpgradeResponseWithListener(response, None)

    def _metrics_only(self, request: WSUpgradeRequest) -> WSUpgradeResponseWithListener | None:
        if request.path.split(b"?", 1)[0] == b"/metrics" and request.method == b"GET":
            return self._metrics_response()
        return None

    def _route(self, request: WSUpgradeRequest) -> WSListener | WSUpgradeResponseWithListener | None:
        path = request.path.split(b"?", 1)[0].decode("latin-1").rstrip("/")
        if path == "/metrics" and request.method == b"GET" and "upgrade" not in request.headers:
            return self._metrics_response()
        if path != self.path or self._closed:
            body = f"this gateway serves {self.path} (and /metrics), not {safe_text(path[:100])}".encode()
            return WSUpgradeResponseWithListener(WSUpgradeResponse.create_error_response(404, body), None)
        self._next_id += 1
        return Client(self, self._next_id)

    # ------------------------------------------------------------------ clients

    def _opened(self, client: Client) -> None:
        client.open = True
        if self.socket_send_buffer is not None and client.transport is not None:
            sock = client.transport.underlying_transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.socket_send_buffer)
        self._clients[client.id] = client
        self._counters.connections += 1
        self._send(client, status_frame(CONNECTED))
        if self.auth_timeout > 0:
            loop = asyncio.get_running_loop()
            client.auth_timer = loop.call_later(self.auth_timeout, self._auth_timed_out, client)
        self._notify()

    def _received(self, client: Client, payload: bytes) -> None:
        reply = client.session.handle(payload)
        if reply.statuses:
            self._send(client, status_frame(*reply.statuses))
        if reply.auth is not None and client.auth_timer is not None:
            client.auth_timer.cancel()
            client.auth_timer = None
        if reply.auth is True:
            self._counters.auth_success += 1
        elif reply.auth is False:
            self._counters.auth_failed += 1
            client.reason = "auth_failed"
        if reply.close_code is not None:
            self._close(client, reply.close_code, client.reason)
        elif reply.added:
            self._apply(self.router.add(client.id, reply.added))
        elif reply.removed:
            self._apply(self.router.remove(client.id, reply.removed))
        self._notify()

    def _auth_timed_out(self, client: Client) -> None:
        client.auth_timer = None
        if client.open and not client.closing and not client.session.authenticated:
            self._counters.auth_timeout += 1
            self._send(client, status_frame(AUTH_TIMEOUT))
            self._close(client, AUTH_CLOSE_CODE, "auth_timeout")
            self._notify()

    def _client_closed(self, client: Client, frame: WSFrame) -> None:
        """The client's close frame: answer it (the close handshake) and end the stream."""
        transport = client.transport
        assert transport is not None
        if not transport.is_close_frame_sent:
            code = frame.get_close_code()
            transport.send_close(WSCloseCode.OK if code == WSCloseCode.NO_INFO else code)
        self._leave(client)
        transport.disconnect()

    def _disconnected(self, client: Client) -> None:
        client.open = False
        self._leave(client)
        for timer in (client.auth_timer, client.close_timer):
            if timer is not None:
                timer.cancel()
        client.auth_timer = client.close_timer = None
        if self._clients.pop(client.id, None) is not None:
            self._counters.disconnects += 1
            reasons = self._disconnect_reasons
            reasons[client.reason] = reasons.get(client.reason, 0) + 1
        self._notify()

    def _leave(self, client: Client) -> None:
        """Stop routing to ``client`` and release what it held upstream."""
        client.closing = True
        if not self._closed:
            self._apply(self.router.drop(client.id))

    def _send(self, client: Client, data: bytes) -> bool:
        transport = client.transport
        if transport is None or not client.open or transport.is_close_frame_sent:
            return False
        transport.send(WSMsgType.TEXT, data)
        return True

    def _close(self, client: Client, code: int, reason: str) -> None:
        """Send a close frame, stop routing; abort if the handshake is not completed in ``close_timeout``."""
        transport = client.transport
        if transport is None or not client.open or client.closing:
            return
        client.reason = reason
        self._leave(client)
        transport.send_close(WSCloseCode(code))
        client.close_timer = asyncio.get_running_loop().call_later(self.close_timeout, self._abort, client)
        self._notify()

    def _abort(self, client: Client) -> None:
        if client.transport is not None and client.open:
            client.transport.disconnect(graceful=False)

    def _slow_consumer(self, client: Client) -> None:
        self._counters.slow_consumers += 1
        message = (
            f"Slow consumer: more than {self.buffer_bytes} bytes are waiting to be sent to this "
            "connection. Read frames into a queue immediately and process them elsewhere."
        )
        self._send(client, status_frame(("slow_consumer", message)))
        self._close(client, SLOW_CONSUMER_CLOSE_CODE, "slow_consumer")
        log.warning("gateway client #%d (%s) cut: slow consumer", client.id, client.peer)

    # ------------------------------------------------------------------ upstream

    def _apply(self, change: UpstreamChange) -> None:
        if not change:
            return
        if change.subscribe:
            self._counters.upstream_subscribes += len(change.subscribe)
            self.upstream.subscribe(change.subscribe)
        if change.unsubscribe:
            self._counters.upstream_unsubscribes += len(change.unsubscribe)
            self.upstream.unsubscribe(change.unsubscribe)

    async def _pump_loop(self) -> None:
        try:
            async for batch in self.upstream.batches():
                self._fan_out(batch)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a fatal upstream error (rejected key, reconnects exhausted)
            self.error = exc
            detail = safe_text(str(exc)) if isinstance(exc, TickwireError) else type(exc).__name__
            log.error("gateway upstream failed: %s", detail)
            frame = status_frame(("force_disconnect", f"the gateway's upstream failed: {detail}"))
            for client in list(self._clients.values()):
                self._send(client, frame)
                self._close(client, 1011, "upstream_failed")
        finally:
            self._notify()

    def _fan_out(self, batch: list[Event]) -> None:
        """Route one upstream batch: encode each wanted event once, one frame per group."""
        classes = self._classes
        match = self.router.match
        key = self._key
        encode = self._encode
        parts: dict[Group, list[bytes]] = {}
        routed = unrouted = 0
        for ev in batch:
            info = classes.get(type(ev))
            if info is None:
                if isinstance(ev, RawEvent) and ev.type:  # an event type this tickwire does not know
                    groups = match(ev.type, None)
                    data = ev.data
                else:
                    self._control(ev)
                    continue
            else:
                prefix, attr = info
                sym = getattr(ev, attr) if attr is not None else None
                groups = match(prefix, key(sym) if sym is not None else None)
                if not groups:
                    unrouted += 1
                    continue
                data = encode(ev)
            routed += 1
            for group in groups:
                found = parts.get(group)
                if found is None:
                    parts[group] = [data]
                else:
                    found.append(data)
        counters = self._counters
        counters.events_in += routed + unrouted
        counters.events_routed += routed
        counters.events_unrouted += unrouted
        if parts:
            clients = self._clients
            for group, datas in parts.items():
                frame = b"[" + b",".join(datas) + b"]"
                n = len(datas)
                for cid in list(group.members):
                    client = clients.get(cid)
                    if client is not None:
                        self._send_data(client, frame, n)

    def _send_data(self, client: Client, frame: bytes, n: int) -> None:
        if client.closing:
            return
        size = len(frame)
        if client.buffered() + size > self.buffer_bytes:
            self._slow_consumer(client)
            return
        transport = client.transport
        assert transport is not None
        transport.send(WSMsgType.TEXT, frame)
        client.events_sent += n
        client.frames_sent += 1
        client.bytes_sent += size
        counters = self._counters
        counters.events_sent += n
        counters.frames_sent += 1
        counters.bytes_sent += size

    def _control(self, ev: Event) -> None:
        """An upstream control event: pass on what concerns clients, count the rest."""
        if type(ev) is Status:
            if ev.status not in _LIFECYCLE:
                self._counters.upstream_statuses_passed += 1
                frame = status_frame((ev.status, ev.message))
                for client in list(self._clients.values()):
                    if client.session.authenticated and not client.closing:
                        self._send(client, frame)
        elif isinstance(ev, SubscriptionRejected):
            self._counters.upstream_rejections += 1
            if ev.channel is None:
                log.warning("the upstream refused a request: %s", safe_text(ev.message))
                return
            frame = status_frame(("error", ev.message))
            for cid in self.router.holders(ev.channel):
                holder = self._clients.get(cid)
                if holder is None:
                    continue
                holder.session.forget(ev.channel)
                self._send(holder, frame)
                self._apply(self.router.remove(cid, [ev.channel]))
            self._notify()
        elif isinstance(ev, Connected):
            self._counters.upstream_connects += 1
            log.info("gateway upstream connected (epoch %d)", ev.epoch)
            self._notify()
        elif isinstance(ev, Disconnected):
            self._counters.upstream_disconnects += 1
            log.warning("gateway upstream disconnected: %s", safe_text(ev.reason))
            self._notify()
