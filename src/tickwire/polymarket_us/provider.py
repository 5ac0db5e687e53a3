"""Polymarket US as a tickwire :class:`~tickwire.provider.Provider` (``get_provider("polymarket")``).

A "market" of this provider is one of its two sockets: ``markets`` (books, lite prices, trades) or
``private`` (orders, positions, balances). Channels, what ``tickwire record`` subscribes to, are
written ``<type>[:<slug>,<slug>...]``::

    market_data:btc-100k-2026,fed-cut-june   market_data_lite:eth-5k-2026   trade:btc-100k-2026
    order   order:btc-100k-2026   order_snapshot   position   account_balance        (private)

A markets channel without slugs takes the ``markets=`` option (``tickwire record --markets``; with
``--sim`` the simulator's markets); on the private socket ``markets=`` narrows ``order`` and
``position`` to those markets (all markets without it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tickwire.errors import ConfigError
from tickwire.polymarket_us.client import PolymarketClient
from tickwire.polymarket_us.decoder import PolymarketDecoder
from tickwire.polymarket_us.enums import Socket, SubscriptionType, parse_subscription_type
from tickwire.polymarket_us.session import PolymarketSession
from tickwire.polymarket_us.tables import polymarket_tables
from tickwire.polymarket_us.ticks import ticks
from tickwire.provider import Provider

__all__ = ["PROVIDER", "default_channels", "open_client", "parse_channel"]

_DEFAULTS: dict[Socket, tuple[str, ...]] = {
    Socket.MARKETS: ("market_data", "trade"),
    Socket.PRIVATE: ("order", "order_snapshot", "position", "account_balance"),
}


def _socket(market: str) -> Socket:
    try:
        return Socket(str(market).strip().lower())
    except ValueError:
        raise ConfigError(f"Polymarket US has no socket {market!r}; choose markets or private") from None


def default_channels(market: str) -> tuple[str, ...]:
    """What ``tickwire record`` subscribes to: books and trades, or every private stream."""
    return _DEFAULTS[_socket(market)]


def parse_channel(
    channel: str, socket: Socket | str, markets: Sequence[str] = ()
) -> tuple[SubscriptionType, tuple[str, ...]]:
    """``"market_data:a,b"`` → ``(MARKET_DATA, ("a", "b"))``; slugs from ``markets`` when the channel
    names none (see the module docstring). :class:`ConfigError` says what is wrong."""
    sock = _socket(socket) if not isinstance(socket, Socket) else socket
    name, _, rest = channel.strip().partition(":")
    if not name:
        raise ConfigError(f"empty Polymarket US channel {channel!r}; e.g. market_data:<slug> or order")
    stype = parse_subscription_type(name)
    if stype.socket is not sock:
        hint = "record it with --private" if stype.socket is Socket.PRIVATE else "record it without --private"
        raise ConfigError(f"{name} is a {stype.socket.value}-socket channel, not {sock.value}; {hint}")
    slugs = tuple(dict.fromkeys(s.strip() for s in rest.split(",") if s.strip()))
    if slugs and not stype.takes_slugs:
        raise ConfigError(f"{name} takes no market slugs (got {channel!r})")
    if not slugs and stype.takes_slugs:
        slugs = tuple(dict.fromkeys(m.strip() for m in markets if m.strip()))
    if not slugs and sock is Socket.MARKETS:
        raise ConfigError(
            f"{name} needs market slugs: write {name}:<slug>,<slug> or pass --markets <slug>,<slug>"
        )
    return stype, slugs


def open_client(
    market: str, channels: Iterable[str], *, markets: Iterable[str] = (), **options: Any
) -> PolymarketClient:
    """A :class:`PolymarketClient` on socket ``market`` subscribed to ``channels`` (sent on connecting).
    ``options`` are the client's (``base_url``, ``key_id``, ``secret_key``, ``frame_tap``,
    ``queue_size``, ``overflow``...)."""
    sock = _socket(market)
    slugs = [s for item in markets for s in item.split(",")]
    wanted = [parse_channel(c, sock, slugs) for c in channels]
    if not wanted:
        raise ConfigError(f"no channels to subscribe on the Polymarket US {sock.value} socket")
    client = PolymarketClient(sock, **options)
    for stype, chosen in wanted:
        client.session.subscribe(stype, chosen)
    return client


def _decoder(market: str) -> PolymarketDecoder:
    _socket(market)
    return PolymarketDecoder(keep_books=False)


PROVIDER = Provider(
    name="polymarket_us",
    title="Polymarket US",
    markets=tuple(s.value for s in Socket),
    default_market=Socket.MARKETS.value,
    default_channels=default_channels,
    open_client=open_client,
    decoder=_decoder,
    tables=lambda market: polymarket_tables(_socket(market)),
    count_events=PolymarketSession.count_events,
    ticks=ticks,
    aliases=("polymarket", "polymarket-us"),
)
