"""What the gateway exposes about itself: running counters, per-client snapshots and ``/metrics``.

``/metrics`` is Prometheus text (0.0.4) rendered by the dashboard's renderer
(:mod:`tickwire.prometheus`): per client (``client`` id and ``peer`` labels) the events,
frames and bytes sent, the send-buffer fill and its channels; the disconnects by reason; the
upstream's state, channels and counters.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

__all__ = ["ClientInfo", "GatewayCounters", "render_metrics"]


@dataclass(slots=True)
class GatewayCounters:
    """Running totals since the gateway started."""

    connections: int = 0
    auth_success: int = 0
    auth_failed: int = 0
    auth_timeout: int = 0
    slow_consumers: int = 0
    disconnects: int = 0
    events_in: int = 0
    events_routed: int = 0
    events_unrouted: int = 0
    events_sent: int = 0
    frames_sent: int = 0
    bytes_sent: int = 0
    upstream_subscribes: int = 0
    upstream_unsubscribes: int = 0
    upstream_rejections: int = 0
    upstream_statuses_passed: int = 0
    upstream_connects: int = 0
    upstream_disconnects: int = 0

    def copy(self) -> GatewayCounters:
        return replace(self)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """An immutable snapshot of one client connection (no token is ever kept)."""

    id: int
    peer: str
    authenticated: bool
    channels: frozenset[str]
    events_sent: int
    frames_sent: int
    bytes_sent: int
    buffered: int
    connected_at: float
    closing: bool


def render_metrics(
    counters: GatewayCounters,
    clients: list[ClientInfo],
    disconnects: dict[str, int],
    *,
    buffer_limit: int,
    upstream_connected: bool,
    upstream_channels: int,
    upstream: dict[str, float],
) -> str:
    """The ``/metrics`` page."""
    from tickwire.prometheus import Metric, render

    def per_client(name: str, kind: str, help: str, attr: str) -> Metric:
        m = Metric(f"tickwire_gateway_client_{name}", kind, help)
        for c in clients:
            m.samples[(("client", str(c.id)), ("peer", c.peer))] = float(getattr(c, attr))
        return m

    channel_counts = Metric("tickwire_gateway_client_channels", "gauge", "Channels a client holds")
    for c in clients:
        channel_counts.samples[(("client", str(c.id)), ("peer", c.peer))] = float(len(c.channels))
    totals = [
        Metric.single(
            f"tickwire_gateway_{f.name}_total",
            "counter",
            f"Gateway {f.name.replace('_', ' ')}",
            float(getattr(counters, f.name)),
        )
        for f in fields(counters)
    ]
    return render(
        [
            Metric.single(
                "tickwire_gateway_clients", "gauge", "Open client connections", float(len(clients))
            ),
            Metric.single(
                "tickwire_gateway_buffer_limit_bytes",
                "gauge",
                "Per-client send buffer bound",
                float(buffer_limit),
            ),
            per_client("events_sent_total", "counter", "Events sent to a client", "events_sent"),
            per_client("frames_sent_total", "counter", "Frames sent to a client", "frames_sent"),
            per_client("bytes_sent_total", "counter", "Bytes sent to a client", "bytes_sent"),
            per_client("buffer_bytes", "gauge", "Bytes waiting in a client's send buffer", "buffered"),
            channel_counts,
            Metric.labelled(
                "tickwire_gateway_client_disconnects_total",
                "counter",
                "Client connections ended, by reason",
                "reason",
                {k: float(v) for k, v in disconnects.items()},
            ),
            Metric.single(
                "tickwire_gateway_upstream_connected",
                "gauge",
                "1 while the upstream streams",
                1.0 if upstream_connected else 0.0,
            ),
            Metric.single(
                "tickwire_gateway_upstream_channels",
                "gauge",
                "Channels subscribed upstream",
                float(upstream_channels),
            ),
            Metric.labelled(
                "tickwire_gateway_upstream", "gauge", "The upstream client's counters", "stat", upstream
            ),
            *totals,
        ]
    )
