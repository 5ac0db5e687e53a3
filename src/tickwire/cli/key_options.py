"""The key options every command that connects to a provider takes, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["ApiKey", "KeyId", "SecretKey"]

ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="Massive key (default: MASSIVE_API_KEY, POLYGON_API_KEY or .env; none for a local --url)",
    ),
]
KeyId = Annotated[
    str | None, typer.Option(help="Polymarket US / Alpaca key id (default: from the environment)")
]
SecretKey = Annotated[
    str | None, typer.Option(help="Polymarket US / Alpaca secret (default: from the environment)")
]
