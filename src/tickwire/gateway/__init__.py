"""The Massive protocol served to many clients over one upstream connection (``tickwire gateway``).

``Gateway(MassiveUpstream(url, key))`` holds ONE upstream connection and serves
``ws://127.0.0.1:PORT/<market>`` to any number of clients (the official ``massive`` and ``polygon``
clients, tickwire's): local-token auth, subscriptions unioned upstream with reference counts,
each client exactly its channels, a bounded send buffer per client with the real server's
``slow_consumer`` cut, ``/metrics``. The core (:mod:`.routing`, :mod:`.session`) is sans-I/O.
``Gateway(NatsUpstream("nats://a:4222,nats://b:4222"))`` (:mod:`tickwire.gateway.nats_upstream`, not
imported here: it needs the ``storage`` extra) serves the JetStream stream an HA recorder publishes
instead, so any number of gateways share that recorder's one connection.
"""

from __future__ import annotations

from tickwire.gateway.observe import ClientInfo, GatewayCounters
from tickwire.gateway.routing import Router, UpstreamChange
from tickwire.gateway.server import Gateway
from tickwire.gateway.session import ClientSession
from tickwire.gateway.upstream import MassiveUpstream, Upstream

__all__ = [
    "ClientInfo",
    "ClientSession",
    "Gateway",
    "GatewayCounters",
    "MassiveUpstream",
    "Router",
    "Upstream",
    "UpstreamChange",
]
