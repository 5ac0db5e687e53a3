"""Massive channel strings: split at the first dot, normalised, validated against the catalogue."""

from __future__ import annotations

import pytest

from tickwire.errors import ConfigError, SubscriptionError
from tickwire.massive.channels import normalize_channel, normalize_channels, split_channel
from tickwire.massive.enums import Market


def test_split_at_first_dot() -> None:
    assert split_channel("T.BRK.A") == ("T", "BRK.A")
    assert split_channel("AM.*") == ("AM", "*")
    for bad in ("T", "T.", ".AAPL", ""):
        with pytest.raises(SubscriptionError, match=r"expected <CHANNEL>\.<TICKER>"):
            split_channel(bad)


def test_normalize_upper_cases_and_splits_commas() -> None:
    assert normalize_channels(["t.aapl, q.msft", "XT.btc-usd"]) == ["T.AAPL", "Q.MSFT", "XT.BTC-USD"]
    assert normalize_channels(["C.EUR/USD"], Market.Forex) == ["C.EUR/USD"]
    assert normalize_channel(" t.brk.a ") == "T.BRK.A"
    assert normalize_channel("t.brk.a", uppercase=False) == "T.brk.a"


def test_malformed_or_unserved_channels_raise_subscription_error() -> None:
    with pytest.raises(SubscriptionError, match=r"malformed channel 'T\.'"):
        normalize_channels(["T."])
    with pytest.raises(SubscriptionError, match="no spaces or commas"):
        normalize_channel("T.AA PL")
    with pytest.raises(SubscriptionError, match="must be a string, got int"):
        normalize_channels([7])  # type: ignore[list-item]
    with pytest.raises(
        SubscriptionError, match=r"'V' does not exist on the stocks cluster \(valid: A, AM, FMV"
    ):
        normalize_channels(["V.I:SPX"], Market.Stocks)
    with pytest.raises(SubscriptionError, match="does not exist on the futures/cme cluster"):
        normalize_channel("XT.*", Market.FuturesCME)
    # still a ConfigError: code written against the older error keeps working
    with pytest.raises(ConfigError):
        normalize_channel("nodot")
