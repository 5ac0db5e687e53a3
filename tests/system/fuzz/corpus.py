"""Valid frames to mutate: from the simulators' own encoders and from the wire models.

Massive frames come from the simulator's feed (every cluster, with and without its quirks) and
from struct introspection of every event class a cluster decodes; Polymarket US frames from
the simulator's frame builders (both key styles) and from :class:`~tickwire.providers.
polymarket_us.wire.WireFrame` introspection; REST pages from the REST models. The simulator
frames are built once, on first use, without any socket.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec.inspect as mi

from tickwire.massive.decoder import MassiveDecoder
from tickwire.massive.rest.models import AggsPage, ErrorBody, PreviousClosePage, SnapshotPage, TradesPage
from tickwire.polymarket_us.enums import SubscriptionType
from tickwire.polymarket_us.wire import (
    WireBalancesSnapshot,
    WireFrame,
    WireOrderSnapshot,
    to_legacy,
)

from .chooser import Chooser
from .mutate import decimal_text, rfc3339, struct_value, value_for

__all__ = [
    "MASSIVE_MARKETS",
    "MASSIVE_STATUSES",
    "massive_frame",
    "massive_keys",
    "polymarket_frame",
    "polymarket_keys",
    "rest_page",
]

MASSIVE_MARKETS: Sequence[str] = (
    "stocks",
    "options",
    "forex",
    "crypto",
    "indices",
    "futures",
    "futures/cme",
    "futures/cbot",
    "futures/nymex",
    "futures/comex",
)
MASSIVE_STATUSES: Sequence[str] = (
    "connected",
    "auth_success",
    "auth_failed",
    "auth_timeout",
    "auth_required",
    "success",
    "error",
    "max_connections",
    "slow_consumer",
    "force_disconnect",
    "disconnected",
)


def _struct(cls: type) -> mi.StructType:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return info


@functools.cache
def _decoder(market: str) -> MassiveDecoder:
    return MassiveDecoder(market)


@functools.cache
def _massive_structs(market: str) -> tuple[mi.StructType, ...]:
    return tuple(_struct(cls) for cls in dict.fromkeys(_decoder(market).event_map.values()))


@functools.cache
def massive_keys(market: str) -> tuple[str, ...]:
    """Every wire key of the cluster's events, for mutations that add or rename keys."""
    keys = {f.encode_name for s in _massive_structs(market) for f in s.fields}
    return tuple(sorted(keys | {"ev", "status", "message", "sym", "pair", "T", "p"}))


@functools.cache
def _sim_frames() -> dict[str, tuple[bytes, ...]]:
    """A few seconds of every simulated cluster's feed, as the server frames it."""
    from tickwire.sim.channels import parse_route
    from tickwire.sim.feed import RouteFeed, assemble_frames
    from tickwire.sim.market import MarketModel

    model = MarketModel(seed=11)
    now = 1_705_314_600_000
    out: dict[str, tuple[bytes, ...]] = {}
    for market in MASSIVE_MARKETS:
        route = parse_route(market)
        assert route is not None
        frames: list[bytes] = []
        for quirks in (False, True):
            feed = RouteFeed(model, route, max_events=6, quirks=quirks)
            feed.skip(now)
            selection: dict[str, frozenset[str] | None] = dict.fromkeys(route.channels)
            frames += [f for f, _ in assemble_frames(feed.collect(now + 1_500, selection), selection, 6)]
        out[market] = tuple(frames)
    return out


def status_element(ch: Chooser, channels: Sequence[str] = ()) -> dict[str, Any]:
    """A server status, often an ack or rejection naming ``channels``."""
    status = ch.choice(MASSIVE_STATUSES)
    named = ",".join(c for c in channels if ch.chance(0.6)) if channels else ""
    message = ch.choice(
        (
            "authenticated",
            "Connected Successfully",
            f"subscribed to: {named}",
            f"unsubscribed to: {named}",
            f"invalid channel: {named}",
            "Invalid JSON",
            "",
        )
    )
    return {"ev": "status", "status": status, "message": message}


def massive_frame(market: str, ch: Chooser, channels: Sequence[str] = ()) -> Any:
    """A valid Massive frame as fresh JSON builtins: simulator data, model events, statuses."""
    kind = ch.below(6)
    sim = _sim_frames()[market]
    if kind <= 1 and sim:
        return json.loads(ch.choice(sim))
    if kind == 2:
        return [status_element(ch, channels) for _ in range(ch.integer(1, 3))]
    structs = _massive_structs(market)
    elements: list[Any] = []
    for _ in range(ch.integer(0, 5)):
        if ch.chance(0.15):
            elements.append(status_element(ch, channels))
        else:
            elements.append(struct_value(ch.choice(structs), ch))
    if kind == 3 and elements:
        return elements[0]  # a lone object: one event
    if kind == 4 and sim:
        elements += json.loads(ch.choice(sim))
    return elements


# --- Polymarket US ------------------------------------------------------------------------

_PAYLOADS = tuple(
    f for f in _struct(WireFrame).fields if f.name not in ("request_id", "subscription_type", "error")
)


@functools.cache
def polymarket_keys() -> tuple[str, ...]:
    """Every wire key of the Polymarket US frames (camelCase and snake_case)."""
    keys: set[str] = set()

    def walk(t: mi.Type) -> None:
        if isinstance(t, mi.StructType):
            if t.cls.__name__ in seen:
                return
            seen.add(t.cls.__name__)
            for f in t.fields:
                keys.add(f.encode_name)
                keys.add(f.name)
                walk(f.type)
        elif isinstance(t, mi.UnionType):
            for m in t.types:
                walk(m)
        elif isinstance(t, mi.ListType):
            walk(t.item_type)

    seen: set[str] = set()
    walk(mi.type_info(WireFrame))
    return tuple(sorted(keys))


@functools.cache
def _pm_sim_frames() -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
    """(markets socket frames, private socket frames) from the simulator's builders, both styles."""
    from tickwire.sim.polymarket import PolymarketSimulator
    from tickwire.sim.polymarket.frames import activity_frame

    markets: list[bytes] = []
    private: list[bytes] = []
    for legacy in (False, True):
        sim = PolymarketSimulator(seed=7, legacy=legacy, open_orders=3)
        for slug in sim.markets[:3]:
            for step in range(0, 40, 7):
                markets.append(sim.frames.market_data("md-1", slug, step))
                markets.append(sim.frames.lite("lite-1", slug, step))
                markets += [sim.frames.trade("trade-1", t) for t in sim.model.trades(slug, step)]
        markets.append(sim.frames.encode(WireFrame(heartbeat={})))
        for _ in range(4):
            for kind, _slug, payload in sim.step_account():
                for stype in SubscriptionType:
                    frame = activity_frame(f"{stype.name.lower()}-1", stype, kind, payload)
                    if frame is not None:
                        private.append(sim.frames.encode(frame))
        account = sim.account()
        private.append(
            sim.frames.encode(
                WireFrame(
                    request_id="account_balance-1",
                    subscription_type=SubscriptionType.ACCOUNT_BALANCE.value,
                    account_balances_snapshot=WireBalancesSnapshot(balances=[account.balance()]),
                )
            )
        )
        private.append(
            sim.frames.encode(
                WireFrame(
                    request_id="order_snapshot-1",
                    subscription_type=SubscriptionType.ORDER_SNAPSHOT.value,
                    order_subscription_snapshot=WireOrderSnapshot(
                        orders=[o.wire() for o in account.open_orders], eof=True
                    ),
                )
            )
        )
    return tuple(markets), tuple(private)


def _level(ch: Chooser, price: Decimal) -> dict[str, Any]:
    return {"px": {"value": str(price), "currency": "USD"}, "qty": decimal_text(ch)}


def book_frame(ch: Chooser, request_id: str, slugs: Sequence[str]) -> dict[str, Any]:
    """A MARKET_DATA frame with levels in any order; about one in four is crossed or locked."""
    mid = Decimal(ch.integer(20, 980)) / 1000
    gap = Decimal(ch.integer(-20, 30)) / 1000 if ch.chance(0.25) else Decimal(ch.integer(1, 30)) / 1000
    bids = [_level(ch, p) for i in range(ch.below(5)) if (p := mid - Decimal(i) / 100) >= 0]
    offers = [_level(ch, p) for i in range(ch.below(5)) if (p := mid + gap + Decimal(i) / 100) <= 1]
    for side in (bids, offers):
        if ch.chance(0.3):
            side.reverse()
    return {
        "requestId": request_id,
        "subscriptionType": SubscriptionType.MARKET_DATA.value,
        "marketData": {
            "marketSlug": ch.choice(slugs) if slugs else "m1",
            "bids": bids,
            "offers": offers,
            "state": "MARKET_STATE_OPEN",
            "transactTime": rfc3339(ch),
        },
    }


def polymarket_frame(
    ch: Chooser, *, private: bool | None = None, request_ids: Sequence[str] = (), slugs: Sequence[str] = ()
) -> Any:
    """A valid Polymarket US frame as fresh JSON builtins (either key style)."""
    markets, private_frames = _pm_sim_frames()
    rid = ch.choice(request_ids) if request_ids and ch.chance(0.7) else "req-" + str(ch.below(4))
    kind = ch.below(7)
    if kind <= 1:
        pool = private_frames if private else markets if private is False else markets + private_frames
        frame: Any = json.loads(ch.choice(pool))
        if isinstance(frame, dict) and ch.chance(0.5):
            frame["requestId" if "requestId" in frame else "request_id"] = rid
        return frame
    if kind == 2:
        frame = book_frame(ch, rid, slugs)
    elif kind == 3:
        frame = {"requestId": rid, "error": ch.choice(("market not found: x", "invalid request", "deadline"))}
        if ch.chance(0.3):  # an error ending an order snapshot early
            frame["orderSubscriptionSnapshot"] = {"orders": [], "eof": True}
    elif kind == 4:
        frame = {"heartbeat": {}}
    else:
        payload = ch.choice(_PAYLOADS)
        if payload.name == "market_data":  # prices must stay within 0..1: see book_frame
            return book_frame(ch, rid, slugs)
        frame = {"requestId": rid, payload.encode_name: _payload_value(payload.type, ch)}
        if ch.chance(0.5):
            frame["subscriptionType"] = ch.choice(list(SubscriptionType)).value
    if ch.chance(0.3):
        frame = to_legacy(frame)
    return frame


def _payload_value(t: mi.Type, ch: Chooser) -> Any:
    members = [m for m in t.types if not isinstance(m, mi.NoneType)] if isinstance(t, mi.UnionType) else [t]
    return value_for(members[0], ch)


# --- REST -----------------------------------------------------------------------------------

REST_PAGES = {"aggs": AggsPage, "trades": TradesPage, "prev": PreviousClosePage, "snapshot": SnapshotPage}


def rest_page(endpoint: str, ch: Chooser) -> Any:
    """A valid REST response body of ``endpoint`` as JSON builtins."""
    body = struct_value(_struct(REST_PAGES[endpoint]), ch)
    if "next_url" in body:
        body["next_url"] = ch.choice(
            (
                "https://api.massive.com/v2/aggs/ticker/AAPL/range/1/day/1/2?cursor=abc",
                "/v3/trades/X?cursor=1",
                "",
            )
        )
    return body


def rest_error(ch: Chooser, key: str) -> Any:
    """An error body; sometimes it echoes the key (a server bug the client must not repeat)."""
    body = struct_value(_struct(ErrorBody), ch)
    if ch.chance(0.3):
        body[ch.choice(("error", "message", "status"))] = f"bad key {key} for this plan"
    return body
