"""The ``tickwire`` command line (``tickwire.cli.app``); :func:`main` is the console script.

``main`` imports the command tree itself, so a module of an extra that is not installed is one
line naming the extra (exit 2) even when it is reached while the commands load."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tickwire.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    try:
        from tickwire.cli.app import main as run
    except ModuleNotFoundError as exc:
        from tickwire.cli.extras import missing_extra_line

        line = missing_extra_line(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        raise SystemExit(2) from None
    run()


def __getattr__(name: str) -> Any:
    if name == "app":
        from tickwire.cli.app import app

        return app
    raise AttributeError(name)
