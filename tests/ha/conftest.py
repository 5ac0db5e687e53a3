"""The JetStream cluster the HA tests share (one per session: starting three servers takes a while)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ha.cluster import Cluster, cluster
from tests.services import unavailable


@pytest.fixture(scope="session")
def js_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which("nats-server") is None and not Path("/usr/sbin/nats-server").exists():
        unavailable("nats-server", FileNotFoundError("nats-server"))
    with cluster(tmp_path_factory.mktemp("js")) as c:
        try:
            asyncio.run(c.ready())
        except Exception as exc:
            unavailable("a 3-node JetStream cluster", exc)
        yield c
