"""The dashboard's HTTP server (aiohttp): the page, its static files, ``/ws`` pushes and ``/metrics``.

Pushes are paced by one ticker: every ``push_interval`` seconds it refreshes the connection panel
and wakes each page's sender, which sends one message with everything newer than that page's
cursor. A sender still busy with a slow page simply misses ticks (its next message carries the
accumulated changes), so the stream never waits for a browser and no per-page backlog grows;
a page whose send stalls for ``send_timeout`` seconds is disconnected (it reconnects by itself).

Every request first passes the :class:`~tickwire.dashboard.access.AccessPolicy`: the ``Host`` it
names (DNS rebinding), the ``Origin`` of a WebSocket, and the token when one is set (refused
requests are counted per reason in ``/metrics``). The page is served with a strict
Content-Security-Policy, no referrer and no framing.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from urllib.parse import quote

import msgspec
from aiohttp import WSMsgType, web

from tickwire.dashboard.access import AccessPolicy
from tickwire.dashboard.state import Cursor, DashboardState
from tickwire.prometheus import CONTENT_TYPE, Metric, render
from tickwire.redact import safe_text

__all__ = ["STATIC_DIR", "DashboardServer"]

log = logging.getLogger("tickwire.dashboard")

STATIC_DIR = Path(__file__).parent / "static"
_ENC = msgspec.json.Encoder()
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The page loads only its own files and talks only to its own /ws: no inline script, no framing.
_PAGE_HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    ),
    "referrer-policy": "no-referrer",  # the token may be in the page's URL
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


class DashboardServer:
    """Serve ``state`` on ``http://host:port/`` (loopback by default; ``port=0`` picks a free one).

    :param allow_hosts: ``Host`` names served besides localhost and the bound address (``"*"``: any).
    :param token: when set, every request must carry it (``?token=`` or ``Authorization: Bearer``).
    """

    def __init__(
        self,
        state: DashboardState,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        push_interval: float = 0.25,
        send_timeout: float = 30.0,
        title: str = "tickwire",
        metrics: Callable[[], list[Metric]] | None = None,
        allow_hosts: Iterable[str] = (),
        token: str | None = None,
    ) -> None:
        if push_interval <= 0:
            raise ValueError("push_interval must be > 0 seconds")
        self.access = AccessPolicy(host, allow_hosts=allow_hosts, token=token)
        self._token_query = f"?token={quote(token, safe='')}" if token else ""
        self.state = state
        self.host = host
        self.port = port
        self.push_interval = push_interval
        self.send_timeout = send_timeout
        self.title = title
        self._metrics = metrics
        self._wakers: set[asyncio.Event] = set()
        self._sockets: set[web.WebSocketResponse] = set()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.pushes = 0
        """Messages sent to pages."""
        self.push_bytes = 0
        self.pages_total = 0
        """Pages (WebSocket connections) served since start."""
        self.slow_pages = 0
        """Pages disconnected because a send stalled."""
        self.refused: Counter[str] = Counter()
        """Requests refused, by reason (host, origin, token)."""

    @property
    def url(self) -> str:
        """The page's address, without the token."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def pages(self) -> int:
        """Pages connected now."""
        return len(self._wakers)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/metrics", self._prometheus)
        app.router.add_get("/api/state", self._snapshot)
        app.router.add_static("/static/", STATIC_DIR, show_index=False)
        return app

    async def start(self) -> str:
        """Listen and start pushing; returns the page's URL."""
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addresses = self._runner.addresses  # the bound port, when 0 was asked for
        if addresses:
            self.port = int(addresses[0][1])
        self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="tickwire-dashboard-push")
        log.info("dashboard on %s", self.url)
        return self.url

    async def aclose(self) -> None:
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        for ws in list(self._sockets):  # pages told "going away" at once, not waited for by cleanup
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"dashboard stopping")
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.push_interval)
            try:
                self.state.refresh_panel()
            except Exception:
                log.exception("could not refresh the connection panel")
            for waker in self._wakers:
                waker.set()

    # ------------------------------------------------------------------ handlers

    @web.middleware
    async def _guard(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        refusal = self.access.refusal(
            path=request.path,
            host=request.headers.get("Host"),
            origin=request.headers.get("Origin"),
            query=request.query,
            authorization=request.headers.get("Authorization"),
        )
        if refusal is None:
            return await handler(request)
        self.refused[refusal.kind] += 1
        if self.refused[refusal.kind] == 1:  # once per reason (a flood must not flood the log); counted
            log.warning(
                "dashboard: refused %s (%s; Host %s, Origin %s)",
                safe_text(request.path),
                refusal.reason,
                safe_text(request.headers.get("Host", "-")),
                safe_text(request.headers.get("Origin", "-")),
            )
        headers = {"www-authenticate": "Bearer"} if refusal.status == 401 else None
        return web.Response(status=refusal.status, text=refusal.reason + "\n", headers=headers)

    async def _index(self, request: web.Request) -> web.Response:
        page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        page = page.replace("{{title}}", html.escape(self.title))
        page = page.replace("{{token_query}}", html.escape(self._token_query))
        return web.Response(text=page, content_type="text/html", headers=_PAGE_HEADERS)

    async def _snapshot(self, request: web.Request) -> web.Response:
        self.state.refresh_panel()
        body = _ENC.encode(self.state.update_for(Cursor()))
        return web.Response(body=body, content_type="application/json")

    async def _prometheus(self, request: web.Request) -> web.Response:
        families = list(self._metrics()) if self._metrics is not None else []
        families += [
            Metric.single(
                "tickwire_dashboard_pages", "gauge", "Pages connected to the dashboard.", self.pages
            ),
            Metric.single(
                "tickwire_dashboard_pushes_total", "counter", "Messages pushed to pages.", self.pushes
            ),
            Metric.single(
                "tickwire_dashboard_push_bytes_total", "counter", "Bytes pushed to pages.", self.push_bytes
            ),
            Metric.single(
                "tickwire_dashboard_slow_pages_total",
                "counter",
                "Pages disconnected because a push stalled.",
                self.slow_pages,
            ),
            Metric.labelled(
                "tickwire_dashboard_refused_total",
                "counter",
                "Requests refused: a foreign Host (DNS rebinding), a cross-origin WebSocket, no token.",
                "reason",
                {kind: self.refused[kind] for kind in ("host", "origin", "token")},
            ),
            Metric.single("tickwire_dashboard_symbols", "gauge", "Symbols tracked.", self.state.symbol_count),
            Metric.single(
                "tickwire_dashboard_symbols_evicted_total",
                "counter",
                "Symbols dropped (least recently updated) to stay within max_symbols.",
                self.state.evicted,
            ),
        ]
        return web.Response(body=render(families).encode(), headers={"content-type": CONTENT_TYPE})

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        self.pages_total += 1
        waker = asyncio.Event()
        waker.set()  # the snapshot goes out at once
        self._wakers.add(waker)
        self._sockets.add(ws)
        sender = asyncio.get_running_loop().create_task(self._send_loop(ws, waker))
        try:
            async for msg in ws:  # pages send nothing we need; reading handles pings and the close
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._wakers.discard(waker)
            self._sockets.discard(ws)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    async def _send_loop(self, ws: web.WebSocketResponse, waker: asyncio.Event) -> None:
        cursor = Cursor()
        while not ws.closed:
            await waker.wait()
            waker.clear()
            data = _ENC.encode(self.state.update_for(cursor)).decode()
            try:
                async with asyncio.timeout(self.send_timeout):
                    await ws.send_str(data)
            except TimeoutError:
                self.slow_pages += 1
                log.warning("a dashboard page stalled for %.0f s: disconnecting it", self.send_timeout)
                await ws.close()
                return
            except (ConnectionError, RuntimeError):
                return  # the page went away
            self.pushes += 1
            self.push_bytes += len(data)
