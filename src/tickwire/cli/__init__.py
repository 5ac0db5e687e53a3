"""The ``tickwire`` command line: ``stream``, ``sim`` (more commands join as features land)."""

from __future__ import annotations

from tickwire.cli.app import app, main

__all__ = ["app", "main"]
