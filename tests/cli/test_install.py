"""Every install line the README shows, in a fresh venv, runs exactly the commands it promises.

The install lines and commands are read out of README.md (the Quick start and the "Install: which
extra each command needs" table), so the README and this test cannot drift apart. Each venv is made
with ``python3 -m venv`` and the line run verbatim from the checkout (the machine's package index);
a venv is kept in ``~/.cache/tickwire-tests/venvs`` under a hash of the line, pyproject.toml and the
checkout's path, so only a changed dependency list pays for a new install. Commands that would run
until Ctrl-C get a short ``--duration``; a ``--duration`` given is shortened; ``--port N`` becomes 0.

The core venv also checks that each command of an extra row fails, without it, with one line
naming the extra to install (exit 2).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.cli.test_errors import _KEYS

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CACHE = Path(os.environ.get("TICKWIRE_VENV_CACHE", Path.home() / ".cache" / "tickwire-tests" / "venvs"))
SHORT = "1"
TEST_LINE = (
    "python3 -m pip install -q -e '.[test]' && python3 -m pytest -n auto"  # the suite: not re-run here
)


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start : end if end > 0 else None]


def _commands(text: str) -> list[str]:
    """The ``tickwire ...`` commands in backticks in ``text``, in order."""
    return [c for c in re.findall(r"`(tickwire [^`]+)`", text) if not c.startswith("tickwire[")]


def table_rows() -> list[tuple[str, list[str]]]:
    """(install line, commands) of each row of the extras table."""
    rows = []
    for line in _section("### Install: which extra each command needs").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`python3 -m pip install"):
            rows.append((cells[0].strip("`"), _commands(cells[1])))
    return rows


def quick_start() -> tuple[str, list[str], list[str]]:
    """The Quick start's install line, the commands it promises, and those that need a real key."""
    text = _section("## Quick start")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    first = blocks[0].strip()
    install, _, command = first.partition(" && ")
    commands = [command, *_commands(text.split("```bash")[0])]  # + the prose's `tickwire query ...`
    keyed = []
    for block in blocks[1:]:
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("tickwire "):
                (commands if line.startswith("tickwire sim") else keyed).append(line)
            elif line and line != TEST_LINE:
                pytest.fail(f"a Quick start line this test does not know: {line}")
    return install, commands, keyed


def shorten(command: str) -> list[str]:
    """``command`` as argv, made short: ``--duration`` small, ``--port 0``, servers given a duration."""
    argv = shlex.split(command)
    for i, arg in enumerate(argv[:-1]):
        if arg == "--duration":
            argv[i + 1] = SHORT
        elif arg == "--port":
            argv[i + 1] = "0"
    serves = argv[1] in ("sim", "dashboard") or (argv[1] == "replay" and "--into" not in argv)
    if serves and "--duration" not in argv:
        argv += ["--duration", SHORT]
    if argv[1] == "dashboard" and "--port" not in argv:
        argv += ["--port", "0"]
    return argv


def venv_for(install: str) -> Path:
    """A venv where ``install`` was run verbatim from the checkout (cached; see the module doc)."""
    key = hashlib.sha256(
        "\0".join([install, (ROOT / "pyproject.toml").read_text(), str(ROOT), sys.version]).encode()
    ).hexdigest()[:16]
    venv = CACHE / key
    if (venv / ".complete").exists():
        return venv
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{key}.lock", "w") as lock:  # two tests (workers) may need the same line
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            _build(venv, install)
    return venv


def _build(venv: Path, install: str) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"{venv.name}-", dir=CACHE))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(work)], check=True, timeout=120)
        # The venv is built in a temporary directory and renamed: scripts hard-code their path, so
        # pip runs with the final path's interpreter only after the rename.
        if venv.exists():
            shutil.rmtree(venv)
        work.rename(venv)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    proc = subprocess.run(
        ["bash", "-c", install], cwd=ROOT, env=_env(venv), capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, f"{install}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    (venv / ".complete").write_text(install)


def _env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (*_KEYS, "PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["COLUMNS"] = "120"
    return env


def run_in(venv: Path, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / argv[0]), *argv[1:]],
        cwd=cwd,
        env=_env(venv),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def check(venv: Path, commands: list[str], cwd: Path) -> None:
    for command in commands:
        proc = run_in(venv, shorten(command), cwd)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0 and "Traceback" not in out, (
            f"{command}: exit {proc.returncode}\n{out[-4000:]}"
        )


def test_the_readme_shows_what_this_test_runs() -> None:
    rows = table_rows()
    assert {line for line, _ in rows} >= {
        "python3 -m pip install -e .",
        "python3 -m pip install -e '.[storage]'",
        "python3 -m pip install -e '.[all]'",
    }
    assert all(commands for line, commands in rows if not line.endswith("'.[all]'")), rows
    install, commands, keyed = quick_start()
    assert install.startswith("python3 -m pip install") and commands[0].startswith("tickwire record")
    assert any(c.startswith("tickwire query") for c in commands) and keyed
    assert shorten("tickwire record --duration 30") == ["tickwire", "record", "--duration", SHORT]
    assert shorten("tickwire sim --port 8765") == ["tickwire", "sim", "--port", "0", "--duration", SHORT]


def test_quick_start(tmp_path: Path) -> None:
    """The first Quick start line installs enough for every command of the Quick start; those that
    need a real key say so in one line (exit 2) instead of failing otherwise."""
    install, commands, keyed = quick_start()
    venv = venv_for(install)
    check(venv, commands, tmp_path)
    for command in keyed:
        proc = run_in(venv, shorten(command), tmp_path)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and "--api-key" in lines[0], (command, proc.stderr)
        assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(("install", "commands"), table_rows(), ids=[line for line, _ in table_rows()])
def test_install_line_runs_its_commands(install: str, commands: list[str], tmp_path: Path) -> None:
    venv = venv_for(install)
    if install.endswith("'.[all]'"):  # the first command of every row (each row's own test runs the rest)
        commands = [row[0] for _, row in table_rows() if row]
    check(venv, commands, tmp_path)
    if install == "python3 -m pip install -e .":
        core = set(commands)
        for line, row in table_rows():
            extra = re.search(r"\[(\w+)\]", line)
            for command in (c for c in row if c not in core and extra is not None):
                proc = run_in(venv, shorten(command), tmp_path)
                lines = [x for x in proc.stderr.splitlines() if x.startswith("error: ")]
                said = re.search(r"pip install 'tickwire\[(\w+)\]'", lines[0]) if len(lines) == 1 else None
                assert proc.returncode == 2 and said is not None, (command, proc.stderr[-2000:])
                assert "Traceback" not in proc.stdout + proc.stderr, command


def test_the_extras_table_of_the_cli_mirrors_pyproject() -> None:
    """``tickwire.cli.extras.EXTRAS`` (what ``require`` checks) names the modules of each extra."""
    import tomllib

    from tickwire.cli.extras import EXTRAS

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    module_of = {"psycopg[binary]": "psycopg", "nats-py": "nats"}

    def modules(extra: str) -> set[str]:
        found: set[str] = set()
        for req in declared[extra]:
            name = re.split(r"[<>=!~ ;]", req, maxsplit=1)[0]
            if name.startswith("tickwire["):
                for inner in name[len("tickwire[") : -1].split(","):
                    found |= modules(inner)
            else:
                found.add(module_of.get(name, name))
        return found

    for extra, mods in EXTRAS.items():
        assert set(mods) == modules(extra), extra
    assert modules("all") == {m for mods in EXTRAS.values() for m in mods}
