"""One daemon per store: an exclusive ``flock`` on a file beside the database, held for the
daemon's life.

Two daemons on one store would each probe, each raise the same DOWN and each send it (4 mails
and 2 tickets for one DOWN and UP). The lock is taken by ``monitord run`` only; readers
(``monitord status``, ``tickets list``…) never take it and keep working while a daemon runs.
The kernel releases a ``flock`` when its holder dies, even by ``kill -9``, so there is never a
stale lock to clean up; the file's text (pid, host, start time, configuration) only names the
holder for the error message of the daemon that was refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from datetime import datetime
from pathlib import Path

from monitord.errors import StoreError

LOCK_SUFFIX = ".lock"

HOLDER_TEXT_MAX = 4096
"""Bytes of the lock file read to name its holder: a few fields of JSON, bounded."""


def lock_path(store: Path) -> Path:
    """``monitord.sqlite3`` -> ``monitord.sqlite3.lock``, in the same directory."""
    return store.with_name(store.name + LOCK_SUFFIX)


def _describe(text: str) -> str:
    try:
        d = json.loads(text)
        return (
            f"pid {int(d['pid'])} on host {str(d['host'])!r}, started {d['started']!s}, "
            f"configuration {d['config']!s}"
        )
    except (ValueError, KeyError, TypeError):
        return "a process that has not written its name yet (it is starting)"


class DaemonLock:
    """The exclusive right to run a daemon on the store at ``store``."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.path = lock_path(store)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, *, started: datetime, config: Path) -> None:
        """Take the lock, or raise StoreError naming the daemon that holds it."""
        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(
                f"cannot create the daemon lock {self.path}: {exc.strerror}; make its "
                "directory (the state directory) writable, or set state.path to a writable place"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, HOLDER_TEXT_MAX, 0).decode("utf-8", "replace")
            os.close(fd)
            raise StoreError(
                f"another monitord is already running on the store {self.store}: "
                f"{_describe(holder)}. Only one daemon may use a store (two would send "
                "every notice twice). Stop that one first (systemctl stop monitord, or kill "
                "its pid), or give this one its own state.path."
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StoreError(
                f"cannot lock {self.path}: {exc.strerror}; put the state directory on a local "
                "file system"
            ) from exc
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": started.isoformat(),
            "config": str(config),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
