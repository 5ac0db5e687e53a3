"""A subscription the plan denies is reported once and never re-sent, whatever the reconnects."""

from __future__ import annotations

import pytest

from tickwire.events import Reconnected, SubscriptionRejected
from tickwire.sim import MassiveSimulator

from .conftest import events_until, fast_client


@pytest.mark.parametrize(
    "message",
    [
        None,  # the simulator's default: "not authorized: your plan does not include Q.AAPL; ..."
        "Your plan doesn't include this data. Visit https://massive.com/pricing to upgrade.",  # names none
    ],
    ids=["names-the-channel", "names-no-channel"],
)
async def test_denied_channel_is_rejected_once_and_not_resent(
    sim: MassiveSimulator, message: str | None
) -> None:
    sim.deny_channels("Q", message=message)
    client = fast_client(sim)
    await client.subscribe("T.AAPL", "Q.AAPL", "T.MSFT")
    async with client:
        seen = await events_until(client, lambda ev, seen: isinstance(ev, SubscriptionRejected))
        await sim.wait_subscribed("stocks", {"T.AAPL", "T.MSFT"})
        for _ in range(3):  # outages: the client reconnects and resubscribes each time
            sim.drop()
            seen += await events_until(client, lambda ev, seen: isinstance(ev, Reconnected))
            await sim.wait_subscribed("stocks", {"T.AAPL", "T.MSFT"})
        rejected = [e for e in seen if isinstance(e, SubscriptionRejected)]
        assert [(r.channel, r.event_type) for r in rejected] == [("Q.AAPL", "subscription_rejected")]
        sent = [a.params for a in sim.actions("stocks", "subscribe")]
        assert sum(p.count("Q.AAPL") for p in sent) == 1, sent  # sent once, never after a reconnect
        assert len(sent) == 4 and all(set(p) == {"T.AAPL", "T.MSFT"} for p in sent[1:])
        assert client.subscriptions == ["T.AAPL", "T.MSFT"]
        subs = client.session.subscriptions
        assert subs.rejected_count == 1 and list(subs.rejected) == ["Q.AAPL"]
        assert client.metrics().rejected_subscriptions == 1


async def test_subscribing_again_tries_again(sim: MassiveSimulator) -> None:
    sim.deny_channels("T.AAPL")
    client = fast_client(sim)
    async with client:
        await client.subscribe("T.AAPL")
        await events_until(client, lambda ev, seen: isinstance(ev, SubscriptionRejected))
        sim.allow_channels()
        await client.subscribe("T.AAPL")  # the user asks again: sent again
        await sim.wait_subscribed("stocks", {"T.AAPL"})
        assert client.subscriptions == ["T.AAPL"] and client.session.subscriptions.rejected == {}
