"""``tickwire`` as a subprocess: the recorder the chaos tests kill, and the other commands they run.

:class:`RecordRun` starts ``python -m tickwire record --live --url <simulator> ...`` with
``--status-json`` (one status object per second on stdout, the final one last), keeps reading its
output on threads (so a full pipe never blocks it), and can be waited on, SIGKILLed or SIGTERMed.
:func:`tickwire` runs any other command to completion.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["API_KEY", "Done", "RecordRun", "env", "tickwire"]

ROOT = Path(__file__).resolve().parents[3]
API_KEY = "chaos-key-never-shown-5f1c"
"""The key the recorder authenticates with (the simulator takes any key); never in any output."""


def env(**extra: str) -> dict[str, str]:
    """The subprocess environment: this checkout's sources, the key, no colour, no .env."""
    out = dict(os.environ)
    out.update(
        PYTHONPATH=str(ROOT / "src") + os.pathsep + out.get("PYTHONPATH", ""),
        MASSIVE_API_KEY=API_KEY,
        NO_COLOR="1",
        TERM="dumb",
        COLUMNS="200",
        PYTHONUNBUFFERED="1",
    )
    out.update(extra)
    return out


@dataclass
class Done:
    """A finished command: exit code, output, wall time."""

    args: list[str]
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:
        tail = "\n".join(self.stderr.strip().splitlines()[-12:])
        return (
            f"`tickwire {self.args[0]}` exited {self.code} after {self.seconds:.1f} s; stderr ends:\n{tail}"
        )


def tickwire(*args: str | Path, timeout: float = 60.0, cwd: Path | None = None) -> Done:
    """Run ``python -m tickwire ARGS`` to completion."""
    argv = [str(a) for a in args]
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tickwire", *argv],
        capture_output=True,
        text=True,
        errors="replace",
        env=env(),
        timeout=timeout,
        cwd=cwd or ROOT,
        check=False,
    )
    return Done(argv, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - t0)


def tickwire_peak(*args: str | Path, timeout: float = 60.0) -> tuple[Done, int]:
    """:func:`tickwire`, and the peak RSS (bytes) of that one process, from ``wait4`` (the rusage of
    ``RUSAGE_CHILDREN`` is the largest of every child this worker ever waited for: a browser or a
    recorder of an earlier test)."""
    import os
    import tempfile
    import threading

    argv = [str(a) for a in args]
    t0 = time.monotonic()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tickwire", *argv], stdout=out, stderr=err, env=env(), cwd=ROOT
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = Done(argv, proc.returncode, out.read(), err.read(), time.monotonic() - t0)
    return done, usage.ru_maxrss << 10


class RecordRun:
    """One ``tickwire record`` process against a simulator (see the module doc)."""

    def __init__(
        self,
        data: Path,
        url: str,
        sinks: Sequence[str] = (),
        *,
        duration: float | None = None,
        flush_timeout: float = 5.0,
        channels: Sequence[str] = ("T.*", "Q.*", "AM.*"),
        extra: Sequence[str] = (),
    ) -> None:
        self.args = [
            "record",
            *channels,
            "--live",
            "--url",
            url,
            "-d",
            str(data),
            *sinks,
            "--flush-timeout",
            str(flush_timeout),
            "--fsync-interval",
            "0.5",
            "--status-json",
            *extra,
        ]
        if duration is not None:
            self.args += ["--duration", str(duration)]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tickwire", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env(),
            cwd=ROOT,
        )
        self.statuses: list[dict[str, Any]] = []
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self._stdout, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self._stderr, False), daemon=True),
        ]
        for t in self._readers:
            t.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self, stream: Any, into: list[str], statuses: bool) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self._changed:
                into.append(line)
                if statuses and line.startswith("{"):
                    try:
                        self.statuses.append(json.loads(line))
                    except ValueError:
                        pass
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_status(
        self, ready: Callable[[dict[str, Any]], bool], within: float, what: str
    ) -> dict[str, Any]:
        """The first status line (JSON) for which ``ready`` holds; fails after ``within`` s."""
        give_up = time.monotonic() + within
        seen = 0
        with self._changed:
            while True:
                for s in self.statuses[seen:]:
                    if ready(s):
                        return s
                seen = len(self.statuses)
                left = give_up - time.monotonic()
                if left <= 0 or (
                    self.proc.poll() is not None and not any(t.is_alive() for t in self._readers)
                ):
                    last = self.statuses[-1] if self.statuses else None
                    raise AssertionError(
                        f"recorder: no status with {what} within {within} s "
                        f"(exit {self.proc.poll()}); last status {last}; stderr {''.join(self._stderr)[-1500:]}"
                    )
                self._changed.wait(min(left, 0.2))

    def kill(self) -> Done:
        """SIGKILL (nothing runs after it: no flush, no close)."""
        self.proc.send_signal(signal.SIGKILL)
        return self.wait(10)

    def terminate(self, within: float = 30.0) -> Done:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(within)

    def wait(self, within: float = 60.0) -> Done:
        try:
            self.proc.wait(within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            for t in self._readers:
                t.join(5)
            raise AssertionError(
                f"recorder did not exit within {within} s (killed); stderr: {''.join(self._stderr)[-2000:]}"
            ) from None
        for t in self._readers:
            t.join(10)
        return Done(
            self.args,
            self.proc.returncode,
            "".join(self._stdout),
            "".join(self._stderr),
            time.monotonic() - self.started,
        )

    @property
    def final(self) -> dict[str, Any] | None:
        """The last status printed (after exit: the final one, with ``outcomes``)."""
        return self.statuses[-1] if self.statuses else None
