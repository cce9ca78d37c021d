"""API connection limits over real sockets: the daemon's ApiService on 127.0.0.1 with short
timeouts, raw TCP clients that behave as idle, slowloris, slow-body and greedy clients do.

Every wait here awaits the server's close of a connection (EOF), bounded by WAIT; the elapsed
time is then compared with the timeout that should have closed it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from monitord.api.guard import REFUSED_RESPONSE, GuardSettings
from tests.helpers.clock import Clock
from tests.helpers.daemon import T0
from tests.service.conftest import running, write_config

WAIT = 20.0
SLACK = 2.0
"""Seconds a connection may outlive its timeout (timer and loop latency on a loaded box)."""


def http_config(**keys: str | int) -> str:
    body = ", ".join(f"{k}: {v}" for k, v in keys.items())
    return "{listen: '127.0.0.1:0'" + (", " + body if body else "") + "}"


async def read_to_eof(reader: asyncio.StreamReader) -> bytes:
    got = b""
    async with asyncio.timeout(WAIT):
        try:
            while chunk := await reader.read(65536):
                got += chunk
        except ConnectionResetError:
            pass
    return got


async def lifetime(reader: asyncio.StreamReader, start: float) -> tuple[float, bytes]:
    """Seconds from ``start`` until the server closed the connection, and what it sent."""
    got = await read_to_eof(reader)
    return time.monotonic() - start, got


async def test_an_idle_connection_is_closed_after_idle_timeout(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", http=http_config(idle_timeout="0.5s"))
    async with running(cfg, Clock(T0)) as (_d, api):
        assert api.bound is not None
        start = time.monotonic()
        reader, writer = await asyncio.open_connection(*api.bound)
        elapsed, got = await lifetime(reader, start)
        writer.close()
        assert got == b""
        assert 0.4 <= elapsed < 0.5 + SLACK, elapsed
        assert api.guard.counts.idle == 1


async def test_keep_alive_works_and_the_idle_clock_restarts_after_each_answer(
    tmp_path: Path,
) -> None:
    cfg = write_config(tmp_path / "cfg", http=http_config(idle_timeout="1s"))
    async with running(cfg, Clock(T0)) as (_d, api):
        assert api.bound is not None
        reader, writer = await asyncio.open_connection(*api.bound)
        opened = time.monotonic()
        for i in range(5):  # five requests on one connection, 0.3 s apart
            if i:
                await asyncio.sleep(0.3)  # the client's pace, each gap well under 1 s
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: monitord\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"ok\n"), WAIT)
            assert head.startswith(b"HTTP/1.1 200 OK")
        answered = time.monotonic()
        assert answered - opened > 1.0  # it outlived one idle_timeout: the clock restarted
        elapsed, got = await lifetime(reader, answered)
        writer.close()
        assert got == b""
        assert elapsed < 1.0 + SLACK, elapsed


async def test_slowloris_headers_are_cut_off_at_header_timeout(tmp_path: Path) -> None:
    # Idle timeout far away: only the header timeout can close this connection in time.
    cfg = write_config(
        tmp_path / "cfg", http=http_config(idle_timeout="60s", header_timeout="0.5s")
    )
    async with running(cfg, Clock(T0)) as (_d, api):
        assert api.bound is not None
        reader, writer = await asyncio.open_connection(*api.bound)
        start = time.monotonic()
        writer.write(b"GET /healthz HTTP/1.1\r\n")

        async def drip() -> None:
            while True:
                await asyncio.sleep(0.05)  # the client's pace: one header line at a time
                writer.write(b"X-Pad: 1\r\n")

        dripping = asyncio.create_task(drip())
        try:
            elapsed, got = await lifetime(reader, start)
        finally:
            dripping.cancel()
            await asyncio.gather(dripping, return_exceptions=True)
            writer.close()
        assert got == b""
        assert 0.4 <= elapsed < 0.5 + SLACK, elapsed
        assert api.guard.counts.head == 1


async def test_a_slow_body_gets_408_and_the_connection_closed(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "cfg", http=http_config(idle_timeout="60s", request_timeout="0.5s")
    )
    async with running(cfg, Clock(T0)) as (_d, api):
        assert api.bound is not None
        reader, writer = await asyncio.open_connection(*api.bound)
        start = time.monotonic()
        writer.write(
            b"POST /heartbeat/abc HTTP/1.1\r\nHost: monitord\r\nContent-Length: 1000\r\n\r\n"
            b"only part of the body"
        )
        elapsed, got = await lifetime(reader, start)
        writer.close()
        assert got.startswith(b"HTTP/1.1 408 Request Timeout"), got
        assert b"request not completed within 0.5s" in got
        assert 0.4 <= elapsed < 0.5 + SLACK, elapsed


async def test_connections_past_the_cap_get_503_at_once_and_a_slot_frees_on_close(
    tmp_path: Path,
) -> None:
    cfg = write_config(tmp_path / "cfg", http=http_config(max_connections=2, idle_timeout="60s"))
    async with running(cfg, Clock(T0)) as (_d, api):
        assert api.bound is not None and api.max_connections == 2
        held = [await asyncio.open_connection(*api.bound) for _ in range(2)]
        # Both are served: a request on each gets its answer (the server has registered them).
        for reader, writer in held:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: monitord\r\n\r\n")
            await asyncio.wait_for(reader.readuntil(b"ok\n"), WAIT)
        reader3, writer3 = await asyncio.open_connection(*api.bound)
        start = time.monotonic()
        elapsed, got = await lifetime(reader3, start)
        writer3.close()
        assert got == REFUSED_RESPONSE
        assert elapsed < 1.0, elapsed
        assert api.guard.counts.refused == 1

        held[0][1].close()
        await read_to_eof(held[0][0])
        async with asyncio.timeout(WAIT):
            while api.guard.open_connections > 1:
                await asyncio.sleep(0.01)
        reader4, writer4 = await asyncio.open_connection(*api.bound)
        writer4.write(b"GET /healthz HTTP/1.1\r\nHost: monitord\r\nConnection: close\r\n\r\n")
        answer = await read_to_eof(reader4)
        writer4.close()
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer
        for _reader, writer in held[1:]:
            writer.close()


async def test_the_cap_is_lowered_to_what_the_open_file_budget_gives_the_api(
    tmp_path: Path,
) -> None:
    cfg = write_config(tmp_path / "cfg", http=http_config(max_connections=5000))
    async with running(cfg, Clock(T0)) as (daemon, api):
        plan = daemon.fd_plan
        assert plan is not None
        assert api.max_connections == min(5000, plan.api_connections)
        assert api.guard.settings.max_connections == api.max_connections
        assert plan.api_connections < plan.limit // 4


async def test_a_reload_applies_new_limits(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "cfg", http=http_config(max_connections=3))
    async with running(cfg, Clock(T0)) as (daemon, api):
        assert api.guard.settings.max_connections == 3
        write_config(tmp_path / "cfg", http=http_config(max_connections=7, header_timeout="2s"))
        assert await daemon.reload()
        assert api.guard.settings == GuardSettings(
            max_connections=7, idle_timeout=15.0, header_timeout=2.0, request_timeout=30.0
        )
