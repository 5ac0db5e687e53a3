"""tickwire: real-time market data over WebSockets, fast, typed, and never silently lossy."""

from __future__ import annotations

from ._version import __version__

__all__ = ["__version__"]
