"""The notify protocol: addresses, watchdog interval, messages (tables), datagrams to a socket
the test binds (path and abstract), the watchdog pinging from the event loop, and the real
daemon (``python -m monitord run``) announcing READY, WATCHDOG, RELOADING/READY and STOPPING."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitord.systemd import (
    SystemdNotifier,
    notify_address,
    reloading_message,
    status_text,
    watchdog_interval,
)
from tests.service.conftest import write_config

REPO = Path(__file__).resolve().parents[2]
WAIT = 30.0
"""Seconds a test waits for one datagram from the daemon before failing (a loaded CI box)."""


@pytest.mark.parametrize(
    ("value", "address"),
    [
        (None, None),
        ("", None),
        ("/run/systemd/notify", "/run/systemd/notify"),
        ("@/org/freedesktop/systemd1/notify/123", b"\0/org/freedesktop/systemd1/notify/123"),
        ("@x", b"\0x"),
        ("vsock:2:1234", None),
        ("relative/path", None),
    ],
)
def test_notify_address_table(value: str | None, address: str | bytes | None) -> None:
    assert notify_address(value) == address


@pytest.mark.parametrize(
    ("env", "pid", "interval"),
    [
        ({}, 42, None),
        ({"WATCHDOG_USEC": "30000000"}, 42, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "42"}, 42, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "41"}, 42, None),
        ({"WATCHDOG_USEC": "0"}, 42, None),
        ({"WATCHDOG_USEC": "-5"}, 42, None),
        ({"WATCHDOG_USEC": "soon"}, 42, None),
        ({"WATCHDOG_USEC": "1"}, 42, 0.01),  # floored: never a busy loop
    ],
)
def test_watchdog_interval_table(env: dict[str, str], pid: int, interval: float | None) -> None:
    assert watchdog_interval(env, pid) == interval


def test_reloading_message_carries_monotonic_microseconds() -> None:
    assert reloading_message(123_456_789_012) == "RELOADING=1\nMONOTONIC_USEC=123456789"


@pytest.mark.parametrize(
    ("states", "depth", "text"),
    [
        ([], None, "0 sites: 0 up, 0 down"),
        (["up"], 0, "1 site: 1 up, 0 down; outbox 0"),
        (["up", "down", "up"], 4, "3 sites: 2 up, 1 down; outbox 4"),
        (["unknown", "up"], None, "2 sites: 1 up, 0 down, 1 unknown"),
    ],
)
def test_status_text_table(states: list[str], depth: int | None, text: str) -> None:
    assert status_text(states, depth) == text


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(WAIT)
    try:
        yield sock, str(path)
    finally:
        sock.close()


def test_messages_reach_a_path_socket(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    n = SystemdNotifier.from_environ({"NOTIFY_SOCKET": path})
    assert n.enabled and n.watchdog is None
    assert n.ready("3 sites: 3 up, 0 down")
    assert n.status("busy")
    assert n.stopping()
    assert sock.recv(4096) == b"READY=1\nSTATUS=3 sites: 3 up, 0 down"
    assert sock.recv(4096) == b"STATUS=busy"
    assert sock.recv(4096) == b"STOPPING=1"


def test_messages_reach_an_abstract_socket() -> None:
    name = f"monitord-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(WAIT)
        n = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "@" + name})
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert n.reloading()
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        lines = sock.recv(4096).decode().split("\n")
    assert lines[0] == "RELOADING=1"
    key, _, usec = lines[1].partition("=")
    assert key == "MONOTONIC_USEC" and before <= int(usec) <= after


def test_without_notify_socket_nothing_is_sent_and_nothing_fails(tmp_path: Path) -> None:
    n = SystemdNotifier.from_environ({"WATCHDOG_USEC": "1000000"})
    assert not n.enabled and n.watchdog is None
    assert not n.ready() and n.sent == 0
    gone = SystemdNotifier.from_environ({"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})
    assert not gone.ready()  # refused, logged once, never raised


async def test_a_blocked_event_loop_sends_no_watchdog_ping(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    sock.setblocking(False)
    n = SystemdNotifier.from_environ({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "40000"})
    assert n.watchdog == 0.02
    task = asyncio.create_task(n.watchdog_loop())
    loop = asyncio.get_running_loop()
    pinged: asyncio.Future[bytes] = loop.create_future()

    def on_readable() -> None:
        if not pinged.done():
            pinged.set_result(sock.recv(64))

    loop.add_reader(sock.fileno(), on_readable)
    try:
        assert await asyncio.wait_for(pinged, WAIT) == b"WATCHDOG=1"
        loop.remove_reader(sock.fileno())

        def drain() -> int:
            count = 0
            while True:
                try:
                    sock.recv(64)
                except BlockingIOError:
                    return count
                count += 1

        drain()
        # Block the loop for many intervals: the pinger runs on this loop, so nothing is sent.
        time.sleep(0.2)
        assert drain() == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _recv_until(
    sock: socket.socket, wanted: str, seen: list[str], proc: subprocess.Popen[bytes]
) -> None:
    """Read datagrams into ``seen`` until one starts with ``wanted``."""
    while True:
        try:
            msg = sock.recv(4096).decode()
        except TimeoutError:
            proc.kill()
            out = proc.communicate()[0].decode(errors="replace")
            raise AssertionError(
                f"no {wanted} within {WAIT}s; got {seen}; daemon output:\n{out}"
            ) from None
        seen.append(msg)
        if msg.startswith(wanted):
            return


def test_real_daemon_speaks_the_notify_protocol(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    cfg = write_config(tmp_path / "cfg")
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_PID")}
    env.update(NOTIFY_SOCKET=path, WATCHDOG_USEC="200000", PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitord", "run", "--config", str(cfg)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    seen: list[str] = []
    try:
        _recv_until(sock, "READY=1", seen, proc)
        _recv_until(sock, "WATCHDOG=1", seen, proc)
        _recv_until(sock, "WATCHDOG=1", seen, proc)  # keeps pinging
        proc.send_signal(signal.SIGHUP)
        _recv_until(sock, "RELOADING=1", seen, proc)
        reloading = seen[-1].split("\n")
        assert reloading[1].startswith("MONOTONIC_USEC=") and int(reloading[1].split("=")[1]) > 0
        _recv_until(sock, "READY=1", seen, proc)
        proc.send_signal(signal.SIGTERM)
        _recv_until(sock, "STOPPING=1", seen, proc)
        code = proc.wait(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
        out = proc.communicate()[0].decode(errors="replace")
    assert code == 0, out
    order = [
        m.split("\n")[0].split("=")[0] for m in seen if not m.startswith(("WATCHDOG", "STATUS"))
    ]
    assert order == ["READY", "RELOADING", "READY", "STOPPING"], seen
    assert any(m.startswith("STATUS=3 sites: 0 up, 0 down, 3 unknown") for m in seen), seen
    assert '"event": "reloaded"' in out
