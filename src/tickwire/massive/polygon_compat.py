"""The ``polygon`` package's stream service API: enums, symbol rules and the ``subscribe_*`` methods.

Seed 001 documents a callback ``StreamClient`` (and the ``polygon`` package an async twin) whose
subscriptions are one method pair per service: ``subscribe_stock_trades(symbols=None,
force_uppercase_symbols=True)`` / ``unsubscribe_stock_trades(symbols=None)`` and so on. This
module holds what both of our front-ends share: the services (:data:`SERVICES`), the symbol rules
(:func:`service_channels`) and descriptors that turn one :class:`Service` into a typed method of
either client. The clients only implement ``_modify_service``.

Symbol rules (seed 001, kept exactly, plus validation the ``polygon`` package lacked):

* a list of symbols → one channel each; ``None``, ``[]``, ``['*']`` or ``'all'`` → ``<PREFIX>.*``;
* any other string is sent as is (channels such as ``"T.AAPL,T.MSFT"``, not upper-cased);
* symbols are upper-cased unless ``force_uppercase_symbols=False``;
* options get ``O:`` and indices ``I:`` when missing, never doubled; fair-market-value symbols get
  their class prefix (``O:``, ``C:``, ``X:``) the same way;
* forex quotes/aggregates take ``EUR/USD`` and crypto channels ``BTC-USD``: the stream's format
  (polygon.md §1.3). A ``C:``/``X:`` prefix given there is removed (the server does not know
  ``XT.X:BTC-USD``), and a symbol of the wrong shape (``EURUSD``, ``BTCUSD``) is a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, ClassVar, Generic, Literal, TypeVar, overload

from tickwire.errors import ConfigError
from tickwire.massive.channels import normalize_channels
from tickwire.massive.enums import Market

__all__ = [
    "SERVICES",
    "AsyncServiceMethods",
    "Service",
    "ServiceMethods",
    "StreamCluster",
    "StreamHost",
    "StreamServicePrefix",
    "Symbols",
    "service_channels",
]

Symbols = Sequence[str] | str | None
Action = Literal["subscribe", "unsubscribe"]


class StreamCluster(StrEnum):
    """The cluster to connect to (the ``polygon`` package's enum; a :class:`Market` works too)."""

    STOCKS = "stocks"
    OPTIONS = "options"
    FOREX = "forex"
    CRYPTO = "crypto"
    INDICES = "indices"


class StreamHost(StrEnum):
    """Stream hosts, by the ``polygon`` package's names (``*.massive.com`` serves the same)."""

    REAL_TIME = "socket.polygon.io"
    DELAYED = "delayed.polygon.io"
    BUSINESS = "business.polygon.io"
    LAUNCHPAD = "launchpad.polygon.io"
    DELAYED_BUSINESS = "delayed-business.polygon.io"


class StreamServicePrefix(StrEnum):
    """Event prefixes (``ev``), for ``change_handler``. Equal values are aliases, as in ``polygon``."""

    STOCK_TRADES = "T"
    STOCK_QUOTES = "Q"
    STOCK_MINUTE_AGGREGATES = "AM"
    STOCK_SECOND_AGGREGATES = "A"
    STOCK_LULD = "LULD"
    STOCK_IMBALANCES = "NOI"
    FOREX_QUOTES = "C"
    FOREX_MINUTE_AGGREGATES = "CA"
    FOREX_SECOND_AGGREGATES = "CAS"
    CRYPTO_TRADES = "XT"
    CRYPTO_QUOTES = "XQ"
    CRYPTO_LEVEL2 = "XL2"
    CRYPTO_MINUTE_AGGREGATES = "XA"
    CRYPTO_SECOND_AGGREGATES = "XAS"
    STATUS = "status"
    OPTION_TRADES = "T"
    OPTION_QUOTES = "Q"
    OPTION_MINUTE_AGGREGATES = "AM"
    OPTION_SECOND_AGGREGATES = "A"
    FAIR_MARKET_VALUE = "FMV"
    LAUNCHPAD_VALUE = "LV"
    INDICES_MINUTE_AGGREGATES = "AM"
    INDICES_SECOND_AGGREGATES = "A"
    INDICES_VALUE = "V"


@dataclass(frozen=True)
class Service:
    """One stream service: its channel prefix and the cluster its methods are for (None: any)."""

    name: str
    prefix: str
    cluster: str | None
    description: str


def _svc(name: str, prefix: str, cluster: str | None, description: str) -> Service:
    return Service(name, prefix, cluster, description)


SERVICES: dict[str, Service] = {
    s.name: s
    for s in (
        _svc("fair_market_value", "FMV", None, "fair market value (business feed)"),
        _svc("launchpad_value", "LV", None, "launchpad value (launchpad feed)"),
        _svc("stock_trades", "T", "stocks", "stock trades"),
        _svc("stock_quotes", "Q", "stocks", "stock NBBO quotes"),
        _svc("stock_minute_aggregates", "AM", "stocks", "stock minute aggregates (OHLCV)"),
        _svc("stock_second_aggregates", "A", "stocks", "stock second aggregates (OHLCV)"),
        _svc("stock_limit_up_limit_down", "LULD", "stocks", "stock limit-up/limit-down bands"),
        _svc("stock_imbalances", "NOI", "stocks", "stock net order imbalances"),
        _svc("option_trades", "T", "options", "option trades"),
        _svc("option_quotes", "Q", "options", "option quotes (at most 1,000 contracts)"),
        _svc("option_minute_aggregates", "AM", "options", "option minute aggregates"),
        _svc("option_second_aggregates", "A", "options", "option second aggregates"),
        _svc("forex_quotes", "C", "forex", "forex quotes"),
        _svc("forex_minute_aggregates", "CA", "forex", "forex minute aggregates"),
        _svc("forex_second_aggregates", "CAS", "forex", "forex second aggregates"),
        _svc("crypto_trades", "XT", "crypto", "crypto trades"),
        _svc("crypto_quotes", "XQ", "crypto", "crypto quotes"),
        _svc("crypto_minute_aggregates", "XA", "crypto", "crypto minute aggregates"),
        _svc("crypto_second_aggregates", "XAS", "crypto", "crypto second aggregates"),
        _svc("crypto_level2_book", "XL2", "crypto", "crypto level-2 book (deprecated by the server)"),
        _svc("indices_minute_aggregates", "AM", "indices", "index minute aggregates"),
        _svc("indices_second_aggregates", "A", "indices", "index second aggregates"),
        _svc("index_value", "V", "indices", "index values"),
    )
}

_CLUSTER_PREFIX = {"options": "O:", "indices": "I:"}
"""Prefixes every channel of these clusters needs on its tickers."""
_FMV_PREFIX = {"options": "O:", "forex": "C:", "crypto": "X:"}
"""Class prefixes of fair-market-value (and launchpad value) symbols."""
_FORMATS: dict[str, tuple[str, re.Pattern[str], str]] = {
    # cluster: (prefix removed when given, shape, example)
    "forex": ("C:", re.compile(r"[A-Z]{3}/[A-Z]{3}", re.IGNORECASE), "EUR/USD"),
    "crypto": ("X:", re.compile(r"[A-Z0-9]+-[A-Z0-9]+", re.IGNORECASE), "BTC-USD"),
}
_ALL = (None, "all", "*")


def _check_cluster(service: Service, market: Market) -> None:
    if service.cluster is not None and service.cluster != market.base:
        raise ConfigError(
            f"{service.description} are on the {service.cluster} cluster; this client is connected to "
            f"{market.value}: create a client with cluster={service.cluster!r}"
        )


def _symbol(raw: object, service: Service, market: Market, uppercase: bool) -> str:
    """One symbol → the ticker part of its channel (prefixed, validated)."""
    if not isinstance(raw, str):
        raise ConfigError(f"a symbol must be a string, got {type(raw).__name__}: {raw!r}")
    sym = raw.strip()
    if not sym:
        raise ConfigError("empty symbol")
    if uppercase:
        sym = sym.upper()
    if sym == "*":
        return sym
    cluster = market.base
    if service.prefix in ("FMV", "LV"):
        want = _FMV_PREFIX.get(cluster)
    else:
        want = _CLUSTER_PREFIX.get(cluster)
        fmt = _FORMATS.get(cluster)
        if fmt is not None:
            strip, shape, example = fmt
            if sym.upper().startswith(strip):
                sym = sym[len(strip) :]
            if not shape.fullmatch(sym):
                raise ConfigError(
                    f"{raw!r} is not a {cluster} symbol for {service.description}: "
                    f"expected the form {example!r}"
                )
    if want is not None and not sym.upper().startswith(want):
        sym = want + sym
    return sym


def service_channels(
    market: Market, service: Service, symbols: Symbols, *, uppercase: bool = True
) -> list[str]:
    """The channels one ``subscribe_<service>(symbols)`` call means on ``market`` (seed 001's rules)."""
    _check_cluster(service, market)
    prefix = service.prefix
    if isinstance(symbols, str):
        if symbols.strip().lower() in _ALL:
            return [f"{prefix}.*"]
        try:  # sent as is: the caller wrote the channels themselves
            return normalize_channels([symbols], market, uppercase=False)
        except ConfigError as exc:
            raise ConfigError(
                f"{exc}. A string is sent as is and must hold channels ('{prefix}.AAPL,{prefix}.MSFT'); "
                "pass a list of symbols instead"
            ) from None
    if symbols is None:
        return [f"{prefix}.*"]
    if isinstance(symbols, bytes) or not isinstance(symbols, Sequence | set | frozenset):
        raise ConfigError(f"symbols must be a list of strings, None or 'all', got {type(symbols).__name__}")
    tickers = list(dict.fromkeys(_symbol(s, service, market, uppercase) for s in symbols))
    if not tickers or "*" in tickers:
        return [f"{prefix}.*"]
    return [f"{prefix}.{t}" for t in tickers]


def prefix_value(prefix: str | Enum) -> str:
    """A ``StreamServicePrefix`` (or any enum, or string) → the ``ev`` string it stands for."""
    value = prefix.value if isinstance(prefix, Enum) else prefix
    if not isinstance(value, str) or not value:
        raise ConfigError(
            f"service_prefix must be a StreamServicePrefix or an event type string, got {prefix!r}"
        )
    return value


# -- the methods, as descriptors --------------------------------------------------------------


class _Bound:
    __slots__ = ("owner", "service")

    def __init__(self, owner: Any, service: Service) -> None:
        self.owner = owner
        self.service = service

    def __repr__(self) -> str:
        return f"<bound {type(self).__name__} {self.service.name} of {self.owner!r}>"


class SyncSubscribe(_Bound):
    def __call__(self, symbols: Symbols = None, force_uppercase_symbols: bool = True) -> None:
        """Subscribe to the service for ``symbols`` (a list; ``None``, ``[]`` or ``'all'``: every ticker)."""
        self.owner._modify_service(self.service, "subscribe", symbols, force_uppercase_symbols)


class SyncUnsubscribe(_Bound):
    def __call__(self, symbols: Symbols = None) -> None:
        """Unsubscribe the service for ``symbols`` (default: the wildcard)."""
        self.owner._modify_service(self.service, "unsubscribe", symbols, True)


class AsyncSubscribe(_Bound):
    async def __call__(
        self,
        symbols: Symbols = None,
        handler_function: Callable[[Any], Awaitable[None] | None] | None = None,
        force_uppercase_symbols: bool = True,
    ) -> None:
        """Subscribe to the service; ``handler_function`` (if given) becomes the handler of its events."""
        await self.owner._modify_service(
            self.service, "subscribe", symbols, force_uppercase_symbols, handler_function
        )


class AsyncUnsubscribe(_Bound):
    async def __call__(self, symbols: Symbols = None) -> None:
        """Unsubscribe the service for ``symbols`` (default: the wildcard)."""
        await self.owner._modify_service(self.service, "unsubscribe", symbols, True)


B = TypeVar("B", bound=_Bound)


class _Method(Generic[B]):
    """A class attribute that binds one :class:`Service` to a client as a typed method."""

    def __init__(self, service: str, bound: type[B]) -> None:
        self.service = SERVICES[service]
        self.bound = bound
        verb = "Subscribe to" if issubclass(bound, SyncSubscribe | AsyncSubscribe) else "Unsubscribe from"
        self.__doc__ = f"{verb} {self.service.description} ({self.service.prefix}.<symbol>)."

    @overload
    def __get__(self, obj: None, owner: type) -> _Method[B]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> B: ...
    def __get__(self, obj: object | None, owner: type) -> _Method[B] | B:
        return self if obj is None else self.bound(obj, self.service)


SubT = TypeVar("SubT", bound=_Bound)
UnsubT = TypeVar("UnsubT", bound=_Bound)

ALIASES = {"unsubscribe_indices_value": ("index_value", "unsubscribe")}
"""Other spellings of a method: the ``polygon`` sync client's ``unsubscribe_indices_value``."""


class _ServiceMethodsBase(Generic[SubT, UnsubT]):
    """One ``subscribe_<service>``/``unsubscribe_<service>`` pair per :data:`SERVICES` entry.

    The annotations are what type checkers see; :meth:`__init_subclass__` installs the descriptors
    (bound to ``_subscribe``/``_unsubscribe``), so the list of methods lives in one place.
    """

    _subscribe: ClassVar[type[_Bound]]
    _unsubscribe: ClassVar[type[_Bound]]

    subscribe_fair_market_value: ClassVar[_Method[SubT]]
    unsubscribe_fair_market_value: ClassVar[_Method[UnsubT]]
    subscribe_launchpad_value: ClassVar[_Method[SubT]]
    unsubscribe_launchpad_value: ClassVar[_Method[UnsubT]]
    subscribe_stock_trades: ClassVar[_Method[SubT]]
    unsubscribe_stock_trades: ClassVar[_Method[UnsubT]]
    subscribe_stock_quotes: ClassVar[_Method[SubT]]
    unsubscribe_stock_quotes: ClassVar[_Method[UnsubT]]
    subscribe_stock_minute_aggregates: ClassVar[_Method[SubT]]
    unsubscribe_stock_minute_aggregates: ClassVar[_Method[UnsubT]]
    subscribe_stock_second_aggregates: ClassVar[_Method[SubT]]
    unsubscribe_stock_second_aggregates: ClassVar[_Method[UnsubT]]
    subscribe_stock_limit_up_limit_down: ClassVar[_Method[SubT]]
    unsubscribe_stock_limit_up_limit_down: ClassVar[_Method[UnsubT]]
    subscribe_stock_imbalances: ClassVar[_Method[SubT]]
    unsubscribe_stock_imbalances: ClassVar[_Method[UnsubT]]
    subscribe_option_trades: ClassVar[_Method[SubT]]
    unsubscribe_option_trades: ClassVar[_Method[UnsubT]]
    subscribe_option_quotes: ClassVar[_Method[SubT]]
    unsubscribe_option_quotes: ClassVar[_Method[UnsubT]]
    subscribe_option_minute_aggregates: ClassVar[_Method[SubT]]
    unsubscribe_option_minute_aggregates: ClassVar[_Method[UnsubT]]
    subscribe_option_second_aggregates: ClassVar[_Method[SubT]]
    unsubscribe_option_second_aggregates: ClassVar[_Method[UnsubT]]
    subscribe_forex_quotes: ClassVar[_Method[SubT]]
    unsubscribe_forex_quotes: ClassVar[_Method[UnsubT]]
    subscribe_forex_minute_aggregates: ClassVar[_Method[SubT]]
    unsubscribe_forex_minute_aggregates: ClassVar[_Method[UnsubT]]
    subscribe_forex_second_aggregates: ClassVar[_Method[SubT]]
    unsubscribe_forex_second_aggregates: ClassVar[_Method[UnsubT]]
    subscribe_crypto_trades: ClassVar[_Method[SubT]]
    unsubscribe_crypto_trades: ClassVar[_Method[UnsubT]]
    subscribe_crypto_quotes: ClassVar[_Method[SubT]]
    unsubscribe_crypto_quotes: ClassVar[_Method[UnsubT]]
    subscribe_crypto_minute_aggregates: ClassVar[_Method[SubT]]
    unsubscribe_crypto_minute_aggregates: ClassVar[_Method[UnsubT]]
    subscribe_crypto_second_aggregates: ClassVar[_Method[SubT]]
    unsubscribe_crypto_second_aggregates: ClassVar[_Method[UnsubT]]
    subscribe_crypto_level2_book: ClassVar[_Method[SubT]]
    unsubscribe_crypto_level2_book: ClassVar[_Method[UnsubT]]
    subscribe_indices_minute_aggregates: ClassVar[_Method[SubT]]
    unsubscribe_indices_minute_aggregates: ClassVar[_Method[UnsubT]]
    subscribe_indices_second_aggregates: ClassVar[_Method[SubT]]
    unsubscribe_indices_second_aggregates: ClassVar[_Method[UnsubT]]
    subscribe_index_value: ClassVar[_Method[SubT]]
    unsubscribe_index_value: ClassVar[_Method[UnsubT]]
    unsubscribe_indices_value: ClassVar[_Method[UnsubT]]  # the sync ``polygon`` client's spelling

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for service in SERVICES:
            setattr(cls, f"subscribe_{service}", _Method(service, cls._subscribe))
            setattr(cls, f"unsubscribe_{service}", _Method(service, cls._unsubscribe))
        for alias, (service, action) in ALIASES.items():
            setattr(
                cls, alias, _Method(service, cls._subscribe if action == "subscribe" else cls._unsubscribe)
            )


class ServiceMethods(_ServiceMethodsBase[SyncSubscribe, SyncUnsubscribe]):
    """The callback client's ``subscribe_*``/``unsubscribe_*`` pairs; the owner implements
    ``_modify_service(service, action, symbols, uppercase)``."""

    _subscribe = SyncSubscribe
    _unsubscribe = SyncUnsubscribe


class AsyncServiceMethods(_ServiceMethodsBase[AsyncSubscribe, AsyncUnsubscribe]):
    """The async client's ``subscribe_*`` (with ``handler_function``) and ``unsubscribe_*`` pairs; the
    owner implements the coroutine ``_modify_service(service, action, symbols, uppercase, handler)``."""

    _subscribe = AsyncSubscribe
    _unsubscribe = AsyncUnsubscribe
