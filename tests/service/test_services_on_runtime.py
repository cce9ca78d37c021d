"""The HTTP API and the systemd service run alone on a small runtime (tests.helpers.runtime): a
real SQLite file, a real aiohttp client on 127.0.0.1, a real datagram socket — and no Daemon.
What they show is what the runtime says (monitord.runtime), nothing else."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from monitord.api.server import ApiService, api_service
from monitord.checks import check_key
from monitord.incidents import CheckState
from monitord.systemd import SystemdNotifier, SystemdService, systemd_service
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0
from tests.helpers.runtime import FakeRuntime, as_service_runtime
from tests.service.conftest import write_config

HTTP_KEY = check_key("acme", "acme-www", "http")
BEAT_KEY = check_key("acme", "acme-cron", "heartbeat")

WAIT = 5.0
"""Seconds to wait for one datagram (it is sent before the wait starts)."""


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[FakeRuntime]:
    rt = await FakeRuntime.open(write_config(tmp_path / "cfg"), Clock(T0))
    try:
        yield rt
    finally:
        await rt.close()


@pytest.fixture
async def api(runtime: FakeRuntime) -> AsyncIterator[tuple[ApiService, str]]:
    service = api_service(as_service_runtime(runtime))
    await service.start(as_service_runtime(runtime))
    try:
        assert service.url is not None
        yield service, service.url
    finally:
        await service.stop()


async def test_api_reads_readiness_status_and_metrics_from_the_runtime(
    runtime: FakeRuntime, api: tuple[ApiService, str]
) -> None:
    _service, url = api
    runtime.states[HTTP_KEY] = CheckState(status="down", since=T0)
    runtime.probes_run = 7
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "readyz") as r:
            assert (r.status, await r.json()) == (200, {"ready": True, "problems": []})
        async with http.get(url + "api/v1/status") as r:
            status = await r.json()
        async with http.get(url + "metrics") as r:
            metrics = await r.text()
        runtime.stopping = True
        runtime.scheduler_running = False
        async with http.get(url + "readyz") as r:
            assert r.status == 503
            assert (await r.json())["problems"] == ["stopping", "scheduler not running"]

    assert status["summary"] == {"sites": 3, "up": 0, "down": 1, "unknown": 2}
    assert status["generated"] == T0.isoformat()
    assert (
        'monitord_check_up{check="http",client="acme",site="acme-www",type="http"} 0.0' in metrics
    )
    assert "monitord_probes_total 7.0" in metrics
    # /readyz proved the store takes writes by writing to it.
    assert await runtime.store.get_meta("api.readyz") == T0.isoformat()


async def test_a_heartbeat_takes_the_runtimes_incident_path(
    runtime: FakeRuntime, api: tuple[ApiService, str]
) -> None:
    _service, url = api
    await runtime.heartbeats.sync(runtime.store, runtime.checks, T0)
    token = runtime.heartbeats.records[BEAT_KEY].token
    async with aiohttp.ClientSession() as http:
        async with http.post(url + f"heartbeat/{token}") as r:
            assert (r.status, await r.json()) == (200, {"ok": True, "check": BEAT_KEY})
        async with http.post(url + "heartbeat/not-a-token") as r:
            assert r.status == 404
    ((key, result, at),) = runtime.applied
    assert (key, result.ok, result.message, at) == (BEAT_KEY, True, "heartbeat received", T0)


async def test_systemd_status_line_is_read_from_the_runtime(
    runtime: FakeRuntime, tmp_path: Path
) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(WAIT)
        runtime.supervisor = SystemdNotifier(str(path))
        runtime.states[HTTP_KEY] = CheckState(status="down", since=T0)
        runtime.states[check_key("riverside", "riverside-www", "http")] = CheckState(status="up")
        service = systemd_service(as_service_runtime(runtime))
        assert isinstance(service, SystemdService)
        await service.start(as_service_runtime(runtime))
        try:
            await service.send_status()
            assert sock.recv(4096).decode() == "STATUS=3 sites: 1 up, 1 down, 1 unknown; outbox 0"
        finally:
            await service.stop()


async def test_no_systemd_service_without_a_notify_socket(runtime: FakeRuntime) -> None:
    assert systemd_service(as_service_runtime(runtime)) is None
