"""The public API is pinned: a change to an ``__all__`` below must be deliberate.

Also pinned: every public exception is a :class:`~tickwire.errors.TickwireError` defined in
:mod:`tickwire.errors` (re-exported where it used to live), and ``import tickwire`` needs only the
core dependencies.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import textwrap
from types import ModuleType

import pytest

import tickwire
import tickwire.alpaca
import tickwire.errors
import tickwire.massive
import tickwire.polymarket_us

PINNED = {
    "Bar", "BarAggregator", "AsyncRestClient", "RestClient", "PolymarketClient", "Recorder", "Dashboard",
    "StreamClient", "StreamCluster", "StreamHost", "StreamServicePrefix", "StreamWarning",
    "AsyncStreamClient", "AuthError", "Backoff", "ConfigError", "Connected", "ConnectionLost",
    "ControlEvent", "CryptoAgg", "CryptoAggSec", "CryptoQuote", "CryptoTrade", "CurrencyAgg",
    "DecodeError", "Disconnected", "Dropped", "EquityAgg", "EquityAggMin", "EquityQuote",
    "EquityTrade", "Event", "EventType", "FairMarketValue", "Feed", "ForexAgg", "ForexAggSec",
    "ForexQuote", "FuturesAgg", "FuturesAggMin", "FuturesQuote", "FuturesTrade",
    "Imbalance", "IndexAgg", "IndexAggMin", "IndexValue", "JournalError", "LaunchpadValue", "Level2Book",
    "LimitUpLimitDown", "Market", "MassiveEvent", "MetricsSnapshot", "RateLimited", "RawEvent",
    "Reconnected", "RestError", "Status", "SubscriptionError", "SubscriptionRejected", "TLSError",
    "TickwireError", "__version__",
    "DataRefused", "FatalStreamError", "LeaseLost", "NatsRefused", "NatsUnavailable", "PublishError",
    "SinkError", "StreamTaken",
}  # fmt: skip

MASSIVE_EVENTS = {
    "CryptoAgg", "CryptoAggSec", "CryptoQuote", "CryptoTrade", "CurrencyAgg", "EquityAgg", "EquityAggMin",
    "EquityQuote", "EquityTrade", "FairMarketValue", "ForexAgg", "ForexAggSec", "ForexQuote", "FuturesAgg",
    "FuturesAggMin", "FuturesQuote", "FuturesTrade", "Imbalance", "IndexAgg", "IndexAggMin", "IndexValue",
    "LaunchpadValue", "Level2Book", "LimitUpLimitDown", "MassiveEvent",
}  # fmt: skip
MASSIVE_PINNED = MASSIVE_EVENTS | {
    "AsyncRestClient", "AsyncStreamClient", "ChannelInfo", "ChannelKind", "EventType", "Feed", "Market",
    "MassiveDecoder", "MassiveSession", "MessageMode", "RestClient", "StreamClient", "StreamCluster",
    "StreamHost", "StreamServicePrefix", "default_channels", "normalize_channel", "normalize_channels",
    "parse_market",
}  # fmt: skip

POLYMARKET_EVENTS = {
    "AccountBalanceSnapshot", "AccountBalanceUpdate", "Balance", "BookCrossed", "Execution", "MarketData",
    "MarketDataLite", "MarketStats", "Order", "OrderSnapshot", "OrderUpdate", "Position", "PositionUpdate",
    "PriceLevel", "ReplayGap", "Trade",
}  # fmt: skip
POLYMARKET_PINNED = POLYMARKET_EVENTS | {
    "DEFAULT_BASE_URL", "MAX_SLUGS", "Book", "Credentials", "PolymarketClient", "PolymarketDecoder",
    "PolymarketSession", "Signer", "Socket", "Subscription", "SubscriptionType", "parse_time_ns",
    "public_key_b64", "sign_message", "verify_signature",
}  # fmt: skip

ALPACA_PINNED = {
    "AlpacaAuthError", "AlpacaBackfillConfig", "AlpacaCallbackClient", "AlpacaDecoder", "AlpacaError",
    "AlpacaEvent", "AlpacaGapFiller", "AlpacaRestClient", "AlpacaSession", "AlpacaStreamClient",
    "AsyncAlpacaRestClient", "BackfilledBar", "Bar", "BarsBackfilled", "Book", "BookCrossed", "BookLevel",
    "CancelError", "Correction", "DailyBar", "ErrorCode", "Imbalance", "LIVE_HOST", "Luld", "MARKETS",
    "MarketInfo", "News", "OrderBook", "OrderBooks", "Quote", "SANDBOX_HOST", "SubscriptionAck", "Trade",
    "TradingStatus", "UpdatedBar", "bars_frame", "error_info", "market_info", "resolve_keys", "stream_url",
}  # fmt: skip

ERRORS = {
    "AuthError", "ConfigError", "ConnectionLost", "DataRefused", "FatalStreamError", "JournalError",
    "LeaseLost", "NatsRefused", "NatsUnavailable", "PublishError",
    "RateLimited", "RestError", "SinkError", "StreamTaken", "StreamWarning", "SubscriptionError",
    "TLSError", "TickwireError",
}  # fmt: skip

# Extras: ``import tickwire`` must work without any of them installed.
OPTIONAL = (
    "aiohttp", "cryptography", "duckdb", "httpx", "matplotlib", "nats", "pandas", "plotly", "polars",
    "psycopg", "pyarrow", "redis", "zstandard",
)  # fmt: skip


def _ruff_sorted(names: list[str]) -> bool:
    """``__all__`` order as ruff's RUF022 keeps it: SCREAMING_CASE, then CamelCase, then the rest."""

    def key(n: str) -> tuple[int, str]:
        return (0 if n.isupper() else 1 if n[:1].isupper() else 2, n)

    return names == sorted(names, key=key)


def test_all_is_pinned_and_sorted() -> None:
    assert set(tickwire.__all__) == PINNED
    assert tickwire.__all__ == sorted(tickwire.__all__, key=lambda n: (n.startswith("_"), n))


@pytest.mark.parametrize(
    ("module", "pinned"),
    [
        (tickwire, PINNED),
        (tickwire.massive, MASSIVE_PINNED),
        (tickwire.polymarket_us, POLYMARKET_PINNED),
        (tickwire.alpaca, ALPACA_PINNED),
    ],
    ids=["tickwire", "massive", "polymarket_us", "alpaca"],
)
def test_every_name_resolves(module: ModuleType, pinned: set[str]) -> None:
    assert set(module.__all__) == pinned
    assert len(module.__all__) == len(pinned), "a name listed twice"
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute"):
        _ = module.NoSuchName


def test_provider_packages_keep_all_sorted() -> None:
    assert _ruff_sorted(tickwire.massive.__all__)
    assert _ruff_sorted(tickwire.polymarket_us.__all__)


def test_provider_events_are_the_event_modules_own() -> None:
    from tickwire.massive import models
    from tickwire.polymarket_us import events

    assert set(events.__all__) == POLYMARKET_EVENTS
    assert set(models.__all__) == MASSIVE_EVENTS
    for name in POLYMARKET_EVENTS:
        assert getattr(tickwire.polymarket_us, name) is getattr(events, name)
    for name in MASSIVE_EVENTS:
        assert getattr(tickwire.massive, name) is getattr(models, name) is getattr(tickwire, name)


def test_clients_are_the_same_objects_everywhere() -> None:
    from tickwire.massive.callback import StreamClient
    from tickwire.massive.client import AsyncStreamClient
    from tickwire.massive.rest import AsyncRestClient, RestClient
    from tickwire.polymarket_us.client import PolymarketClient

    assert tickwire.AsyncStreamClient is tickwire.massive.AsyncStreamClient is AsyncStreamClient
    assert tickwire.StreamClient is tickwire.massive.StreamClient is StreamClient
    assert tickwire.RestClient is tickwire.massive.RestClient is RestClient
    assert tickwire.AsyncRestClient is tickwire.massive.AsyncRestClient is AsyncRestClient
    assert tickwire.PolymarketClient is tickwire.polymarket_us.PolymarketClient is PolymarketClient


def test_errors_live_in_one_module_under_one_base() -> None:
    assert set(tickwire.errors.__all__) == ERRORS
    for name in ERRORS:
        cls = getattr(tickwire.errors, name)
        assert issubclass(cls, tickwire.errors.TickwireError), name
        assert cls.__module__ == "tickwire.errors", name
        assert getattr(tickwire, name) is cls, name
    assert issubclass(tickwire.SubscriptionError, tickwire.ConfigError)
    assert issubclass(tickwire.ConfigError, ValueError)
    assert issubclass(tickwire.RateLimited, tickwire.RestError)


def test_moved_errors_are_re_exported_where_they_were() -> None:
    from tickwire import journal
    from tickwire.journal import reader
    from tickwire.massive import rest
    from tickwire.massive.rest import core

    assert journal.JournalError is reader.JournalError is tickwire.errors.JournalError
    assert rest.RestError is core.RestError is tickwire.errors.RestError
    assert rest.RateLimited is core.RateLimited is tickwire.errors.RateLimited


def _modules() -> list[str]:
    """Every tickwire module (``__main__`` runs the CLI, so it is left out)."""
    found = pkgutil.walk_packages(tickwire.__path__, prefix="tickwire.")
    return sorted(m.name for m in found if not m.name.endswith("__main__"))


def test_no_public_exception_is_defined_outside_errors() -> None:
    stray: list[str] = []
    for name in _modules():
        if name == "tickwire.errors":
            continue
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and not attr.startswith("_")
            ):
                stray.append(f"{name}.{attr}")
    assert stray == []


def test_import_tickwire_needs_only_core_dependencies() -> None:
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys

        BLOCKED = {OPTIONAL!r}

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"blocked optional dependency {{name}}", name=name)
                return None

        sys.meta_path.insert(0, Block())
        import tickwire, tickwire.massive
        lazy = {{"AsyncRestClient", "RestClient", "PolymarketClient", "Recorder", "Dashboard"}}
        for module in (tickwire, tickwire.massive):
            for name in set(module.__all__) - lazy:
                getattr(module, name)
        try:
            tickwire.PolymarketClient
        except ModuleNotFoundError as exc:
            assert exc.name == "cryptography", exc
        else:
            raise AssertionError("PolymarketClient imported without cryptography")
        print(sorted({{m.split(".")[0] for m in sys.modules}} & set(BLOCKED)))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_cli_loads_with_the_storage_extra_only() -> None:
    """The Quick start installs ``.[storage]`` and runs ``tickwire record``: the CLI must load (and
    ``record --help`` work) without the dashboard's, REST's or Polymarket's extras."""
    storage = {"duckdb", "pyarrow", "psycopg", "redis", "nats", "zstandard"}
    blocked = tuple(m for m in OPTIONAL if m not in storage)
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys

        BLOCKED = {blocked!r}

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"blocked optional dependency {{name}}", name=name)
                return None

        sys.meta_path.insert(0, Block())
        sys.argv = ["tickwire", "record", "--help"]
        from tickwire.cli.app import app
        app()
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "--flush-timeout" in out.stdout
