"""``tickwire ha status``: who holds an HA lease, its epoch and age; and the failover backfills
``tickwire record --ha`` uses (provider-specific, so they live with the CLI)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from tickwire.errors import TickwireError
from tickwire.events import Event

__all__ = ["ha_app", "massive_bar_backfill"]

ha_app = typer.Typer(
    help="High availability on NATS JetStream: the lease of `record --ha`.", no_args_is_help=True
)


@ha_app.command("status")
def status(
    ha: Annotated[
        str, typer.Option("--ha", help="NATS servers, comma-separated (nats://a:4222,nats://b:4222)")
    ],
    ha_name: Annotated[str, typer.Option("--ha-name", help="The lease's name (what `record --ha-name` got)")],
    bucket: Annotated[str, typer.Option(help="The KV bucket of the leases")] = "tickwire_ha",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object")] = False,
) -> None:
    """The holder, epoch and age of the lease (exit 1 when NATS cannot be reached, 3 when none holds it)."""
    from tickwire.redact import safe_text

    try:
        info = asyncio.run(_status(ha, ha_name, bucket))
    except TickwireError as exc:
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(info))
    elif info["holder"]:
        typer.echo(
            f"{safe_text(ha_name)}: held by {safe_text(str(info['holder']))} (epoch {info['epoch']}, "
            f"revision {info['revision']}, renewed {info['age']:.1f} s ago, ttl {info['ttl']:g} s)"
        )
    else:
        typer.echo(f"{safe_text(ha_name)}: not held ({info['state']})")
    if not info["holder"]:
        raise typer.Exit(3)


async def _status(urls: str, name: str, bucket: str) -> dict[str, Any]:
    from tickwire.ha import LeaseStore

    store = LeaseStore(urls, name, bucket=bucket)
    await store.connect()
    try:
        entry = await store.read()
    finally:
        await store.close()
    out: dict[str, Any] = {"name": name, "holder": "", "epoch": 0, "revision": 0, "age": None, "ttl": None}
    if entry is None:
        return {**out, "state": "no lease yet"}
    v = entry.value
    if v is None:
        return {**out, "revision": entry.revision, "state": "unreadable value"}
    age = max(0.0, time.time() - v.renewed_ns / 1e9)
    state = "released" if not v.holder else ("expired" if age > v.ttl else "held")
    return {
        **out,
        "holder": v.holder if state == "held" else "",
        "last_holder": v.holder,
        "epoch": v.epoch or entry.revision,
        "revision": entry.revision,
        "age": age,
        "ttl": v.ttl,
        "state": state,
    }


def massive_bar_backfill(
    market: str, channels: Sequence[str], rest_url: str | None, api_key: str | None
) -> Any:
    """The failover backfill of Massive ``A.<SYM>``/``AM.<SYM>`` channels (second and minute bars
    over REST; wildcards are not backfilled), or None when there are none to fetch."""
    from tickwire.credentials import Secret
    from tickwire.massive.models import EquityAgg, EquityAggMin
    from tickwire.massive.rest.client import DEFAULT_BASE_URL, AsyncRestClient

    wanted: list[tuple[str, str]] = []
    for ch in channels:
        kind, _, sym = ch.partition(".")
        if kind in ("A", "AM") and sym and sym != "*":
            wanted.append((kind, sym))
    if not wanted or market not in ("stocks", "options", "indices"):
        return None
    key = Secret(api_key or "")
    base = rest_url or DEFAULT_BASE_URL

    async def fetch(from_ms: int, to_ms: int) -> list[Event]:
        out: list[Event] = []
        async with AsyncRestClient(key, base_url=base, dotenv_path=None, max_retries=2) as rest:
            for kind, sym in wanted:
                span = 1_000 if kind == "A" else 60_000
                cls = EquityAgg if kind == "A" else EquityAggMin
                lo = from_ms // span * span
                rows = [
                    r async for r in rest.list_aggs(sym, 1, "second" if kind == "A" else "minute", lo, to_ms)
                ]
                for r in rows:
                    t = r.timestamp
                    if t is None or t + span > to_ms:
                        continue
                    out.append(
                        cls(
                            symbol=sym,
                            volume=r.volume,
                            vwap=r.vwap,
                            open=r.open,
                            close=r.close,
                            high=r.high,
                            low=r.low,
                            start_timestamp=t,
                            end_timestamp=t + span,
                            otc=r.otc,
                        )
                    )
        return out

    return fetch
