"""Property tests: every decoder, session and parser of untrusted bytes, fed random and mutated input.

Each target (``targets.py``) takes its choices from a hypothesis-drawn byte string, so a failure
shrinks to a short one, printed as ``data=b'...'``; keep it as a plain test in ``test_regressions.py``.
``TICKWIRE_FUZZ_EXAMPLES`` sets the examples per target (default 200: the set runs in a few seconds);
``benchmarks/fuzz.py`` is the long run (over a million inputs) of the same targets.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .chooser import Chooser
from .targets import TARGETS

FUZZ = settings(
    max_examples=int(os.environ.get("TICKWIRE_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    """Damaged journals and rejected subscriptions are logged by design; thousands of lines help no one."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@pytest.mark.parametrize("name", sorted(TARGETS))
@FUZZ
@given(data=st.binary(max_size=512))
def test_target(name: str, data: bytes) -> None:
    TARGETS[name](Chooser(data))
