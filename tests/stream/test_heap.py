"""``keep_heap``: glibc's top pad set once per process, from the environment or the default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tickwire.stream.heap import DEFAULT_PAD

_PROBE = "from tickwire.stream.heap import keep_heap; print(keep_heap(), keep_heap(123))"


def _run(env: dict[str, str]) -> list[int]:
    full = {k: v for k, v in os.environ.items() if k != "TICKWIRE_HEAP_PAD"} | env
    out = subprocess.run([sys.executable, "-c", _PROBE], env=full, capture_output=True, text=True, check=True)
    return [int(x) for x in out.stdout.split()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_pad_is_set_once_from_the_environment_or_the_default() -> None:
    assert _run({}) == [DEFAULT_PAD, DEFAULT_PAD]  # the second call changes nothing
    assert _run({"TICKWIRE_HEAP_PAD": "1048576"}) == [1_048_576, 1_048_576]
    assert _run({"TICKWIRE_HEAP_PAD": "0"}) == [0, 0]  # left alone
    assert _run({"TICKWIRE_HEAP_PAD": "lots"}) == [DEFAULT_PAD, DEFAULT_PAD]  # not a number: the default
