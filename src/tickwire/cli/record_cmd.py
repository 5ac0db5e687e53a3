"""``tickwire record``: record a stream (the built-in simulator without a key) into a journal and sinks.

Any provider: ``--provider massive`` (the default; channels ``T.AAPL``, ``AM.*``...) or ``--provider
polymarket`` (channels ``market_data:<slug>,<slug>``, ``trade``..., markets from ``--markets`` or, with
``--sim``, the simulator's; ``--private`` records the private socket: orders, positions, balances).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import typer

from tickwire.cli.extras import require
from tickwire.cli.key_options import ApiKey, KeyId, SecretKey
from tickwire.cli.sinks_cmd import INCOMPLETE, outcome_lines
from tickwire.cli.view import fit
from tickwire.credentials import is_local_url, resolve_secret
from tickwire.errors import ConfigError, TickwireError
from tickwire.provider import Provider, get_provider
from tickwire.redact import mask_secrets, safe_text

if TYPE_CHECKING:  # the recorder needs the storage extra: imported when a recording starts
    from tickwire.record import RecorderStatus, SinkHealth

__all__ = ["record"]


def record(
    channels: Annotated[
        list[str] | None,
        typer.Argument(
            help="Channels (default: the provider's: every trade, quote, minute bar on Massive; "
            "books and trades on Polymarket US)"
        ),
    ] = None,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", "-d", help="Where the journal and DuckDB go")
    ] = Path("tickwire-data"),
    sink: Annotated[
        list[str] | None,
        typer.Option(help="Extra sink: postgresql://…, redis://…, nats://…, parquet:DIR, csv:DIR, jsonl:DIR"),
    ] = None,
    provider: Annotated[str, typer.Option(help="massive (polygon), polymarket or alpaca")] = "massive",
    market: Annotated[
        str | None,
        typer.Option(
            help="Massive: stocks, options, forex, crypto, indices, futures; Polymarket US: markets, "
            "private; Alpaca: iex, sip, delayed_sip, test, crypto, indicative, opra, news"
        ),
    ] = None,
    markets: Annotated[
        list[str] | None,
        typer.Option(
            "--markets",
            help="Polymarket US market slugs (default with --sim: all); Alpaca symbols for channels "
            "that name none (default *); comma-separated",
        ),
    ] = None,
    private: Annotated[
        bool,
        typer.Option("--private", help="Polymarket US: the private socket (orders, positions, balances)"),
    ] = False,
    feed: Annotated[
        str | None, typer.Option(help="Massive: realtime, delayed, business, launchpad, or a host")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="Massive: full ws:// or wss:// URL (overrides --feed); Polymarket US: base URL"),
    ] = None,
    sim: Annotated[
        bool | None, typer.Option("--sim/--live", help="Built-in simulator (default when no API key is set)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Simulator seed")] = 0,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
    no_duckdb: Annotated[bool, typer.Option("--no-duckdb", help="Do not write the embedded DuckDB")] = False,
    fsync_interval: Annotated[
        float, typer.Option(help="Seconds between journal fsyncs (0: per segment)")
    ] = 1.0,
    status_json: Annotated[
        bool, typer.Option("--status-json", help="Status as JSON lines on stdout")
    ] = False,
    flush_timeout: Annotated[
        float,
        typer.Option(help="At the end, seconds the sinks get (in parallel) to catch up with the journal"),
    ] = 30.0,
    api_key: ApiKey = None,
    key_id: KeyId = None,
    secret_key: SecretKey = None,
    ha: Annotated[
        str | None,
        typer.Option(
            "--ha",
            help="HA: NATS servers (nats://a:4222,nats://b:4222); only the holder of the lease "
            "--ha-name connects upstream, and it publishes to JetStream there",
        ),
    ] = None,
    ha_name: Annotated[str | None, typer.Option("--ha-name", help="HA: the lease's name")] = None,
    ha_ttl: Annotated[float, typer.Option("--ha-ttl", help="HA: seconds a lease lasts unrenewed")] = 5.0,
    ha_replicas: Annotated[
        int | None,
        typer.Option("--ha-replicas", help="HA: stream and bucket replicas (default 3, 1 for one URL)"),
    ] = None,
    ha_prefix: Annotated[str, typer.Option("--ha-prefix", help="HA: the subject prefix")] = "md",
    rest_url: Annotated[
        str | None,
        typer.Option("--rest-url", help="HA: the REST base URL for the failover backfill (Massive, Alpaca)"),
    ] = None,
) -> None:
    """Record a stream: every frame to the journal, typed events to DuckDB and the --sink targets.

    Exit code 0 when every sink holds every journaled event at the end, 3 when one is behind (a line
    per sink says exactly how many events it lacks; the next run or `tickwire sinks repair` completes
    it), 1 on an error."""
    require("tickwire record", "storage")
    try:
        keys = {k: v for k, v in (("api_key", api_key), ("key_id", key_id), ("secret_key", secret_key)) if v}
        plan = _plan(provider, market, private, markets or [], feed, url, sim, keys)
        data_dir = _check_data_dir(data_dir)
        _check_sinks(plan, list(sink or []))
        args = (
            plan,
            list(channels or []),
            data_dir,
            list(sink or []),
            seed,
            duration,
            not no_duckdb,
            fsync_interval or None,
            status_json,
            flush_timeout,
        )
        if ha is not None or ha_name is not None:  # HA: terms of the lease (tickwire.ha.recording)
            cfg = _ha_config(ha, ha_name, ha_ttl, ha_replicas, ha_prefix)
            led = asyncio.run(_run_ha(*args, cfg, rest_url))
            if led is None:
                typer.echo("tickwire: never held the HA lease: recorded nothing", err=True)
                return
            final, example = led
        else:
            final, example = asyncio.run(_run(*args))
    except ConfigError as exc:  # a usage mistake (a market, an option that does not apply): exit 2
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(2) from None
    except TickwireError as exc:
        typer.echo(f"error: {safe_text(str(exc))}", err=True)
        raise typer.Exit(1) from None
    if sys.stderr.isatty() and not status_json:
        sys.stderr.write("\r\x1b[2K")  # the status line is replaced by the summary, not glued onto
    typer.echo(
        f"tickwire: recorded {final.events:,} events ({final.journal_records:,} journal records, "
        f"{_size(final.disk_bytes)}) in {final.elapsed:.1f} s into {data_dir}; "
        f"{final.reconnects} reconnects, "
        f'{final.gaps} gaps; query with: tickwire query -d {data_dir} "SELECT count(*) FROM {example}"',
        err=True,
    )
    if final.journal_lost:
        typer.echo(
            f"journal: {final.journal_lost:,} frames could not be kept "
            f"({final.journal_error or 'disk full'}); they are a reported gap in the journal",
            err=True,
        )
    for line in outcome_lines(final.outcomes or [], data_dir):
        typer.echo(line, err=True)
    if not final.complete:
        raise typer.Exit(INCOMPLETE)


def _check_data_dir(data_dir: Path) -> Path:
    """``-d`` must be a directory (or not exist yet): a file there is a usage error, said in one line."""
    if data_dir.exists() and not data_dir.is_dir():
        typer.echo(f"error: --data-dir {data_dir} is a file, not a directory; pass a directory", err=True)
        raise typer.Exit(2)
    return data_dir


def _check_sinks(plan: _Plan, urls: list[str]) -> None:
    """Open each ``--sink`` once: a URL that can never work exits 2; one that is down is said and
    recorded anyway (it catches up from the journal when it is back)."""
    if not urls:
        return
    from tickwire.cli.sink_check import probe_sinks
    from tickwire.sinks import sink_from_url

    tables = plan.provider.tables(plan.market)
    problems = asyncio.run(probe_sinks([sink_from_url(u, tables) for u in urls]))
    for p in problems:
        if p.usage:
            typer.echo(p.line(), err=True)
            raise typer.Exit(2)
        typer.echo(
            f"warning: sink {p.sink}: {p.reason}; recording goes on, it catches up when it is back",
            err=True,
        )


@dataclass(frozen=True)
class _Plan:
    """What to record, checked before anything starts."""

    provider: Provider
    market: str
    markets: tuple[str, ...]
    feed: str | None
    url: str | None
    sim: bool
    keys: tuple[tuple[str, str], ...] = ()
    """Keys given on the command line (``api_key``, ``key_id``, ``secret_key``)."""


def _plan(
    name: str,
    market: str | None,
    private: bool,
    markets: list[str],
    feed: str | None,
    url: str | None,
    sim: bool | None,
    keys: dict[str, str] | None = None,
) -> _Plan:
    p = get_provider(name)
    slugs = tuple(dict.fromkeys(s.strip() for item in markets for s in item.split(",") if s.strip()))
    if p.name == "polymarket_us":
        if private:
            if market not in (None, "private"):
                raise ConfigError(
                    f"--private records the private socket; it cannot go with --market {market}"
                )
            market = "private"
        if feed is not None:
            raise ConfigError("--feed is a Massive option; Polymarket US takes --url (its base URL)")
        has_key = resolve_secret(None, ("POLYMARKET_KEY_ID",)) is not None
    elif p.name == "alpaca":
        if private:
            raise ConfigError("--private is a Polymarket US option")
        if feed is not None:
            raise ConfigError(
                "--feed is a Massive option; Alpaca takes --market (iex, sip, test...) and --url"
            )
        has_key = resolve_secret(None, ("APCA_API_KEY_ID",)) is not None
        if sim and market is None:
            market = "iex"
    else:
        if private or slugs:
            raise ConfigError("--private and --markets are Polymarket US options (use --provider polymarket)")
        has_key = resolve_secret(None, ("MASSIVE_API_KEY", "POLYGON_API_KEY")) is not None
    keys = keys or {}
    if p.name == "massive":
        keys.pop("key_id", None), keys.pop("secret_key", None)
    else:
        keys.pop("api_key", None)
    use_sim = sim if sim is not None else (url is None and not has_key and not keys)
    local = url is not None and is_local_url(url)
    if p.name == "massive" and not use_sim and not has_key and not keys and not local:
        raise ConfigError(  # the client would say api_key=, a Python keyword, to a CLI user
            "no Massive key: pass --api-key KEY or set MASSIVE_API_KEY (or POLYGON_API_KEY, or put it in "
            "a .env file); without a key, record the simulator: --sim"
        )
    return _Plan(
        provider=p,
        market=p.market(market),
        markets=slugs,
        feed=feed,
        url=url,
        sim=use_sim,
        keys=tuple(keys.items()),
    )


def _stop_on_signals() -> asyncio.Event:
    """An event SIGINT or SIGTERM sets: the recorder then stops and flushes its sinks."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _run(
    plan: _Plan,
    channels: list[str],
    data_dir: Path,
    sinks: list[str],
    seed: int,
    duration: float | None,
    duckdb: bool,
    fsync_interval: float | None,
    status_json: bool,
    flush_timeout: float,
) -> tuple[RecorderStatus, str]:
    from tickwire.record import Recorder

    stop = _stop_on_signals()
    async with contextlib.AsyncExitStack() as stack:
        options = await _client_options(plan, seed, stack)
        recorder = Recorder(
            data_dir,
            provider=plan.provider,
            market=plan.market,
            channels=channels or None,
            sinks=sinks,
            duckdb=duckdb,
            fsync_interval=fsync_interval,
            flush_timeout=flush_timeout,
            client_options=options,
        )
        names = [t.name for t in recorder.tables.tables() if not t.name.endswith("_unknown")]
        example = next(
            (n for n in names if n.endswith("_trades")), names[0] if names else "information_schema.tables"
        )
        typer.echo(_banner(plan, recorder.channels, data_dir, [s.name for s in recorder.sinks]), err=True)
        if status_json:
            status = await recorder.run(stop, duration=duration, on_status=_print_json, status_interval=1.0)
        else:
            with _StatusLine(sys.stderr.isatty()) as line:
                status = await recorder.run(stop, duration=duration, on_status=line.show, status_interval=1.0)
        return status, example
    raise AssertionError("unreachable")  # pragma: no cover


def _ha_config(urls: str | None, name: str | None, ttl: float, replicas: int | None, prefix: str) -> Any:
    from tickwire.ha.recording import HaConfig

    if not urls or not name:
        raise ConfigError("--ha and --ha-name go together")
    if ttl <= 0:
        raise ConfigError("--ha-ttl must be > 0")
    n = replicas if replicas is not None else (1 if len(urls.split(",")) == 1 else 3)
    return HaConfig(urls=urls, name=name, ttl=ttl, replicas=n, prefix=prefix, timeout=min(2.0, ttl / 2))


async def _run_ha(
    plan: _Plan,
    channels: list[str],
    data_dir: Path,
    sinks: list[str],
    seed: int,
    duration: float | None,
    duckdb: bool,
    fsync_interval: float | None,
    status_json: bool,
    flush_timeout: float,
    cfg: Any,
    rest_url: str | None,
) -> tuple[RecorderStatus, str] | None:
    """``record --ha``: the recorder as terms of the lease (:func:`tickwire.ha.recording.record_ha`)."""
    from tickwire.ha.recording import record_ha
    from tickwire.record import Recorder

    stop = _stop_on_signals()
    timer = asyncio.get_running_loop().call_later(duration, stop.set) if duration is not None else None
    show = _print_json if status_json else _StatusLine(sys.stderr.isatty()).show
    tables = plan.provider.tables(plan.market)
    async with contextlib.AsyncExitStack() as stack:
        options = await _client_options(plan, seed, stack)
        backfill = _ha_backfill(plan, channels, rest_url, options)

        def make(sink: Any, backoff: Any) -> Recorder:
            return Recorder(
                data_dir,
                provider=plan.provider,
                market=plan.market,
                channels=channels or None,
                sinks=[*sinks, sink],
                duckdb=duckdb,
                fsync_interval=fsync_interval,
                flush_timeout=flush_timeout,
                client_options={**options, "backoff": backoff},
            )

        async def run_term(recorder: Recorder, done: asyncio.Event) -> RecorderStatus:
            return await recorder.run(done, on_status=show, status_interval=1.0)

        try:
            status = await record_ha(cfg, tables, make, stop, backfill=backfill, run=run_term)
        finally:
            if timer is not None:
                timer.cancel()
        if status is None:
            return None
        names = [t.name for t in tables.tables() if not t.name.endswith("_unknown")]
        trades = [n for n in names if n.endswith("_trades")]
        return status, (trades or names or ["information_schema.tables"])[0]
    raise AssertionError("unreachable")  # pragma: no cover


def _ha_backfill(plan: _Plan, channels: list[str], rest_url: str | None, options: dict[str, Any]) -> Any:
    """The provider's failover backfill for ``record --ha`` (None: nothing to fetch; Polymarket US
    has no REST history, and a local Alpaca stream needs ``--rest-url``)."""
    chans = channels or list(plan.provider.default_channels(plan.market))
    if plan.provider.name == "massive":
        from tickwire.massive.ha_backfill import massive_ha_backfill

        return massive_ha_backfill(plan.market, chans, rest_url, options.get("api_key"))
    if plan.provider.name == "alpaca" and (rest_url is not None or not (plan.sim or plan.url)):
        from tickwire.alpaca.ha_backfill import alpaca_ha_backfill

        symbols = list(plan.markets) or ["*"]
        keys = options.get("key_id"), options.get("secret_key")
        return alpaca_ha_backfill(plan.market, chans, symbols, rest_url, *keys)
    return None


async def _client_options(plan: _Plan, seed: int, stack: contextlib.AsyncExitStack) -> dict[str, Any]:
    """The client options of the plan, starting the simulator it asks for (closed with ``stack``)."""
    options: dict[str, Any] = {} if plan.sim else dict(plan.keys)
    if plan.provider.name == "polymarket_us":
        markets = plan.markets
        if plan.sim:
            from tickwire.sim.polymarket import SIM_KEY_ID, SIM_SECRET_KEY, PolymarketSimulator

            pm = await stack.enter_async_context(PolymarketSimulator(seed=seed))
            options.update(base_url=pm.url, key_id=SIM_KEY_ID, secret_key=SIM_SECRET_KEY, dotenv_path=None)
            if plan.market == "markets":  # books need slugs; private streams cover every market anyway
                markets = markets or tuple(pm.markets)
        elif plan.url is not None:
            options["base_url"] = plan.url
        if markets:
            options["markets"] = markets
        return options
    if plan.provider.name == "alpaca":
        if plan.markets:
            options["markets"] = plan.markets
        if plan.sim:
            from tickwire.cli.stream_cmd import alpaca_sim_options

            # a simulated minute every 10 s, so minute bars show within a short recording
            _, sim_options = await alpaca_sim_options(stack, plan.market, seed=seed, speed=6.0)
            options.update(sim_options)
        elif plan.url is not None:
            options["url"] = plan.url
        return options
    feed = plan.feed or "realtime"
    options["feed"] = feed
    if plan.sim:
        from tickwire.sim import MassiveSimulator

        simulator = await stack.enter_async_context(MassiveSimulator(seed=seed))
        options.update(
            url=simulator.url_for(plan.market, delayed=feed.lower() == "delayed"), api_key="simulator"
        )
    elif plan.url is not None:
        options["url"] = plan.url
    return options


_ENC = msgspec.json.Encoder()


def _print_json(status: RecorderStatus) -> None:
    sys.stdout.buffer.write(_ENC.encode(status) + b"\n")
    sys.stdout.flush()


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n //= 1024
    return f"{n} TB"


def _banner(plan: _Plan, channels: tuple[str, ...], data_dir: Path, sinks: list[str]) -> str:
    """What is recorded, from where, and where it goes: the first line of a recording."""
    if plan.sim:
        source = "the built-in simulator"
    elif plan.url is not None:
        source = mask_secrets(plan.url)
    else:
        massive = plan.provider.name == "massive"
        source = f"the {plan.feed or 'realtime'} feed" if massive else "the live service"
    shown = ", ".join(channels[:6]) + (f" (+{len(channels) - 6})" if len(channels) > 6 else "")
    where = ", ".join([f"{data_dir}/journal", *sinks])
    what = f"{plan.provider.title} {plan.market}"
    return safe_text(f"recording {what} from {source}: {shown or 'default channels'} → {where}")


def _to_terminal(handler: logging.Handler) -> bool:
    """True for a handler that writes where the status line is (rich's, or a stream on stderr)."""
    if type(handler).__name__ == "RichHandler":
        return True
    return isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stderr, sys.__stderr__)


class _StatusLine:
    """One line, rewritten in place on a terminal and cut to its width (appended otherwise); log
    lines printed meanwhile go above it on their own lines, and it is cleared at the end."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.current = ""
        self._wrapped: list[tuple[logging.Handler, Any]] = []

    def __enter__(self) -> _StatusLine:
        if self.tty:  # every handler writing to the terminal clears the line first, then redraws it
            for handler in logging.getLogger().handlers:
                if not _to_terminal(handler):
                    continue
                emit = handler.emit
                self._wrapped.append((handler, emit))
                handler.emit = self._around(emit)  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        for handler, emit in self._wrapped:
            handler.emit = emit  # type: ignore[method-assign]
        self._wrapped.clear()
        if self.tty and self.current:
            sys.stderr.write("\r\x1b[2K")  # the summary replaces it, on a clean line
            sys.stderr.flush()
            self.current = ""

    def _around(self, emit: Any) -> Any:
        def wrapped(record: logging.LogRecord) -> None:
            if self.current:
                sys.stderr.write("\r\x1b[2K")
                sys.stderr.flush()
            emit(record)
            if self.current:
                sys.stderr.write(self.current)
                sys.stderr.flush()

        return wrapped

    def show(self, s: RecorderStatus) -> None:
        sinks = " ".join(_sink_word(h) for h in s.sinks)
        journal = f"journal {s.journal_synced:,}/{s.journal_records:,} synced"
        if s.disk_full:
            journal += " DISK FULL"
        line = (
            f"{'●' if s.connected else '○'} {s.elapsed:6.0f}s {s.events_per_second:9,.0f} ev/s "
            f"{s.events:>11,} ev  {journal}  "
            f"{_size(s.disk_bytes)}  reconnects {s.reconnects} gaps {s.gaps}  {sinks}"
        )
        if self.tty:
            self.current = fit(line, shutil.get_terminal_size((120, 20)).columns - 1)
            sys.stderr.write("\r\x1b[2K" + self.current)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _sink_word(h: SinkHealth) -> str:
    """``duckdb:live``, ``postgres:behind 4,012``, ``nats:down`` ..."""
    kind = h.name.split(":", 1)[0]
    if h.state in ("connecting", "failing"):
        word = "down" if h.state == "failing" else "connecting"
    elif h.behind:
        word = f"behind {h.behind:,}"
    elif h.behind is None:
        word = "catching up"
    else:
        word = "ok"
    if h.dead_letters:
        word += f" dead {h.dead_letters:,}"
    return f"{kind}:{word}"
