"""A live web page of any provider's stream: candles and book ladders per symbol, a tape, alerts,
the connection.

``Dashboard(client, ticks=provider.ticks, rules=...)`` serves it on 127.0.0.1 (aiohttp), pushing
coalesced updates over a WebSocket at a bounded rate, with ``/metrics`` for Prometheus. Charts use
TradingView's lightweight-charts, shipped in ``static/`` (Apache-2.0, see
``static/LICENSE.lightweight-charts``).
"""

from __future__ import annotations

from tickwire.dashboard.app import Dashboard, EventSource
from tickwire.dashboard.server import DashboardServer
from tickwire.dashboard.state import ConnectionPanel, Cursor, DashboardState

__all__ = ["ConnectionPanel", "Cursor", "Dashboard", "DashboardServer", "DashboardState", "EventSource"]
