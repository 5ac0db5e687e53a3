"""Predictable mistakes give one line saying what to do (exit 2 for usage errors), never a traceback.

Each command runs as a user would run it: in a subprocess, against the real services and the simulator.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import service_url, unavailable

_KEYS = ("MASSIVE_API_KEY", "POLYGON_API_KEY", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "POLYMARKET_KEY_ID")


def run(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _KEYS}
    env["COLUMNS"] = "200"  # a usage error must be one line however wide its text is
    return subprocess.run(
        [sys.executable, "-m", "tickwire", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )


def one_line(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """The one line of stderr (``error: ...``) after asserting exit ``code``, no traceback, and ``needles``."""
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


@contextlib.contextmanager
def port_taken() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as s:  # bound, never listening: connections to it are refused
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short recording of the simulator (the journal the replay tests serve and load)."""
    data = tmp_path_factory.mktemp("rec")
    proc = run("record", "--sim", "--duration", "1.5", "-d", str(data / "d"), "T.AAPL", cwd=data)
    assert proc.returncode == 0, proc.stderr
    return data / "d" / "journal"


def test_stream_unknown_market_with_the_simulator(tmp_path: Path) -> None:
    proc = run("stream", "--sim", "--market", "stock", "--duration", "1", cwd=tmp_path)
    one_line(proc, 2, "--market", "unknown market 'stock'", "stocks")


def test_record_unknown_market(tmp_path: Path) -> None:
    proc = run(
        "record", "--sim", "--market", "stock", "--duration", "1", "-d", str(tmp_path / "d"), cwd=tmp_path
    )
    one_line(proc, 2, "'stock'", "stocks")


def test_polymarket_market_given_for_markets_is_not_ignored(tmp_path: Path) -> None:
    proc = run(
        "stream",
        "--provider",
        "polymarket",
        "--sim",
        "--market",
        "fed-cut-june",
        "--duration",
        "1",
        cwd=tmp_path,
    )
    one_line(proc, 2, "--markets fed-cut-june")


@pytest.mark.parametrize("command", ["sim", "replay"])
def test_a_port_in_use(command: str, tmp_path: Path, journal: Path) -> None:
    with port_taken() as port:
        args = ["sim", "--duration", "5"] if command == "sim" else ["replay", str(journal)]
        proc = run(*args, "--port", str(port), cwd=tmp_path)
    one_line(proc, 2, f"port {port}", "in use", "--port")


def test_data_dir_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    proc = run("record", "--sim", "--duration", "1", "-d", str(tmp_path / "afile"), cwd=tmp_path)
    one_line(proc, 2, "is a file", "directory")


def _postgres_db(name: str) -> str:
    base = service_url("TICKWIRE_POSTGRES_URL")
    return base.rsplit("/", 1)[0] + "/" + name


def _require_postgres() -> None:
    import psycopg

    try:
        psycopg.connect(service_url("TICKWIRE_POSTGRES_URL"), connect_timeout=3).close()
    except psycopg.Error as exc:
        unavailable("PostgreSQL", exc)


def _require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(service_url("TICKWIRE_REDIS_URL"), socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)


def _bad_param(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "bogus=1"


@pytest.mark.parametrize("into", [False, True], ids=["record", "replay-into"])
def test_sink_mistakes_are_one_line(into: bool, tmp_path: Path, journal: Path) -> None:
    """A missing database or a bad URL parameter can never work: exit 2 at once, one line."""
    _require_postgres()
    _require_redis()
    cases = [
        (_postgres_db("tickwire_no_such_db"), ("does not exist", "createdb")),
        (_bad_param(service_url("TICKWIRE_POSTGRES_URL")), ('"bogus"', "parameter")),
        (_bad_param(service_url("TICKWIRE_REDIS_URL")), ("'bogus'", "parameter")),
    ]
    for url, needles in cases:
        if into:
            proc = run("replay", str(journal), "--into", url, cwd=tmp_path)
        else:
            proc = run(
                "record", "--sim", "--duration", "30", "-d", str(tmp_path / "d"), "--sink", url, cwd=tmp_path
            )
        one_line(proc, 2, *needles)


@pytest.mark.parametrize(
    "scheme", ["postgresql://postgres@127.0.0.1:{port}/test", "redis://127.0.0.1:{port}/0"]
)
def test_replay_into_an_unreachable_sink(scheme: str, tmp_path: Path, journal: Path) -> None:
    """Nothing else to do: one line saying the server cannot be reached, exit 1 (not a retry loop)."""
    proc = run("replay", str(journal), "--into", scheme.format(port=closed_port()), cwd=tmp_path)
    one_line(proc, 1, "cannot be reached", "is the server running")


def test_record_with_an_unreachable_sink_says_so_and_records(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    proc = run(
        "record",
        "--sim",
        "--duration",
        "1",
        "--flush-timeout",
        "0.5",
        "-d",
        str(tmp_path / "d"),
        "--sink",
        url,
        cwd=tmp_path,
    )
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 3, proc.stderr  # recorded; the sink lacks the run's events
    warning = [line for line in proc.stderr.splitlines() if line.startswith("warning: sink redis")]
    assert len(warning) == 1 and "cannot be reached" in warning[0] and "catches up" in warning[0]


def test_journal_verify_of_a_directory_without_a_journal(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = run("journal", "verify", str(tmp_path / "empty"), cwd=tmp_path)
    one_line(proc, 2, "no journal segments", "tickwire-data/journal")


def test_journal_verify_of_a_data_dir_checks_the_journal_inside(tmp_path: Path, journal: Path) -> None:
    proc = run("journal", "verify", str(journal.parent), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.splitlines()[-1]
    assert last.endswith(": ok") and not last.startswith("0 segments"), proc.stdout


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["stream", "--duration", "abc", "--sim"], ("'--duration'", "tickwire stream --help")),
        (["replay", ".", "--speed", "fast"], ("speed is a number", "tickwire replay --help")),
        (["stream", "--no-such-option"], ("No such option: --no-such-option",)),
        (
            ["record", "--sim", "--status-json", "--duration", "1", "--fsync-interval", "x"],
            ("--fsync-interval",),
        ),
    ],
)
def test_bad_option_values_are_one_line(args: list[str], needles: tuple[str, ...], tmp_path: Path) -> None:
    one_line(run(*args, cwd=tmp_path), 2, *needles)


def test_version_and_short_help_everywhere(tmp_path: Path) -> None:
    from tickwire import __version__

    proc = run("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"tickwire {__version__}"
    for args in (
        ["-h"],
        ["stream", "-h"],
        ["record", "-h"],
        ["journal", "verify", "-h"],
        ["consume", "nats", "-h"],
    ):
        proc = run(*args, cwd=tmp_path)
        assert proc.returncode == 0 and "Usage:" in proc.stdout and "--help" in proc.stdout, (
            args,
            proc.stderr,
        )


def test_flags_are_not_shown_as_bool(tmp_path: Path) -> None:
    for command in ("stream", "record", "sim", "dashboard", "bars"):
        proc = run(command, "--help", cwd=tmp_path)
        assert proc.returncode == 0 and "<bool>" not in proc.stdout, command
        assert (
            "<float>" in proc.stdout or "<int>" in proc.stdout or "<text>" in proc.stdout
        )  # values keep theirs
