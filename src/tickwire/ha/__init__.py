"""High availability on NATS JetStream: a lease in a KV bucket lets exactly one recorder hold the
vendor's single connection, fenced by an epoch (see :mod:`tickwire.ha.lease`).

``tickwire record --ha URLS --ha-name NAME`` runs :func:`tickwire.ha.recording.record_ha`;
``tickwire ha status`` reads the lease. The recorder-side modules are imported on use.
"""

from __future__ import annotations

from tickwire.ha.events import FailoverGap
from tickwire.ha.lease import Entry, LeaseLost, LeaseMachine, LeaseValue
from tickwire.ha.store import LEASE_BUCKET, LeaseStore

__all__ = ["LEASE_BUCKET", "Entry", "FailoverGap", "LeaseLost", "LeaseMachine", "LeaseStore", "LeaseValue"]
