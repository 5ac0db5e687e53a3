"""The fault matrix: every fault kind against the async, the threaded, the Polymarket and the
Alpaca client (``AlpacaStreamClient``, once speaking JSON and once msgpack).

One test per (client, fault) cell (the plans are in ``faults.py``, the client and simulator
adapters in ``harness.py`` and ``alpaca_harness.py``). In every cell:

* the client survives the fault, or fails loudly with the designed error (``AuthError``; for
  Alpaca's error 402 its ``AlpacaAuthError``), and never retries what cannot succeed;
* every disconnect window is reported in-band: one ``Disconnected`` per lost connection or failed
  attempt (as many as the server and the socket saw), then one ``Reconnected`` whose gap starts at
  the first of them;
* the new connection is sent exactly the desired subscriptions, once each, and nothing else
  (from the simulator's own record of what it received);
* bad frames are counted in ``metrics()`` (decode errors, unknown events, rejected oversize
  frames) and the stream goes on;
* memory stays bounded: the queue never grows past its bound plus one socket read;
* the key and secret appear in no log record (every level down to picows's wire trace, every
  logger, the simulator's included), no event, no exception text or traceback and no repr.

With ``TICKWIRE_FAULT_RESULTS=path`` each cell appends its outcome as one JSON line; the script
``make_table.py`` renders them as ``RESULTS.md``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
import traceback
from collections import Counter
from typing import Any

import pytest

from tickwire.events import (
    Connected,
    ControlEvent,
    DecodeError,
    Disconnected,
    Event,
    RawEvent,
    Reconnected,
    Status,
)

from .alpaca_harness import ALPACA_BAD_SECRET, ALPACA_REMOVED, ALPACA_SECRETS, AlpacaAdapter, AlpacaSide
from .faults import (
    ALPACA_UNKNOWN_DATA,
    CLIENTS,
    FAULTS,
    MASSIVE_UNKNOWN,
    OVERSIZE_MARK,
    PM_UNKNOWN,
    PROTOCOL,
    NotApplicable,
    Plan,
)
from .harness import (
    MASSIVE_BAD_KEY,
    MASSIVE_REMOVED,
    PM_WRONG_SECRET,
    SECRETS,
    AsyncAdapter,
    MassiveSide,
    PolymarketAdapter,
    PolymarketSide,
    ThreadedAdapter,
)

RESULTS_ENV = "TICKWIRE_FAULT_RESULTS"
LOG_LEVEL = 1
"""Every record: DEBUG and below, down to picows's wire trace (level 9), on every logger."""
READ_SLACK = 64
"""Items one socket read may add after the queue passed its bound (the reader pauses after the read)."""
NEVER_RETRIED_WAIT = 0.3
"""Longer than the backoff cap (0.1 s): a retry after a fatal error would show in this time."""


@dataclasses.dataclass
class Cell:
    """One cell's outcome, as recorded for the results table."""

    client: str
    fault: str
    protocol: str
    order: int
    outcome: str = "FAILED"
    mapped: str = ""
    note: str = ""
    reasons: list[str] = dataclasses.field(default_factory=list)
    disconnects_reported: int = 0
    gaps_reported: int = 0
    reconnects: int = 0
    windows_ok: bool | None = None
    resubscribe_exact: bool | None = None
    decode_errors: int = 0
    unknown_events: int = 0
    rejected_frames: int = 0
    queue_peak: int = 0
    queue_size: int = 0
    error: str = ""
    secrets_leaked: bool | None = None
    duration_s: float = 0.0
    passed: bool = False
    failure: str = ""


def _record(cell: Cell) -> None:
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    line = json.dumps(dataclasses.asdict(cell), sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as f:  # one short append per cell: safe across xdist workers
        f.write(line)


def _is_data(ev: Event) -> bool:
    return not isinstance(ev, ControlEvent | Status)


CELLS = [(client, fault) for fault in FAULTS for client in CLIENTS]


@pytest.mark.parametrize(
    ("client_kind", "fault"), CELLS, ids=[f"{c}-{f}".replace(" ", "_") for c, f in CELLS]
)
async def test_fault_cell(
    client_kind: str, fault: str, caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder
) -> None:
    protocol = PROTOCOL[client_kind]
    plan = FAULTS[fault][protocol]
    cell = Cell(client_kind, fault, protocol, order=list(FAULTS).index(fault))
    started = time.perf_counter()
    try:
        if isinstance(plan, NotApplicable):
            cell.outcome, cell.note, cell.passed = "n/a", plan.reason, True
            pytest.skip(f"n/a for {protocol}: {plan.reason}")
        cell.mapped = plan.mapped
        caplog.set_level(LOG_LEVEL)
        caplog.set_level(LOG_LEVEL, logger="tickwire")
        await _run_cell(cell, plan, client_kind, caplog)
        unawaited = [str(w.message) for w in recwarn if "never awaited" in str(w.message)]
        assert not unawaited, unawaited  # a coroutine dropped on the floor (a close that never ran)
        cell.passed = True
    except BaseException as exc:
        if not isinstance(exc, pytest.skip.Exception):
            cell.failure = f"{type(exc).__name__}: {exc}"[:600]
        raise
    finally:
        cell.duration_s = round(time.perf_counter() - started, 3)
        _record(cell)


async def _run_cell(cell: Cell, plan: Plan, client_kind: str, caplog: pytest.LogCaptureFixture) -> None:
    bad = bool(plan.client.get("bad_key"))
    options = {k: v for k, v in plan.client.items() if k != "bad_key"}
    side: MassiveSide | PolymarketSide | AlpacaSide
    adapter: Any
    if client_kind.startswith("alpaca"):
        side = AlpacaSide(**plan.side)
        await side.start()
        if bad:
            options["secret_key"] = ALPACA_BAD_SECRET
        adapter = AlpacaAdapter(
            side, encoding="msgpack" if client_kind == "alpaca-msgpack" else "json", **options
        )
    elif client_kind == "polymarket":
        side = PolymarketSide(**plan.side)
        await side.start()
        if bad:
            options["secret"] = PM_WRONG_SECRET
        adapter = PolymarketAdapter(side, **options)
    else:
        side = MassiveSide(**plan.side)
        side.start()
        if bad:
            options["api_key"] = MASSIVE_BAD_KEY
        adapter = (AsyncAdapter if client_kind == "async" else ThreadedAdapter)(side, **options)
    try:
        try:
            await _drive(cell, plan, side, adapter)
        finally:
            await adapter.close()
        assert not adapter.leftovers(), f"left running after close: {adapter.leftovers()}"
        _check_secrets(cell, adapter, caplog)
    finally:
        if isinstance(side, PolymarketSide | AlpacaSide):
            await side.shutdown()
        else:
            side.shutdown()


async def _drive(cell: Cell, plan: Plan, side: Any, adapter: Any) -> None:
    log = adapter.log
    desired = await adapter.subscribe_desired()
    await adapter.start()
    first_conn = None
    if plan.streams_first:
        await side.wait_subscribed(desired)
        await log.wait_for(lambda: any(_is_data(e) for e in log.snapshot()), "data before the fault")
        first_conn = side.live_connection()
    mark = len(log.snapshot())

    await plan.inject(side, adapter)

    if plan.fatal is not None:
        await log.wait_for(lambda: log.ended, "the designed failure")
        attempts = side.attempts()
        await asyncio.sleep(NEVER_RETRIED_WAIT)
        assert side.attempts() == attempts, "retried after a fatal error"
    elif plan.reconnect:
        await log.wait_for(
            lambda: _resumed_after(log.snapshot()[mark:], Reconnected), "a reconnect, then data"
        )
        await side.wait_subscribed(desired)
    else:
        assert plan.marker is not None
        await log.wait_for(
            lambda: _resumed_after(
                log.snapshot()[mark:], DecodeError if plan.marker == "decode_error" else RawEvent
            ),
            f"a {plan.marker} event, then data",
        )

    m = adapter.metrics()
    events = log.snapshot()
    disc = [e for e in events if isinstance(e, Disconnected)]
    cell.reasons = [d.reason for d in disc]
    cell.disconnects_reported = len(disc)
    cell.gaps_reported = sum(isinstance(e, Reconnected) for e in events)
    cell.reconnects = m.reconnects
    cell.decode_errors, cell.unknown_events, cell.rejected_frames = (
        m.decode_errors,
        m.unknown_events,
        m.rejected_frames,
    )
    cell.queue_peak, cell.queue_size = max(m.queue_peak, adapter.depth.max), adapter.queue_size

    # -- survived, or failed loudly with the designed error --------------------------------------------
    error = adapter.fatal()
    if plan.fatal is not None:
        assert isinstance(error, plan.fatal), f"expected {plan.fatal.__name__}, got {error!r}"
        cell.outcome, cell.error = "failed-loudly", type(error).__name__
        assert disc and not disc[-1].will_reconnect and disc[-1].retry_in is None
        if adapter.kind == "threaded":
            assert log.closes == [(1008, str(error))], log.closes  # on_close once, with the reason
        _check_error_text(cell.fault, cell.protocol, str(error))
    else:
        assert error is None, f"the client died: {error!r}"
        assert not log.ended, "the stream ended"
        assert m.connected, "not streaming at the end"
        cell.outcome = "survived"

    # -- every disconnect window reported ------------------------------------------------------------
    assert cell.reasons[: len(plan.reasons)] == list(plan.reasons), cell.reasons
    assert all(r in plan.more for r in cell.reasons[len(plan.reasons) :]), cell.reasons
    if plan.codes is not None:
        assert [d.code for d in disc[: len(plan.codes)]] == list(plan.codes), [d.code for d in disc]
    cell.windows_ok = _check_windows(events, desired, fatal=plan.fatal is not None)
    live = side.live_connection()
    failed_attempts = sum(d.reason == "connect_failed" for d in disc)  # never reached the server
    assert len(disc) == side.attempts() - (live is not None) + failed_attempts, "a window went unreported"
    assert m.reconnects == sum(d.will_reconnect and d.epoch > 0 for d in disc)  # outages, not attempts
    if not plan.reconnect and plan.fatal is None:
        assert not disc and live == first_conn, "the connection was replaced"

    # -- exact resubscribe ---------------------------------------------------------------------------
    assert adapter.desired() == desired, "the desired set changed"
    if plan.reconnect and plan.fatal is None:
        assert live is not None and live != first_conn
        cell.resubscribe_exact = _sent_exactly(side, live, adapter)
        assert cell.resubscribe_exact, f"sent on the new connection: {side.sent_on(live)}; desired {desired}"
    elif live is not None:  # same connection: what it carries is still exactly the desired set
        assert _sent_exactly(side, live, adapter, first=True), side.sent_on(live)

    # -- bad frames counted, nothing oversize delivered, memory bounded ---------------------------------
    assert (m.decode_errors, m.unknown_events, m.rejected_frames) == (
        plan.decode_errors,
        plan.unknown_events,
        plan.rejected_frames,
    )
    if plan.marker == "decode_error":
        assert sum(isinstance(e, DecodeError) for e in events) == 1
    if plan.marker == "raw":
        raw = [e for e in events if isinstance(e, RawEvent)]
        assert len(raw) == 1 and raw[0].data in (MASSIVE_UNKNOWN[1:-1], PM_UNKNOWN, *ALPACA_UNKNOWN_DATA)
    mark_text = OVERSIZE_MARK.decode()
    assert not any(mark_text in repr(e) for e in events), "an oversize frame reached user code"
    bound = adapter.queue_size + READ_SLACK
    assert cell.queue_peak <= bound and m.queue_depth <= bound, (cell.queue_peak, m.queue_depth)
    assert m.dropped == 0

    _extra_checks(cell.fault, cell.protocol, side, adapter, disc, events)


def _resumed_after(events: list[Event], kind: type[Event]) -> bool:
    """``kind`` was delivered, and data after it."""
    idx = next((i for i, e in enumerate(events) if isinstance(e, kind)), None)
    return idx is not None and any(_is_data(e) for e in events[idx + 1 :])


def _check_windows(events: list[Event], desired: list[str], *, fatal: bool) -> bool:
    """Each run of ``Disconnected`` is closed by one ``Reconnected`` covering it (or, for a fatal
    error, ends the stream with ``will_reconnect=False``)."""
    window: list[Disconnected] = []
    for ev in events:
        if isinstance(ev, Disconnected):
            window.append(ev)
        elif isinstance(ev, Reconnected):
            assert window, "Reconnected without a Disconnected before it"
            assert ev.gap_start == window[0].at, "the gap does not start at the first disconnect"
            assert ev.gap_end >= window[-1].at >= ev.gap_start
            assert all(d.will_reconnect and d.retry_in is not None for d in window)
            assert sorted(ev.resubscribed) == sorted(desired), ev.resubscribed
            window = []
    if fatal:
        assert window and all(d.will_reconnect for d in window[:-1]) and not window[-1].will_reconnect
    else:
        assert not window, f"disconnects never followed by a Reconnected: {[d.reason for d in window]}"
    return True


def _sent_exactly(side: Any, conn_id: int, adapter: Any, *, first: bool = False) -> bool:
    """What the server received on ``conn_id`` is exactly the desired set (once each, no unsubscribe)
    and what it now serves equals it (for Polymarket: the same ids, types and markets)."""
    desired = adapter.desired()
    subs, unsubs = side.sent_on(conn_id)
    if first:  # the first connection also carried the subscribed-then-removed one
        subs = [s for s in subs if s not in unsubs]
        unsubs = []
    exact = Counter(subs) == Counter(desired) and not unsubs
    if isinstance(side, MassiveSide):
        exact = exact and side.confirmed() == frozenset(desired) and MASSIVE_REMOVED not in subs
    elif isinstance(side, AlpacaSide):
        removed = ":".join(ALPACA_REMOVED)
        exact = exact and side.confirmed(conn_id) == frozenset(desired) and removed not in subs
    else:
        wanted = {rid: (t.name, tuple(sorted(slugs))) for rid, (t, slugs) in adapter.pm.subscriptions.items()}
        exact = exact and side.server_subscriptions(conn_id) == wanted
    return exact


def _check_error_text(fault: str, protocol: str, text: str) -> None:
    """The designed error says what to do."""
    if fault == "auth_failed":
        expected = {"massive": "API key", "polymarket": "bad signature", "alpaca": "APCA_API_KEY_ID"}[
            protocol
        ]
        assert expected in text, text
    else:
        assert "401" in text, text


def _extra_checks(
    fault: str, protocol: str, side: Any, adapter: Any, disc: list[Disconnected], events: list[Event]
) -> None:
    def next_connect_after(d: Disconnected) -> float:
        return next(e.at for e in events if isinstance(e, Connected) and e.at > d.at)

    if fault == "oversize frame":
        assert "exceeding max allowed size" in disc[0].message
    elif fault == "max_connections eviction" and protocol == "alpaca":
        limited = disc[1]  # the fast reconnect met the dead session's slot: one 406, then a wait
        assert limited.retry_in is not None and limited.retry_in >= 0.4  # connection_limit_cooldown
        assert next_connect_after(limited) - limited.at >= 0.35
        assert [code for _, code in side.sim.errors_sent()] == [406], side.sim.errors_sent()
    elif fault == "auth_failed" and protocol == "alpaca":
        assert [code for _, code in side.sim.errors_sent()] == [402], side.sim.errors_sent()
    elif fault == "max_connections eviction":
        evicted = disc[0]
        assert evicted.retry_in is not None and evicted.retry_in >= 0.5  # max_connections_cooldown
        assert next_connect_after(evicted) - evicted.at >= 0.45
    elif fault == "HTTP 429 at upgrade":
        limited = disc[1]
        assert limited.retry_in is not None and limited.retry_in >= 0.4  # rate_limit_cooldown
        assert next_connect_after(limited) - limited.at >= 0.35
    elif fault == "server restart, new port":
        old, new = adapter.ports
        connected = [e for e in events if isinstance(e, Connected)]
        assert f":{old}/" in connected[0].url and f":{new}/" in connected[-1].url


def _check_secrets(cell: Cell, adapter: Any, caplog: pytest.LogCaptureFixture) -> None:
    """No key or secret in any log record, event, exception text or traceback, or repr."""
    client_records = [r for r in caplog.records if r.name.startswith(("tickwire.", "picows.tickwire.picows"))]
    assert client_records, "no log record of the client captured: the search below would prove nothing"
    texts = [caplog.text, *adapter.texts(), repr(adapter.metrics())]
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(e) for e in adapter.log.snapshot()]
    for exc in adapter.log.errors:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    blob = "\n".join(texts)
    leaked = [s for s in {**SECRETS, "alpaca": ALPACA_SECRETS}[cell.protocol] if s in blob]
    cell.secrets_leaked = bool(leaked)
    assert not leaked, f"{len(leaked)} secret(s) found in logs, events, errors or reprs"
