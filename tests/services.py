"""Real services for tests: URLs from the environment, and fail-or-skip when one is down.

PostgreSQL, Redis, NATS (JetStream), RabbitMQ and Mosquitto run on every machine of this project.
Tests take their URLs from these variables (defaults in brackets) and call :func:`unavailable` when
a connection cannot be made: with ``TICKWIRE_REQUIRE_SERVICES=1`` (set by ``.ci/run``) that fails
the test, otherwise it skips it.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

DEFAULTS = {
    "TICKWIRE_POSTGRES_URL": "postgresql://postgres@127.0.0.1:5432/test",
    "TICKWIRE_REDIS_URL": "redis://127.0.0.1:6379/0",
    "TICKWIRE_NATS_URL": "nats://127.0.0.1:4222",
    "TICKWIRE_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
    "TICKWIRE_MQTT_URL": "mqtt://127.0.0.1:1883",
}


def service_url(env_name: str) -> str:
    """The URL of a service: ``$env_name`` if set, else the machine's default."""
    return os.environ.get(env_name) or DEFAULTS[env_name]


def services_required() -> bool:
    return os.environ.get("TICKWIRE_REQUIRE_SERVICES") == "1"


def unavailable(name: str, error: BaseException) -> NoReturn:
    """Fail (CI) or skip (elsewhere) a test whose service cannot be reached."""
    message = f"{name} is not reachable: {type(error).__name__}: {error}"
    if services_required():
        pytest.fail(message + " (TICKWIRE_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)
