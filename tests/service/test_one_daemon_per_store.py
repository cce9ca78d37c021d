"""One daemon per store: real ``monitord run`` processes on one configuration and SQLite file.

The second is refused with a message naming the first (pid, host, start time); a reader
(``monitord status --store``) still works beside the daemon; after ``kill -9`` of the first
the lock is gone with it (the kernel releases a flock), so a new daemon starts at once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitord.store.daemon_lock import DaemonLock, lock_path
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0
from tests.service.conftest import running, write_config

REPO = Path(__file__).resolve().parents[2]
WAIT = 30.0
"""Seconds a daemon process gets to start or stop (a loaded 2-core CI box)."""


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A systemd notify socket: READY=1 tells the test a daemon has started."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(WAIT)
    try:
        yield sock, str(path)
    finally:
        sock.close()


def monitord(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitord", *args]


def env_for(notify: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env.update(NOTIFY_SOCKET=notify, PYTHONPATH=str(REPO))
    return env


def start_daemon(cfg: Path, sock: socket.socket, notify: str, cwd: Path) -> subprocess.Popen[bytes]:
    """``monitord run`` in a process of its own, returned once it has told systemd READY=1."""
    proc = subprocess.Popen(
        monitord("run", "--config", str(cfg)),
        env=env_for(notify),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
    )
    try:
        while not sock.recv(4096).decode().startswith("READY=1"):
            pass
    except TimeoutError:
        proc.kill()
        out = proc.communicate()[0].decode(errors="replace")
        raise AssertionError(f"the daemon did not start within {WAIT}s:\n{out}") from None
    return proc


def test_a_second_daemon_on_one_store_is_refused_naming_the_first(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, notify = notify_socket
    cfg = write_config(tmp_path / "cfg", http="{listen: off}")
    first = start_daemon(cfg, sock, notify, tmp_path)
    second: subprocess.Popen[bytes] | None = None
    try:
        refused = subprocess.run(
            monitord("run", "--config", str(cfg)),
            env=env_for(notify),
            capture_output=True,
            cwd=tmp_path,
            timeout=WAIT,
            check=False,
        )
        assert refused.returncode == 1, refused
        err = refused.stderr.decode()
        assert err.startswith(
            "monitord: error: another monitord is already running on the store "
        ), err
        assert f"pid {first.pid} on host {socket.gethostname()!r}, started 20" in err
        assert "Stop that one first" in err

        # A reader does not take the lock: it works beside the running daemon.
        status = subprocess.run(
            monitord("status", "--config", str(cfg), "--store"),
            env=env_for(notify),
            capture_output=True,
            cwd=tmp_path,
            timeout=WAIT,
            check=False,
        )
        assert status.returncode == 0, status
        assert b"acme" in status.stdout

        # kill -9 leaves no stale lock: the kernel released it with the process.
        first.kill()
        first.wait(timeout=WAIT)
        second = start_daemon(cfg, sock, notify, tmp_path)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=WAIT) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
            if proc is not None:
                proc.communicate()


async def test_two_daemon_objects_on_one_store_the_second_is_refused_until_the_first_stops(
    tmp_path: Path,
) -> None:
    from monitord.daemon import Daemon
    from monitord.errors import StoreError

    cfg = write_config(tmp_path / "cfg", http="{listen: off}")
    async with running(cfg, Clock(T0)) as (first, _api):
        assert first.config is not None
        second = Daemon(cfg, clock=Clock(T0), schedule=False, services=[])
        with pytest.raises(StoreError, match=f"pid {os.getpid()} on host"):
            await second.start()
        assert second.store is None  # refused before it opened anything
    # Stopped: the lock is released, another daemon may start.
    third = Daemon(cfg, clock=Clock(T0), schedule=False, services=[])
    await third.start()
    await third.stop()
    assert lock_path(first.config.state_path()).exists()  # kept; only the flock matters


def test_a_lock_file_left_by_a_dead_daemon_does_not_block(tmp_path: Path) -> None:
    store = tmp_path / "state.sqlite3"
    lock_path(store).write_text('{"pid": 999999, "host": "gone", "started": "x", "config": "y"}')
    lock = DaemonLock(store)
    lock.acquire(started=T0, config=tmp_path)
    try:
        assert f'"pid": {os.getpid()}' in lock_path(store).read_text()
    finally:
        lock.release()
