"""The provider contract: everything the neutral parts of tickwire need of a provider, in one place.

A provider (Massive, Polymarket US, Alpaca...) is a wing, ``tickwire/<name>/``, that describes itself
with one :class:`Provider` value in its ``provider`` module. The engine (``stream/``), the journal,
the sinks, the recorder, the dashboard and the alerts take a :class:`Provider` (or what it hands out)
and never import a provider package: ``import-linter`` contracts in CI keep it so. This module is the
only place that knows the wings exist, and only by module name (:data:`_BUILTIN`), the way a plugin
registry does; :func:`register_provider` adds one from outside the package.

What a wing provides:

* ``markets``: the streams it serves (Massive clusters, Polymarket sockets...), with a default;
* ``default_channels(market)``: what ``tickwire record`` subscribes to when told nothing;
* ``open_client(market, channels, **options)``: a connected-on-start client, a
  :class:`~tickwire.stream.consumer.StreamConsumer` (the recorder drives any provider through it);
* ``decoder(market)``: a frame decoder (journal loading, replay filters), never raising;
* ``tables(market)``: the :class:`~tickwire.tables.TableRegistry` that sinks lay their tables,
  subjects and keys out by (table per event class, typed columns, natural key);
* ``count_events(frame)``: how many data events a raw frame holds (drop counts, journal-only counting);
* ``ticks(event)``: the event as neutral :class:`Tick` values (trades, quotes, books) for the
  dashboard and the alert rules.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec

from tickwire.errors import ConfigError
from tickwire.events import Event

if TYPE_CHECKING:
    from tickwire.stream.consumer import StreamConsumer
    from tickwire.tables import TableRegistry

__all__ = [
    "FrameDecoder",
    "Provider",
    "Tick",
    "get_provider",
    "provider_names",
    "register_provider",
]


class FrameDecoder(Protocol):
    """Turns one received frame into events; never raises (bad input becomes a ``DecodeError`` event)."""

    def decode(self, frame: bytes) -> list[Event]: ...


class Tick(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A provider-neutral view of a market event: a trade, a quote (top of book) or a book.

    ``symbol`` is what the user knows the instrument by (``AAPL``, ``BTC-USD``, a Polymarket
    market slug); ``ts_ns`` the event's own time (Unix ns). Prices are floats for display and
    rules; the exact values stay in the event. A ``book`` tick carries the best bid/ask and the
    levels, best first, as ``(price, size)`` pairs.
    """

    kind: Literal["trade", "quote", "book"]
    symbol: str
    ts_ns: int
    price: float | None = None
    size: float = 0.0
    bid: float | None = None
    ask: float | None = None
    bids: tuple[tuple[float, float], ...] = ()
    asks: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Provider:
    """One provider's description; see the module docstring for what each member is for."""

    name: str
    title: str
    markets: tuple[str, ...]
    default_market: str
    default_channels: Callable[[str], tuple[str, ...]]
    open_client: Callable[..., StreamConsumer]
    decoder: Callable[[str], FrameDecoder]
    tables: Callable[[str], TableRegistry]
    count_events: Callable[[bytes], int]
    ticks: Callable[[Event], Sequence[Tick]]
    aliases: tuple[str, ...] = ()

    def market(self, market: str | None) -> str:
        """``market`` checked against :attr:`markets` (the default when None)."""
        if market is None or market == "":
            return self.default_market
        if market not in self.markets:
            raise ConfigError(
                f"{self.title} has no market {market!r}; choose one of {', '.join(self.markets)}"
            )
        return market


_BUILTIN: dict[str, str] = {
    "massive": "tickwire.massive.provider",
    "polymarket_us": "tickwire.polymarket_us.provider",
    "alpaca": "tickwire.alpaca.provider",
}
_ALIASES: dict[str, str] = {
    "polygon": "massive",
    "polymarket": "polymarket_us",
    "polymarket-us": "polymarket_us",
    "alpaca-markets": "alpaca",
}
_LOADED: dict[str, Provider] = {}
_EXTRA: dict[str, str | Provider] = {}


def provider_names() -> list[str]:
    """The canonical names of every known provider."""
    return [*_BUILTIN, *(n for n in _EXTRA if n not in _BUILTIN)]


def register_provider(name: str, provider: str | Provider, *, aliases: Sequence[str] = ()) -> None:
    """Make a provider known by ``name``: a :class:`Provider`, or the module path of one whose
    ``PROVIDER`` attribute is it (imported on first use)."""
    _EXTRA[name] = provider
    _LOADED.pop(name, None)
    for a in aliases:
        _ALIASES[a] = name


def get_provider(name: str) -> Provider:
    """The provider called ``name`` (or an alias: ``polygon``, ``polymarket``); :class:`ConfigError`
    naming the known ones otherwise."""
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    found = _LOADED.get(key)
    if found is not None:
        return found
    target: str | Provider | None = _EXTRA.get(key, _BUILTIN.get(key))
    if target is None:
        raise ConfigError(f"unknown provider {name!r}; choose one of {', '.join(provider_names())}")
    if isinstance(target, str):
        module: Any = importlib.import_module(target)
        target = module.PROVIDER
        if not isinstance(target, Provider):
            raise ConfigError(f"{module.__name__}.PROVIDER is not a tickwire Provider")
    _LOADED[key] = target
    return target


def providers_by_alias() -> Mapping[str, str]:
    """Alias → canonical name (for help texts)."""
    return dict(_ALIASES)
