"""Fixtures for the security tests: a test PKI and simulators serving TLS with it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.system.security.pki import LoopbackPKI, make_pki
from tickwire.sim import MassiveSimulator


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LoopbackPKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> LoopbackPKI:
    """A second, unrelated CA: trusting it must not make the first one's server trusted."""
    return make_pki(tmp_path_factory.mktemp("other-pki"), "some other CA")


@pytest.fixture
async def tls_sim(pki: LoopbackPKI) -> AsyncIterator[MassiveSimulator]:
    """A Massive simulator (stream and REST) serving wss:// and https:// with the test PKI's certificate."""
    async with MassiveSimulator(
        seed=3, tick_interval=0.02, rate=20.0, close_timeout=0.3, rest=True, ssl_context=pki.server_context()
    ) as sim:
        yield sim


@pytest.fixture
def no_cert_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SSL_CERT_FILE/SSL_CERT_DIR from the environment: the default trust store only."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
