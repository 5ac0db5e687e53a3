"""One recorder per data directory: an exclusive ``flock`` on ``<data_dir>/LOCK``.

The lock belongs to the open file, so the kernel releases it when the holder closes it or dies
(even ``kill -9``); nothing stale is ever left to clean up. The holder's pid is written into the
file so that the refusal can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from tickwire.errors import JournalError

__all__ = ["LOCK_FILE", "DataDirLock", "lock_data_dir"]

LOCK_FILE = "LOCK"


class DataDirLock:
    """A held data-directory lock; :meth:`release` (or leaving the ``with`` block) lets it go."""

    def __init__(self, directory: Path, fd: int) -> None:
        self.directory = directory
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def lock_data_dir(data_dir: str | os.PathLike[str]) -> DataDirLock:
    """Take the data directory's exclusive lock (creating the directory if needed).

    Raises :class:`JournalError` naming the holder's pid when another process (or another lock in
    this one) holds it."""
    directory = Path(data_dir)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise JournalError(f"cannot lock {directory}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        who = f"pid {holder}" if holder else "another process"
        raise JournalError(
            f"{directory} is in use by {who} (another recorder or repair); "
            "stop it or use another data directory"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise JournalError(f"cannot lock {directory}: {exc.strerror or exc}") from None
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return DataDirLock(directory, fd)


def _holder(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    return None
