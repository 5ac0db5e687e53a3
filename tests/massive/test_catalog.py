"""The Massive channel catalogue: one table, and everything derived from it agrees with it.

Every channel of every market decodes to its class (from a frame the simulator really sends),
the client validates exactly the catalogue's channels, the sink tables and the recorder's
defaults are the catalogue's, and the simulator serves exactly the catalogue on every path.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import msgspec
import pytest

from tickwire.errors import ConfigError, SubscriptionError
from tickwire.events import Status
from tickwire.massive import catalog
from tickwire.massive.catalog import ChannelKind
from tickwire.massive.channels import normalize_channel
from tickwire.massive.decoder import MassiveDecoder, encode
from tickwire.massive.enums import Market
from tickwire.massive.models import MassiveEvent
from tickwire.massive.polygon_compat import SERVICES
from tickwire.provider import get_provider
from tickwire.sim import MassiveSimulator
from tickwire.sim import channels as sim_channels

from ..sim.sim_client import open_client

ALL_MARKETS = list(Market)
EVERY_PREFIX = sorted({p for fam in catalog.FAMILIES for p in catalog.channels(fam)})


def test_families_and_sub_clusters() -> None:
    assert catalog.FAMILIES == ("stocks", "options", "forex", "crypto", "indices", "futures")
    for market in ALL_MARKETS:
        assert catalog.family(market) == market.base
        assert catalog.family(market.value) == market.base
        assert catalog.channels(market) is catalog.channels(market.base)
    assert catalog.family("futures/cme") == "futures"
    assert catalog.channels("Stocks") is catalog.channels(Market.Stocks)
    with pytest.raises(ConfigError, match="unknown market 'bonds'"):
        catalog.channels("bonds")


def test_rows_are_consistent() -> None:
    for fam in catalog.FAMILIES:
        table = catalog.channels(fam)
        assert isinstance(table, MappingProxyType)
        for prefix, info in table.items():
            assert (info.family, info.prefix) == (fam, prefix)
            assert issubclass(info.event, MassiveEvent)
            assert info.event.__struct_config__.tag == prefix, (fam, prefix)  # the prefix is the wire ev
            assert info.table == info.kind.table
        classes = [info.event for info in table.values()]
        assert len(set(classes)) == len(classes), f"{fam}: a class serves two channels"
        tables = [info.table for info in table.values()]
        assert len(set(tables)) == len(tables), f"{fam}: two channels share a table"
    assert {k.table for k in ChannelKind} == {
        "trades", "quotes", "aggs_second", "aggs_minute", "values", "luld", "imbalances", "fmv",
        "launchpad_values", "books", "launchpad_aggs_minute",
    }  # fmt: skip
    info = catalog.channels("stocks")["T"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.recorded = False  # type: ignore[misc]


def test_launchpad_minute_bars_on_crypto_and_forex_have_their_own_kind() -> None:
    for fam in ("crypto", "forex"):
        am = catalog.channels(fam)["AM"]
        assert am.kind is ChannelKind.LAUNCHPAD_AM and am.table == "launchpad_aggs_minute"
    assert catalog.channels("stocks")["AM"].table == "aggs_minute"


def test_default_channels() -> None:
    expected = {
        "stocks": ("T.*", "Q.*", "AM.*"),
        "options": ("T.*", "AM.*"),
        "indices": ("V.*", "AM.*"),
        "futures": ("T.*", "Q.*", "AM.*"),
        "crypto": ("XT.*", "XQ.*", "XA.*"),
        "forex": ("C.*", "CA.*"),
    }
    for market in ALL_MARKETS:
        assert catalog.default_channels(market) == expected[market.base], market
        assert get_provider("massive").default_channels(market.value) == expected[market.base]


def test_realtime_only_channels() -> None:
    realtime_only = {
        fam: {p for p, info in catalog.channels(fam).items() if info.realtime_only}
        for fam in catalog.FAMILIES
    }
    assert realtime_only == {
        "stocks": {"Q", "LULD", "NOI"},
        "options": {"Q"},
        "forex": {"C", "CA", "CAS"},
        "crypto": {"XT", "XQ", "XL2", "XA", "XAS"},
        "indices": set(),
        "futures": set(),
    }


@pytest.mark.parametrize("market", ALL_MARKETS, ids=str)
def test_every_channel_decodes_to_its_class(market: Market) -> None:
    decoder = MassiveDecoder(market)
    table = catalog.channels(market)
    events = decoder.decode(encode([info.event() for info in table.values()]))
    assert [type(e) for e in events] == [info.event for info in table.values()]
    assert decoder.event_map == {**catalog.event_map(market), "status": Status}
    assert decoder.errors == decoder.unknown == 0


@pytest.mark.parametrize("market", ALL_MARKETS, ids=str)
def test_client_validation_accepts_exactly_the_catalogue(market: Market) -> None:
    served = catalog.channels(market)
    for prefix in EVERY_PREFIX:
        if prefix in served:
            assert normalize_channel(f"{prefix}.*", market) == f"{prefix}.*"
        else:
            with pytest.raises(SubscriptionError, match=f"channel '{prefix}' does not exist"):
                normalize_channel(f"{prefix}.*", market)


@pytest.mark.parametrize("market", ALL_MARKETS, ids=str)
def test_sink_tables_are_the_catalogue(market: Market) -> None:
    tables = get_provider("massive").tables(market.value)
    for info in catalog.channels(market).values():
        spec = tables.table_for(info.event)
        assert spec is not None, info
        assert spec.name == f"{market.base}_{info.table}"


def test_polygon_services_name_catalogue_channels() -> None:
    """A ``subscribe_<service>`` method is for a channel of its cluster (of some cluster: FMV, LV)."""
    for service in SERVICES.values():
        if service.cluster is None:
            assert any(service.prefix in catalog.channels(f) for f in catalog.FAMILIES), service.name
        else:
            assert service.prefix in catalog.channels(service.cluster), service.name


def test_simulator_tables_are_the_catalogue() -> None:
    assert sim_channels.Kind is ChannelKind
    assert set(sim_channels.CHANNELS) == set(catalog.FAMILIES)
    for fam in catalog.FAMILIES:
        table = catalog.channels(fam)
        assert sim_channels.CHANNELS[fam] == {p: info.kind for p, info in table.items()}
        assert sim_channels.REALTIME_ONLY[fam] == {p for p, info in table.items() if info.realtime_only}
    assert tuple(m.value for m in Market) == sim_channels.MARKETS


@pytest.mark.parametrize("delayed", [False, True], ids=["realtime", "delayed"])
@pytest.mark.parametrize("market", ALL_MARKETS, ids=str)
async def test_simulator_serves_exactly_the_catalogue(market: Market, delayed: bool) -> None:
    """Every prefix any cluster knows, subscribed on one path: the catalogue's succeed (minus the
    real-time-only ones on the delayed feed), every other one is refused."""
    async with MassiveSimulator(seed=1, max_connections=None) as sim:
        client = await open_client(sim.url_for(market.value, delayed=delayed))
        replies = await client.subscribe(",".join(f"{p}.*" for p in EVERY_PREFIX))
        await client.ws.close()
    served = catalog.channels(market)
    accepted = {p for p in served if not (delayed and served[p].realtime_only)}
    got = {p for p, r in zip(EVERY_PREFIX, replies, strict=True) if r["status"] == "success"}
    assert got == accepted
    assert all(
        r["status"] == "error" for p, r in zip(EVERY_PREFIX, replies, strict=True) if p not in accepted
    )


@pytest.mark.parametrize("market", [*catalog.FAMILIES, "futures/cme"])
async def test_every_channel_the_simulator_sends_decodes_to_its_class(market: str) -> None:
    table = catalog.channels(market)
    # a minute of market time per second: minute bars, LULD bands and imbalances come quickly
    async with MassiveSimulator(seed=3, tick_interval=0.02, speed=60.0) as sim:
        client = await open_client(sim.url_for(market), subscribe=",".join(f"{p}.*" for p in table))
        raw = await client.collect(lambda evs: {e["ev"] for e in evs} >= set(table), within=10)
        await client.ws.close()
    decoder = MassiveDecoder(market)
    seen: set[str] = set()
    for element in raw:
        (event,) = decoder.decode(msgspec.json.encode([element]))
        assert type(event) is table[element["ev"]].event, element
        seen.add(element["ev"])
    assert seen == set(table)
    assert decoder.errors == decoder.unknown == 0
