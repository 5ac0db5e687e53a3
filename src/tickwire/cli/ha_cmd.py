"""``tickwire ha status``: who holds an HA lease, its epoch and age. (The failover backfills of
``tickwire record --ha`` live in the provider wings: ``massive.ha_backfill``, ``alpaca.ha_backfill``.)"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

import typer

from tickwire.errors import TickwireError

__all__ = ["ha_app"]

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
