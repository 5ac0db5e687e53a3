"""Which optional extra a command needs, checked before it starts: one line saying what to install.

``EXTRAS`` mirrors ``[project.optional-dependencies]`` (import names, not distribution names; a
test keeps them equal); :func:`require` is called first thing by each command that needs one, and
:func:`missing_extra_line` turns a stray ``ModuleNotFoundError`` into the same line (``main``).
"""

from __future__ import annotations

import importlib.util

import typer

__all__ = ["EXTRAS", "extra_of", "install_line", "missing_extra_line", "require"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "storage": ("duckdb", "pyarrow", "psycopg", "redis", "nats", "zstandard"),
    "polymarket": ("cryptography",),
    "rest": ("httpx", "pandas", "pyarrow", "polars", "aiohttp"),
    "plot": ("httpx", "pandas", "pyarrow", "polars", "aiohttp", "matplotlib", "plotly"),
    "dashboard": ("aiohttp", "httpx", "nats"),
}
"""Each extra and the top-level modules it installs (a module in several: the first names it)."""


def install_line(*extras: str) -> str:
    return f"pip install 'tickwire[{','.join(extras)}]'"


def _missing(extra: str) -> list[str]:
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def require(what: str, *extras: str) -> None:
    """Exit 2 with one line when a module of ``extras`` is not installed (``what``: the command)."""
    lacking = [e for e in extras if _missing(e)]
    if lacking:
        modules = ", ".join(dict.fromkeys(m for e in lacking for m in _missing(e)))
        typer.echo(
            f"error: {what} needs the {'/'.join(lacking)} extra ({modules} missing): "
            f"{install_line(*lacking)}",
            err=True,
        )
        raise typer.Exit(2)


def extra_of(module: str) -> str | None:
    """The first extra that installs the top-level ``module`` (``None``: not one of ours)."""
    top = module.split(".", 1)[0]
    return next((e for e, mods in EXTRAS.items() if top in mods), None)


def missing_extra_line(exc: ModuleNotFoundError) -> str | None:
    """``exc`` as one line naming the extra to install; ``None`` when no extra provides it."""
    extra = extra_of(exc.name or "")
    if extra is None:
        return None
    return f"error: {exc.name} is not installed; it comes with the {extra} extra: {install_line(extra)}"
