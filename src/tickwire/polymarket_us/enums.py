"""Polymarket US enums: the two sockets, subscription types, and the proto enum names and numbers.

The gateway is protobuf served as JSON: current SDKs send and receive enum *names*
(``"SUBSCRIPTION_TYPE_MARKET_DATA"``), the legacy docs show *numbers* (``1``). Both are
accepted everywhere; names are canonical. Numbers of the subscription types are documented
(polymarket_alpaca.md A2); for the other enums they follow the proto declaration order with
0 = UNSPECIFIED, which is an inference (only the simulator's legacy mode emits them).
"""

from __future__ import annotations

from enum import StrEnum

from tickwire.errors import ConfigError

__all__ = [
    "ENUM_NUMBERS",
    "MARKET_TYPES",
    "PRIVATE_TYPES",
    "Socket",
    "SubscriptionType",
    "enum_name",
    "enum_number",
    "parse_subscription_type",
]


class Socket(StrEnum):
    """The two WebSocket endpoints."""

    MARKETS = "markets"
    PRIVATE = "private"

    @property
    def path(self) -> str:
        return f"/v1/ws/{self.value}"


class SubscriptionType(StrEnum):
    """A subscription type; the value is the wire name."""

    MARKET_DATA = "SUBSCRIPTION_TYPE_MARKET_DATA"
    MARKET_DATA_LITE = "SUBSCRIPTION_TYPE_MARKET_DATA_LITE"
    TRADE = "SUBSCRIPTION_TYPE_TRADE"
    ORDER = "SUBSCRIPTION_TYPE_ORDER"
    ORDER_SNAPSHOT = "SUBSCRIPTION_TYPE_ORDER_SNAPSHOT"
    POSITION = "SUBSCRIPTION_TYPE_POSITION"
    ACCOUNT_BALANCE = "SUBSCRIPTION_TYPE_ACCOUNT_BALANCE"

    @property
    def socket(self) -> Socket:
        return Socket.MARKETS if self in MARKET_TYPES else Socket.PRIVATE

    @property
    def number(self) -> int:
        return _TYPE_NUMBERS[self]

    @property
    def takes_slugs(self) -> bool:
        return self not in (SubscriptionType.ACCOUNT_BALANCE, SubscriptionType.ORDER_SNAPSHOT)


MARKET_TYPES = frozenset(
    {SubscriptionType.MARKET_DATA, SubscriptionType.MARKET_DATA_LITE, SubscriptionType.TRADE}
)
PRIVATE_TYPES = frozenset(set(SubscriptionType) - MARKET_TYPES)

_TYPE_NUMBERS = {
    SubscriptionType.MARKET_DATA: 1,
    SubscriptionType.MARKET_DATA_LITE: 2,
    SubscriptionType.TRADE: 3,
    SubscriptionType.ORDER: 1,
    SubscriptionType.ORDER_SNAPSHOT: 2,  # [INF] not documented
    SubscriptionType.POSITION: 3,
    SubscriptionType.ACCOUNT_BALANCE: 4,
}


def parse_subscription_type(
    value: str | int | SubscriptionType, socket: Socket | None = None
) -> SubscriptionType:
    """``"market_data"``, ``"MARKET_DATA"``, ``"SUBSCRIPTION_TYPE_MARKET_DATA"``; ``1`` with ``socket``."""
    if isinstance(value, SubscriptionType):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if socket is None:
            raise ConfigError("a numeric subscription type needs its socket (markets or private)")
        for t, n in _TYPE_NUMBERS.items():
            if n == value and t.socket is socket:
                return t
        raise ConfigError(f"unknown {socket.value} subscription type number {value}")
    name = str(value).strip().upper().replace("-", "_")
    if not name.startswith("SUBSCRIPTION_TYPE_"):
        name = "SUBSCRIPTION_TYPE_" + name
    try:
        return SubscriptionType(name)
    except ValueError:
        known = ", ".join(t.name.lower() for t in SubscriptionType)
        raise ConfigError(f"unknown subscription type {value!r}; one of: {known}") from None


# Proto enums other than the subscription type: names in declaration order, 0 = UNSPECIFIED.
ENUM_NUMBERS: dict[str, tuple[str, ...]] = {
    "MARKET_STATE_": (
        "OPEN",
        "PREOPEN",
        "SUSPENDED",
        "HALTED",
        "EXPIRED",
        "TERMINATED",
        "MATCH_AND_CLOSE_AUCTION",
        "CLOSED",
    ),
    "ORDER_SIDE_": ("BUY", "SELL"),
    "ORDER_INTENT_": ("BUY_LONG", "SELL_LONG", "BUY_SHORT", "SELL_SHORT"),
    "ORDER_TYPE_": ("LIMIT", "MARKET"),
    "ORDER_STATE_": (
        "NEW",
        "PENDING_NEW",
        "PENDING_REPLACE",
        "PENDING_CANCEL",
        "PENDING_RISK",
        "PARTIALLY_FILLED",
        "FILLED",
        "CANCELED",
        "REPLACED",
        "REJECTED",
        "EXPIRED",
    ),
    "EXECUTION_TYPE_": (
        "NEW",
        "PARTIAL_FILL",
        "FILL",
        "CANCELED",
        "REPLACE",
        "REJECTED",
        "EXPIRED",
        "DONE_FOR_DAY",
    ),
    "TIME_IN_FORCE_": ("GOOD_TILL_CANCEL", "GOOD_TILL_DATE", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL", "DAY"),
    "LEDGER_ENTRY_TYPE_": (
        "ORDER_EXECUTION",
        "DEPOSIT",
        "WITHDRAWAL",
        "RESOLUTION",
        "COMMISSION",
        "CORRECTION",
        "NETTING",
        "MANUAL_ADJUSTMENT",
        "CONTRACT_EXPIRATION",
    ),
}


def enum_name(prefix: str, value: str | int | None) -> str:
    """The canonical name of an enum value given as name or number (``""`` when absent)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    names = ENUM_NUMBERS.get(prefix, ())
    if 1 <= value <= len(names):
        return prefix + names[value - 1]
    return f"{prefix}UNSPECIFIED" if value == 0 else f"{prefix}{value}"


def enum_number(value: str) -> int:
    """The legacy number of an enum name (0 when unknown)."""
    for prefix, names in ENUM_NUMBERS.items():
        if value.startswith(prefix):
            rest = value[len(prefix) :]
            return names.index(rest) + 1 if rest in names else 0
    return 0
