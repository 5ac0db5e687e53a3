"""HA recorders on a 3-node JetStream cluster: one upstream connection, takeover after SIGKILL and
SIGSTOP, the old leader fenced off, the failover gap reported and its bars backfilled, no duplicates."""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.ha.cluster import Cluster, CountingProxy, HaRecorder, eventually, stream_messages
from tickwire.ha import FailoverGap, LeaseStore
from tickwire.massive.models import EquityAgg, EquityTrade
from tickwire.massive.tables import massive_tables
from tickwire.sim import MassiveSimulator
from tickwire.sinks.nats_jetstream import NatsMessage, default_stream, message_decoder

TTL = 2.0
STOCKS = massive_tables("stocks")
CHANNELS = ["T.AAPL", "T.MSFT", "A.AAPL", "A.MSFT"]
DECODE = message_decoder(STOCKS)


@dataclass
class Ha:
    """One test's simulator behind a counting proxy, its lease name, prefix and recorders."""

    c: Cluster
    sim: MassiveSimulator
    proxy: CountingProxy
    root: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    recorders: list[HaRecorder] = field(default_factory=list)

    @property
    def stream(self) -> str:
        return default_stream(f"ha{self.tag}", STOCKS.namespace)

    def recorder(self, nats_url: str | None = None) -> HaRecorder:
        i = len(self.recorders)
        args = [
            *CHANNELS, "--url", f"ws://127.0.0.1:{self.proxy.port}/stocks", "--api-key", "k",
            "--no-duckdb", "-d", str(self.root / f"r{i}"), "--fsync-interval", "0.2",
            "--ha", nats_url or self.c.url, "--ha-name", f"rec{self.tag}", "--ha-ttl", str(TTL),
            "--ha-replicas", "3", "--ha-prefix", f"ha{self.tag}", "--rest-url", self.sim.rest_url,
        ]  # fmt: skip
        r = HaRecorder(args, self.root / f"r{i}.log").start()
        self.recorders.append(r)
        return r

    async def lease(self) -> tuple[int, str]:
        store = LeaseStore(self.c.url, f"rec{self.tag}")
        await store.connect()
        try:
            entry = await store.read()
        finally:
            await store.close()
        if entry is None or entry.value is None:
            return 0, ""
        return entry.revision, entry.value.holder

    async def messages(self) -> list[NatsMessage]:
        return await stream_messages(self.c.url, self.stream, DECODE)


@pytest.fixture
async def ha(js_cluster: Cluster, tmp_path: Path) -> AsyncIterator[Ha]:
    async with MassiveSimulator(seed=3, tick_interval=0.05, rate=40.0, rest=True) as sim:
        host, port = sim.url_for("stocks").split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        proxy = CountingProxy((host, int(port)))
        await proxy.start()
        h = Ha(js_cluster, sim, proxy, tmp_path)
        try:
            yield h
        finally:
            for r in h.recorders:
                await r.astop()
            await proxy.close()


async def lead_and_standby(h: Ha, a_nats: str | None = None) -> tuple[HaRecorder, HaRecorder, str]:
    """A leads (its lease, its one connection, its messages); B stands by without connecting."""
    a = h.recorder(a_nats)
    rev, holder = await eventually(lambda: _held(h), 20, "a first lease holder")
    assert f":{a.proc.pid}:" in holder  # type: ignore[union-attr]
    await eventually(lambda: _count(h, 3), 20, "the leader's first messages")
    b = h.recorder()
    # B has polled many times while A renewed: at least 2 ttl of renewals (every ttl/3)
    await eventually(lambda: _renewed(h, rev + 6), 20, "renewals while B stands by")
    assert h.proxy.opened == 1 and h.proxy.open == 1, "a standby connected upstream"
    return a, b, holder


async def _held(h: Ha) -> tuple[int, str] | None:
    rev, holder = await h.lease()
    return (rev, holder) if holder else None


async def _count(h: Ha, n: int) -> bool:
    return len(await h.messages()) >= n


async def _renewed(h: Ha, revision: int) -> bool:
    return (await h.lease())[0] >= revision


def takeover_seconds(h: Ha, since: float) -> float:
    second_open = [t for t, n in h.proxy.log if t > since and n >= 1]
    opens = [t for (t, n), (_, before) in zip(h.proxy.log[1:], h.proxy.log, strict=False) if n > before]
    return min(t for t in opens if t > since) - since if opens else min(second_open) - since


def check_stream(msgs: list[NatsMessage], old_holder: str) -> tuple[FailoverGap, list[NatsMessage]]:
    """The failover gap; no event twice (by content: trades by subject and id, bars by start)."""
    gaps = [e for m in msgs for e in m.events if isinstance(e, FailoverGap)]
    assert len(gaps) == 1, gaps
    gap = gaps[0]
    assert gap.previous_holder == old_holder and gap.epoch > gap.previous_epoch > 0 and gap.error is None
    trades = Counter(
        (e.symbol, e.id, e.sequence_number) for m in msgs for e in m.events if isinstance(e, EquityTrade)
    )
    assert trades and max(trades.values()) == 1, [k for k, v in trades.items() if v > 1][:5]
    bars = Counter((e.symbol, e.start_timestamp) for m in msgs for e in m.events if isinstance(e, EquityAgg))
    assert bars and max(bars.values()) == 1, [k for k, v in bars.items() if v > 1][:5]
    ids = Counter(m.journal + str(m.positions) for m in msgs)
    assert max(ids.values()) == 1
    return gap, msgs


async def check_bars_complete(h: Ha, msgs: list[NatsMessage], gap: FailoverGap) -> None:
    """Every second bar the REST API has between the first and the last one in the stream is in
    the stream exactly once: the gap's bars were backfilled, none twice."""
    from tickwire.massive.rest.client import AsyncRestClient

    got = sorted(
        e.start_timestamp for m in msgs for e in m.events if isinstance(e, EquityAgg) and e.symbol == "AAPL"
    )
    async with AsyncRestClient("k", base_url=h.sim.rest_url, dotenv_path=None) as rest:
        want = [
            r.timestamp
            async for r in rest.list_aggs("AAPL", 1, "second", got[0], got[-1])
            if r.timestamp is not None and got[0] <= r.timestamp <= got[-1]
        ]
    where = {
        e.start_timestamp: (m.journal[:9], m.epoch)
        for m in msgs
        for e in m.events
        if isinstance(e, EquityAgg) and e.symbol == "AAPL"
    }
    assert got == want, (sorted(set(want) - set(got))[:5], gap, where)
    assert gap.backfilled >= 1
    backfilled = [m for m in msgs if m.journal.startswith("backfill.")]
    assert sum(len(m.events) for m in backfilled) == gap.backfilled


async def test_sigkill_of_the_leader_the_standby_takes_over_once_no_duplicates(ha: Ha) -> None:
    a, b, holder = await lead_and_standby(ha)
    a.signal(signal.SIGKILL)
    killed = time.monotonic()
    await ha.proxy.wait(lambda: ha.proxy.opened == 2, TTL + 15)
    took = takeover_seconds(ha, killed)
    assert took < TTL + TTL / 6 + 3.0, f"takeover took {took:.2f} s"  # ttl + a poll + one connect
    _, new_holder = await ha.lease()
    assert f":{b.proc.pid}:" in new_holder  # type: ignore[union-attr]
    await eventually(lambda: _has_gap(ha), 20, "the failover gap")
    await eventually(lambda: _count_after_gap(ha, 3), 20, "the new leader's messages")
    shown = ha_status(ha)
    assert shown["holder"] == new_holder and shown["state"] == "held" and shown["age"] < TTL
    assert await b.astop() == 0, b.text()[-2000:]

    async def released() -> bool:  # a clean stop hands the lease over (seen once the cluster applied it)
        return bool(ha_status(ha)["state"] == "released")

    await eventually(released, 5, "the lease released")
    gap, msgs = check_stream(await ha.messages(), holder)
    await check_bars_complete(ha, msgs, gap)
    assert ha.proxy.max_open == 1, ha.proxy.log  # never two upstream connections at once
    assert ha.sim.counters.evictions == 0
    assert {m.epoch for m in msgs if m.events and not isinstance(m.events[0], FailoverGap)} == {
        gap.previous_epoch,
        gap.epoch,
    }


def ha_status(h: Ha) -> dict[str, Any]:
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tickwire",
            "ha",
            "status",
            "--ha",
            h.c.url,
            "--ha-name",
            f"rec{h.tag}",
            "--json",
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert out.returncode in (0, 3), out.stderr
    info: dict[str, Any] = json.loads(out.stdout)
    assert out.returncode == (0 if info["holder"] else 3)
    return info


async def _has_gap(h: Ha) -> bool:
    return any(isinstance(e, FailoverGap) for m in await h.messages() for e in m.events)


async def _count_after_gap(h: Ha, n: int) -> bool:
    msgs = await h.messages()
    epochs = [m.epoch for m in msgs]
    return bool(epochs) and sum(1 for e in epochs if e == max(epochs)) >= n


async def test_sigstop_of_the_leader_the_standby_takes_over_and_the_old_leader_stays_off(ha: Ha) -> None:
    a, b, holder = await lead_and_standby(ha)
    a.signal(signal.SIGSTOP)
    stopped = time.monotonic()
    await ha.proxy.wait(lambda: ha.proxy.opened == 2, TTL + 15)
    took = takeover_seconds(ha, stopped)
    assert took < TTL + TTL / 6 + 3.0, f"takeover took {took:.2f} s"
    # the frozen leader's socket stays open (the kernel keeps it) until the vendor evicts it when the
    # new leader authenticates: the one moment two are open, and the simulator closes the old one
    await ha.proxy.wait(lambda: ha.proxy.open == 1, 10)
    await eventually(lambda: _has_gap(ha), 20, "the failover gap")
    new_rev, _ = await ha.lease()
    a.signal(signal.SIGCONT)
    await eventually(lambda: _said(a, "lease lost"), 20, "the old leader standing down")
    await eventually(lambda: _renewed(ha, new_rev + 6), 20, "the new leader renewing")
    assert ha.proxy.opened == 2 and ha.proxy.open == 1, ha.proxy.log  # A never came back upstream
    assert ha.sim.counters.evictions == 1  # the frozen connection, by the new leader's login
    assert a.proc is not None and a.proc.poll() is None  # A is a standby again, not dead
    msgs = await ha.messages()
    new_epoch = max(m.epoch for m in msgs)
    first_new = next(i for i, m in enumerate(msgs) if m.epoch == new_epoch)
    late = [m for m in msgs[first_new:] if m.epoch < new_epoch]
    assert late == [], f"{len(late)} messages of the fenced leader after the takeover"
    assert await b.astop() == 0, b.text()[-2000:]
    check_stream(await ha.messages(), holder)


async def _said(r: HaRecorder, text: str) -> bool:
    return text in r.text()


async def test_a_leader_that_loses_nats_stops_before_the_standby_takes_over(ha: Ha) -> None:
    host, port = ha.c.url.split(",")[0].split("//", 1)[1].rsplit(":", 1)
    cut = CountingProxy((host, int(port)))  # A reaches NATS only through this
    await cut.start()
    try:
        a, b, holder = await lead_and_standby(ha, f"nats://127.0.0.1:{cut.port}")
        await cut.cut()
        gone = time.monotonic()
        await ha.proxy.wait(lambda: ha.proxy.opened == 2, TTL + 15)
        took = takeover_seconds(ha, gone)
        assert took < TTL + TTL / 6 + 3.0, f"takeover took {took:.2f} s"
        await eventually(lambda: _has_gap(ha), 20, "the failover gap")
        await eventually(lambda: _said(a, "lease lost"), 20, "the old leader standing down")
        assert ha.proxy.max_open == 1, ha.proxy.log  # A had closed upstream before B connected
        assert ha.sim.counters.evictions == 0
        assert a.proc is not None and a.proc.poll() is None  # a standby again, waiting for NATS
        assert await b.astop() == 0, b.text()[-2000:]
        check_stream(await ha.messages(), holder)
    finally:
        await cut.close()
