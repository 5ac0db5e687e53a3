"""Every ``subscribe_*``/``unsubscribe_*`` pair of seed 001 and the ``polygon`` package, on its cluster,
checked by the exact channels the simulator receives."""

from __future__ import annotations

import polygon
import pytest

from tickwire import AsyncStreamClient
from tickwire.errors import ConfigError
from tickwire.massive.callback import StreamClient
from tickwire.massive.polygon_compat import SERVICES, StreamCluster
from tickwire.sim.thread import SimulatorThread

from .conftest import Recorder, make_client

# cluster: (symbols as a user passes them, tickers as they must go on the wire)
SYMBOLS = {
    "stocks": (["aapl", "BRK.A"], ["AAPL", "BRK.A"]),
    "options": (
        ["spy241220p00720000", "O:SPY241220C00720000"],
        ["O:SPY241220P00720000", "O:SPY241220C00720000"],
    ),
    "forex": (["eur/usd", "C:GBP/JPY"], ["EUR/USD", "GBP/JPY"]),
    "crypto": (["btc-usd", "X:ETH-USD"], ["BTC-USD", "ETH-USD"]),
    "indices": (["spx", "I:NDX"], ["I:SPX", "I:NDX"]),
}
# fair market value and launchpad value carry class prefixes (polygon.md §1.3)
VALUE_SYMBOLS = {
    "stocks": (["aapl"], ["AAPL"]),
    "options": (["O:spy241220p00720000"], ["O:SPY241220P00720000"]),
    "forex": (["eurusd"], ["C:EURUSD"]),
    "crypto": (["btc-usd"], ["X:BTC-USD"]),
}


def services_for(cluster: str) -> list[str]:
    own = [name for name, s in SERVICES.items() if s.cluster == cluster]
    return own + (["fair_market_value", "launchpad_value"] if cluster in VALUE_SYMBOLS else [])


def test_every_polygon_method_is_here() -> None:
    """The 22 pairs of ``polygon`` 1.2.8 (both spellings of the index-value unsubscribe) and LV."""
    for cls in (polygon.StreamClient, polygon.AsyncStreamClient):
        theirs = {m for m in dir(cls) if m.startswith(("subscribe_", "unsubscribe_"))}
        assert len(theirs) == 44
        for ours in (StreamClient, AsyncStreamClient):
            assert theirs <= set(dir(ours)), sorted(theirs - set(dir(ours)))
        assert {m.removeprefix("subscribe_") for m in theirs if m.startswith("subscribe_")} | {
            "launchpad_value"
        } == set(SERVICES)


@pytest.mark.parametrize("cluster", [c.value for c in StreamCluster])
def test_each_pair_sends_exact_params(
    sim: SimulatorThread, clients: list[StreamClient], cluster: str
) -> None:
    rec = Recorder()
    client = make_client(sim, rec, cluster=StreamCluster(cluster))
    clients.append(client)
    client.start_stream_thread()
    rec.wait_streaming()  # else a subscribe and its unsubscribe could cancel out before auth
    expected: list[tuple[str, tuple[str, ...]]] = []
    names = services_for(cluster)
    for name in names:
        service = SERVICES[name]
        given, wire = VALUE_SYMBOLS[cluster] if service.prefix in ("FMV", "LV") else SYMBOLS[cluster]
        getattr(client, f"subscribe_{name}")(given)
        expected.append(("subscribe", tuple(f"{service.prefix}.{t}" for t in wire)))
    for name in names:
        service = SERVICES[name]
        given, wire = VALUE_SYMBOLS[cluster] if service.prefix in ("FMV", "LV") else SYMBOLS[cluster]
        getattr(client, f"unsubscribe_{name}")(given)
        expected.append(("unsubscribe", tuple(f"{service.prefix}.{t}" for t in wire)))
    got = sim.wait_actions(1 + len(expected), cluster=cluster)  # the auth, then one action per call
    assert [(a.action, a.params) for a in got[1:]] == expected
    assert client.subscriptions == []


@pytest.mark.parametrize("everything", [None, [], ["*"], "all", ["aapl", "*"]])
def test_all_tickers_forms(sim: SimulatorThread, clients: list[StreamClient], everything: object) -> None:
    client = make_client(sim, Recorder())
    clients.append(client)
    client.subscribe_stock_quotes(everything)  # type: ignore[arg-type]
    client.start_stream_thread()
    sim.wait_subscribed("stocks", ["Q.*"])
    assert [a.params for a in sim.actions("stocks", "subscribe")] == [("Q.*",)]
    client.unsubscribe_stock_quotes()  # the default is the wildcard
    sim.wait_actions(1, "unsubscribe", "stocks")
    assert [a.params for a in sim.actions("stocks", "unsubscribe")] == [("Q.*",)]


def test_case_and_strings(sim: SimulatorThread, clients: list[StreamClient]) -> None:
    rec = Recorder()
    client = make_client(sim, rec)
    clients.append(client)
    client.start_stream_thread()
    rec.wait_streaming()  # else the three calls go out as one request once authenticated
    client.subscribe_stock_trades(["aapl"], force_uppercase_symbols=False)
    client.subscribe_stock_trades("T.msft,Q.IBM")  # a string is sent as is: channels, no upper-casing
    client.subscribe_stock_trades(["aapl", "AAPL", " nvda "])  # duplicates collapse, blanks trimmed
    got = sim.wait_actions(4, cluster="stocks")
    assert [a.params for a in got[1:]] == [("T.aapl",), ("T.msft", "Q.IBM"), ("T.AAPL", "T.NVDA")]


def test_bad_symbols_are_clear_errors(sim: SimulatorThread, clients: list[StreamClient]) -> None:
    forex = make_client(sim, Recorder(), cluster="forex")
    crypto = make_client(sim, Recorder(), cluster=StreamCluster.CRYPTO)
    stocks = make_client(sim, Recorder())
    clients.extend([forex, crypto, stocks])
    with pytest.raises(ConfigError, match="expected the form 'EUR/USD'"):
        forex.subscribe_forex_quotes(["EURUSD"])
    with pytest.raises(ConfigError, match="expected the form 'BTC-USD'"):
        crypto.subscribe_crypto_trades(["BTCUSD"])
    with pytest.raises(ConfigError, match="on the options cluster; this client is connected to stocks"):
        stocks.subscribe_option_trades(["SPY241220P00720000"])
    with pytest.raises(ConfigError, match="list of strings"):
        stocks.subscribe_stock_trades(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="A string is sent as is"):
        stocks.subscribe_stock_trades("AAPL")
    with pytest.raises(ConfigError, match="does not exist on the indices cluster"):
        make_client(sim, cluster="indices").subscribe_fair_market_value(["SPX"])
    assert stocks.subscriptions == [] and forex.subscriptions == [] and crypto.subscriptions == []
