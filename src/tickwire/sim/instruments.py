"""The simulated instruments: what each cluster lists, and the few numbers that shape its prices.

An :class:`Instrument` carries everything the market model needs to make a ticker look
plausible: a reference price, the price increment, how busy it is, its spread, its volatility
and how its sizes are counted. :func:`default_universe` lists a realistic set per cluster;
pass ``extra_stocks=N`` to add ``N`` synthetic stock tickers for load tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["CLUSTERS", "Instrument", "Universe", "default_universe"]

CLUSTERS: tuple[str, ...] = ("stocks", "options", "forex", "crypto", "indices", "futures")
"""The cluster families the simulator serves (``futures/cme`` etc. are futures sub-paths)."""


@dataclass(frozen=True, slots=True)
class Instrument:
    """One simulated ticker.

    ``ticker`` is the symbol as subscribed and as sent on the wire (``AAPL``, ``O:SPY251219C00600000``,
    ``EUR/USD``, ``BTC-USD``, ``I:SPX``, ``ESZ5``). Sizes are counted in *lots* of ``lot`` wire units
    (100 shares for most stocks, 1 contract, 1e-8 coin for crypto via ``size_scale``).
    """

    ticker: str
    cluster: str
    price: float
    tick: float = 0.01
    activity: float = 1.0
    half_spread: int = 1
    volatility: float = 0.0006
    lot: int = 1
    mean_lots: float = 2.0
    size_scale: int = 1
    tape: int = 0
    listing_exchange: int = 0
    venue: str = ""
    decimals: int = field(init=False, default=0)
    key: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        exponent = Decimal(repr(self.tick)).normalize().as_tuple().exponent
        object.__setattr__(self, "decimals", max(0, -int(exponent)))
        object.__setattr__(self, "key", _ticker_key(self.ticker))

    @property
    def prefixed(self) -> str:
        """The class-prefixed symbol used by FMV, LV and launchpad AM (``X:BTC-USD``, ``C:EURUSD``)."""
        if self.cluster == "crypto":
            return "X:" + self.ticker
        if self.cluster == "forex":
            return "C:" + self.ticker.replace("/", "")
        return self.ticker

    @property
    def sized(self) -> bool:
        """Whether prints carry a size (indices publish bare values)."""
        return self.cluster != "indices"


def rest_forms(inst: Instrument) -> tuple[str, ...]:
    """The ticker as the REST API and the class-prefixed events name it: crypto ``X:BTCUSD``
    (also ``X:BTC-USD``), forex ``C:EURUSD`` (also ``C:EUR/USD``); options (``O:...``) and
    indices (``I:SPX``) are named the same everywhere. The bare stream forms stay as they are."""
    compact = inst.ticker.replace("-", "").replace("/", "")
    if inst.cluster == "crypto":
        return ("X:" + compact, "X:" + inst.ticker)
    if inst.cluster == "forex":
        return ("C:" + compact, "C:" + inst.ticker)
    return ()


def _ticker_key(ticker: str) -> int:
    """A stable 64-bit number for a ticker (FNV-1a), mixed into every RNG seed."""
    h = 0xCBF29CE484222325
    for byte in ticker.encode():
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class Universe:
    """The instruments per cluster, looked up by ticker and by class-prefixed alias."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_cluster: dict[str, list[Instrument]] = {c: [] for c in CLUSTERS}
        self._by_ticker: dict[tuple[str, str], Instrument] = {}
        for inst in instruments:
            if inst.cluster not in self._by_cluster:
                raise ValueError(f"unknown cluster {inst.cluster!r} for {inst.ticker}")
            if (inst.cluster, inst.ticker) in self._by_ticker:
                raise ValueError(f"duplicate ticker {inst.ticker} in {inst.cluster}")
            self._by_cluster[inst.cluster].append(inst)
            self._by_ticker[(inst.cluster, inst.ticker)] = inst
        self._aliases: dict[tuple[str, str], str] = {}
        for (cluster, ticker), inst in self._by_ticker.items():
            for alias in (inst.prefixed, *rest_forms(inst)):
                if alias != ticker:
                    self._aliases.setdefault((cluster, alias), ticker)

    def instruments(self, cluster: str, venue: str | None = None) -> list[Instrument]:
        """The instruments of a cluster (futures optionally narrowed to one venue, e.g. ``cme``)."""
        found = self._by_cluster.get(cluster, [])
        if venue:
            return [i for i in found if i.venue == venue]
        return list(found)

    def get(self, cluster: str, ticker: str) -> Instrument | None:
        """The instrument for a ticker as subscribed (plain or class-prefixed), or ``None``."""
        inst = self._by_ticker.get((cluster, ticker))
        if inst is None:
            canonical = self._aliases.get((cluster, ticker))
            if canonical is not None:
                inst = self._by_ticker[(cluster, canonical)]
        return inst

    def canonical(self, cluster: str, ticker: str) -> str:
        """The plain ticker for a subscribed one (``X:BTC-USD`` → ``BTC-USD``); unknown ones unchanged."""
        return self._aliases.get((cluster, ticker), ticker)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_ticker.values())

    def __len__(self) -> int:
        return len(self._by_ticker)

    def as_mapping(self) -> Mapping[str, list[Instrument]]:
        """Cluster → instruments (a copy)."""
        return {c: list(v) for c, v in self._by_cluster.items()}


def _stock(
    ticker: str,
    price: float,
    activity: float,
    tape: int,
    listing: int,
    *,
    lot: int = 100,
    mean_lots: float = 2.0,
    half_spread: int = 1,
    volatility: float = 0.0006,
) -> Instrument:
    return Instrument(
        ticker,
        "stocks",
        price,
        activity=activity,
        tape=tape,
        listing_exchange=listing,
        lot=lot,
        mean_lots=mean_lots,
        half_spread=half_spread,
        volatility=volatility,
    )


def _option(ticker: str, price: float, activity: float = 0.3) -> Instrument:
    return Instrument(
        ticker, "options", price, activity=activity, half_spread=2, volatility=0.004, mean_lots=4.0
    )


def _fx(pair: str, price: float, tick: float = 0.00001) -> Instrument:
    return Instrument(pair, "forex", price, tick=tick, half_spread=3, volatility=0.00012)


def _coin(pair: str, price: float, tick: float, activity: float = 1.0) -> Instrument:
    mean_units = 2_000.0 / price * 1e8  # about $2,000 per trade
    return Instrument(
        pair,
        "crypto",
        price,
        tick=tick,
        activity=activity,
        half_spread=2,
        volatility=0.0012,
        mean_lots=mean_units,
        size_scale=100_000_000,
    )


def _index(ticker: str, price: float) -> Instrument:
    return Instrument(ticker, "indices", price, volatility=0.0004, half_spread=0)


def _future(ticker: str, price: float, tick: float, venue: str, activity: float = 1.0) -> Instrument:
    return Instrument(
        ticker, "futures", price, tick=tick, activity=activity, volatility=0.0004, mean_lots=3.0, venue=venue
    )


_NYSE, _ARCA, _NASDAQ = 10, 11, 12


def default_universe(extra_stocks: int = 0) -> Universe:
    """A realistic set of instruments per cluster, plus ``extra_stocks`` synthetic ``SIMnnnn`` stocks."""
    stocks = [
        _stock("AAPL", 230.0, 2.0, 3, _NASDAQ),
        _stock("MSFT", 420.0, 1.5, 3, _NASDAQ),
        _stock("NVDA", 180.0, 3.0, 3, _NASDAQ),
        _stock("AMZN", 220.0, 1.5, 3, _NASDAQ),
        _stock("TSLA", 430.0, 2.5, 3, _NASDAQ),
        _stock("SPY", 660.0, 3.0, 2, _ARCA),
        _stock("QQQ", 590.0, 2.0, 3, _NASDAQ),
        _stock("IWM", 240.0, 1.0, 2, _ARCA),
        _stock("GOOGL", 250.0, 1.2, 3, _NASDAQ),
        _stock("META", 720.0, 1.0, 3, _NASDAQ),
        _stock("AMD", 160.0, 1.5, 3, _NASDAQ),
        _stock("NFLX", 1200.0, 0.5, 3, _NASDAQ),
        _stock("PLTR", 180.0, 1.5, 3, _NASDAQ),
        _stock("INTC", 37.0, 1.0, 3, _NASDAQ),
        _stock("JPM", 300.0, 0.8, 1, _NYSE),
        _stock("XOM", 115.0, 0.6, 1, _NYSE),
        _stock("BAC", 50.0, 0.8, 1, _NYSE),
        _stock("KO", 70.0, 0.5, 1, _NYSE),
        _stock("F", 12.0, 0.7, 1, _NYSE),
        _stock("BRK.A", 730000.0, 0.05, 1, _NYSE, lot=1, mean_lots=1.5, half_spread=1500, volatility=0.0003),
        _stock("BRK.B", 490.0, 0.4, 1, _NYSE),
    ]
    for n in range(extra_stocks):
        stocks.append(_stock(f"SIM{n:04d}", 20.0 + (n * 37) % 400, 1.0, 3, _NASDAQ))
    options = [
        _option("O:SPY251219C00600000", 65.0, 0.5),
        _option("O:SPY251219P00600000", 4.2, 0.5),
        _option("O:SPY260320C00700000", 9.8),
        _option("O:AAPL251219C00250000", 3.1),
        _option("O:AAPL260116P00200000", 1.85),
        _option("O:TSLA251219C00450000", 28.0),
        _option("O:NVDA260116C00200000", 6.5),
        _option("O:QQQ251219P00550000", 3.3),
    ]
    forex = [
        _fx("EUR/USD", 1.165),
        _fx("USD/JPY", 152.3, tick=0.001),
        _fx("GBP/USD", 1.32),
        _fx("AUD/USD", 0.655),
        _fx("USD/CAD", 1.40),
        _fx("USD/CHF", 0.80),
        _fx("EUR/GBP", 0.88),
        _fx("NZD/USD", 0.57),
    ]
    crypto = [
        _coin("BTC-USD", 95000.0, 0.01, 2.0),
        _coin("ETH-USD", 3200.0, 0.01, 1.5),
        _coin("SOL-USD", 180.0, 0.01),
        _coin("XRP-USD", 2.3, 0.0001),
        _coin("DOGE-USD", 0.18, 0.00001),
        _coin("ADA-USD", 0.7, 0.0001, 0.5),
        _coin("LTC-USD", 95.0, 0.01, 0.5),
        _coin("BTC-EUR", 82000.0, 0.01, 0.5),
    ]
    indices = [
        _index("I:SPX", 6600.0),
        _index("I:NDX", 24500.0),
        _index("I:DJI", 46500.0),
        _index("I:RUT", 2450.0),
        _index("I:VIX", 17.5),
        _index("I:COMP", 22500.0),
    ]
    futures = [
        _future("ESZ5", 6650.0, 0.25, "cme", 2.0),
        _future("NQZ5", 24700.0, 0.25, "cme", 1.5),
        _future("RTYZ5", 2460.0, 0.1, "cme", 0.5),
        _future("YMZ5", 46800.0, 1.0, "cbot", 0.5),
        _future("ZNZ5", 112.5, 0.015625, "cbot"),
        _future("ZBZ5", 117.0, 0.03125, "cbot", 0.5),
        _future("ZCZ5", 430.0, 0.25, "cbot", 0.4),
        _future("CLZ5", 62.0, 0.01, "nymex", 1.2),
        _future("NGZ5", 3.2, 0.001, "nymex", 0.6),
        _future("GCZ5", 4000.0, 0.1, "comex", 1.0),
        _future("SIZ5", 48.0, 0.005, "comex", 0.5),
    ]
    return Universe([*stocks, *options, *forex, *crypto, *indices, *futures])
